//! Operator tools for qsafe-ran. The binaries in `src/bin` are thin; the
//! reusable parts live here so they are tested like any library code.

pub mod e2ap_demo;
