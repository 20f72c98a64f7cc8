//! Quantum-readiness scanner (issue 8). Skeleton.
