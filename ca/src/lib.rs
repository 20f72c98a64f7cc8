//! The rApp's PQC certificate authority (issue 8).
//!
//! The rApp rolls quantum-safe certificates out to O1/O2 endpoints and E2 nodes; this crate is
//! the CA behind `qsafe-rapp ca ...`. It holds an ML-DSA hierarchy (ML-DSA-87 or -65 root,
//! ML-DSA-65 issuing intermediate, RFC 9881 encodings through [`qsafe_pqc::pki`]) in a directory
//! ([`store`]) with keys encrypted at rest ([`secret`]), signs PKCS#10 CSRs after verifying their
//! proof of possession ([`csr`]) under named profiles ([`profile`]), revokes, publishes CRLs, and
//! rolls the root over with a cross certificate so relying parties can trust the new root first.
//!
//! Everything here is synchronous and file-based: the CA is an offline/operator tool, and keeping
//! it sans-async makes every operation a plain function that tests call directly.

pub mod csr;
pub mod profile;
pub mod secret;
pub mod store;

pub use csr::{CsrError, MAX_CSR_LEN, VerifiedCsr};
pub use profile::{KeyAlgorithm, Profile, Sans};
pub use secret::{PASSPHRASE_ENV, Passphrase, SecretError};
pub use store::{CaError, CaStore, HierarchyOptions, IssueRequest, RevocationReason, RootAlgorithm};
