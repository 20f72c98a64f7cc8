//! Which key sources a link must use ([`Mode`]) and which it did use
//! ([`KeySource`]).
//!
//! The modes are Arnika's (the QKD/PQC key-rotation daemon for WireGuard
//! that operators already run), named in kebab case; Arnika's own `MODE`
//! values (`QkdAndPqcRequired`, `AtLeastQkdRequired`, `AtLeastPqcRequired`,
//! `EitherQkdOrPqcRequired`) are accepted too, so a configuration can be
//! carried over unchanged. The policy fails closed: a mode
//! whose required source is missing is an error, never a key from fewer
//! sources than the operator asked for.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{CombineError, ParseModeError};

/// Which sources a link key must be derived from. The default is the
/// strictest, `qkd-and-pqc` (as in Arnika).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// `qkd-and-pqc`: both a QKD key and an ML-KEM shared secret are required.
    #[default]
    #[serde(alias = "QkdAndPqcRequired")]
    QkdAndPqc,
    /// `at-least-qkd`: a QKD key is required; an ML-KEM secret is mixed in if present.
    #[serde(alias = "AtLeastQkdRequired")]
    AtLeastQkd,
    /// `at-least-pqc`: an ML-KEM secret is required; a QKD key is mixed in if present.
    #[serde(alias = "AtLeastPqcRequired")]
    AtLeastPqc,
    /// `either`: whatever is present, at least one of the two.
    #[serde(alias = "EitherQkdOrPqcRequired")]
    Either,
}

impl Mode {
    /// Every mode, strongest requirement first.
    pub const ALL: [Mode; 4] = [Mode::QkdAndPqc, Mode::AtLeastQkd, Mode::AtLeastPqc, Mode::Either];

    /// The kebab-case name (`qkd-and-pqc`, `at-least-qkd`, `at-least-pqc`, `either`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Mode::QkdAndPqc => "qkd-and-pqc",
            Mode::AtLeastQkd => "at-least-qkd",
            Mode::AtLeastPqc => "at-least-pqc",
            Mode::Either => "either",
        }
    }

    /// Arnika's `MODE` value for this mode.
    pub const fn arnika_name(self) -> &'static str {
        match self {
            Mode::QkdAndPqc => "QkdAndPqcRequired",
            Mode::AtLeastQkd => "AtLeastQkdRequired",
            Mode::AtLeastPqc => "AtLeastPqcRequired",
            Mode::Either => "EitherQkdOrPqcRequired",
        }
    }

    /// Whether a derivation in this mode fails without a QKD key.
    pub const fn requires_qkd(self) -> bool {
        matches!(self, Mode::QkdAndPqc | Mode::AtLeastQkd)
    }

    /// Whether a derivation in this mode fails without an ML-KEM secret.
    pub const fn requires_pqc(self) -> bool {
        matches!(self, Mode::QkdAndPqc | Mode::AtLeastPqc)
    }

    /// The sources a derivation uses, given which are present: every
    /// present source is used; a missing required one is an error.
    pub fn select(self, qkd_present: bool, pqc_present: bool) -> Result<KeySource, CombineError> {
        if self.requires_qkd() && !qkd_present {
            return Err(CombineError::QkdRequired { mode: self });
        }
        if self.requires_pqc() && !pqc_present {
            return Err(CombineError::PqcRequired { mode: self });
        }
        match (qkd_present, pqc_present) {
            (true, true) => Ok(KeySource::Hybrid),
            (true, false) => Ok(KeySource::Qkd),
            (false, true) => Ok(KeySource::Pqc),
            (false, false) => Err(CombineError::NoSource { mode: self }),
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Mode {
    type Err = ParseModeError;

    /// The kebab-case name, or Arnika's `MODE` value.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Mode::ALL
            .into_iter()
            .find(|m| m.as_str() == s || m.arnika_name() == s)
            .ok_or_else(|| ParseModeError { given: s.to_owned() })
    }
}

/// Which sources a link key was actually derived from. Bound into the
/// derivation, so both ends must agree on it (a disagreement gives
/// different keys, and the first ESP packet fails its ICV check).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeySource {
    /// A QKD key alone.
    Qkd,
    /// An ML-KEM shared secret alone.
    Pqc,
    /// Both.
    Hybrid,
}

impl KeySource {
    /// The name bound into the derivation: `qkd`, `pqc` or `hybrid`.
    pub const fn as_str(self) -> &'static str {
        match self {
            KeySource::Qkd => "qkd",
            KeySource::Pqc => "pqc",
            KeySource::Hybrid => "hybrid",
        }
    }

    /// Whether a QKD key went into the key.
    pub const fn uses_qkd(self) -> bool {
        matches!(self, KeySource::Qkd | KeySource::Hybrid)
    }

    /// Whether an ML-KEM secret went into the key.
    pub const fn uses_pqc(self) -> bool {
        matches!(self, KeySource::Pqc | KeySource::Hybrid)
    }
}

impl fmt::Display for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
