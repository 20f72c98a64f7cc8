//! Test harnesses that span crates or talk to independent implementations.
//!
//! * `e2ap-xcheck` (binary): a JSON-lines bridge that lets
//!   `tests/conformance/pycrate_xcheck.py` drive our E2AP/KPM codec against
//!   pycrate, an independent APER implementation.
