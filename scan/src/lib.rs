//! Quantum-readiness scanner (issue 8).

pub mod model;
