//! # qsafe-config — what the binaries' configuration has in common
//!
//! Every qsafe-ran binary (`qsafe-xapp`, `qsafe-e2node`, `qsafe-kme`, …)
//! merges settings the same way — command-line flag > `QSAFE_<BINARY>_*`
//! environment variable (both through clap) > TOML file > built-in default —
//! and reports a bad setting the same way: one [`ConfigError`] naming the
//! file or the setting, and exit status 2. This crate holds the shared part
//! so the operators see one behaviour: unknown keys in a file are errors
//! (callers use `#[serde(deny_unknown_fields)]`), a file that does not parse
//! names its line and column, durations are positive and finite. The
//! binaries also stop the same way ([`shutdown::StopSignals`]).

pub mod shutdown;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::DeserializeOwned;

/// Why the settings are unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The config file is not valid TOML, or has unknown keys / wrong types.
    #[error("config file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message (with line and column).
        message: String,
    },
    /// A setting is out of range or inconsistent.
    #[error("invalid {what}: {why}")]
    Invalid {
        /// Which setting (as the flag names it, e.g. `--plmn`).
        what: &'static str,
        /// Why.
        why: String,
    },
}

/// A [`ConfigError::Invalid`].
pub fn invalid(what: &'static str, why: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { what, why: why.into() }
}

/// Reads and parses a TOML config file.
pub fn read_toml<T: DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse { path: path.into(), message: e.to_string().trim().into() })
}

/// A positive, finite number of seconds (below ~31 years) as a duration.
pub fn seconds(what: &'static str, v: f64) -> Result<Duration, ConfigError> {
    if v.is_finite() && v > 0.0 && v < 1e9 {
        Ok(Duration::from_secs_f64(v))
    } else {
        Err(invalid(what, format!("{v}: expected a positive number of seconds")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        #[allow(dead_code)]
        port: Option<u16>,
    }

    #[test]
    fn errors_name_the_file_and_the_line() {
        let dir = std::env::temp_dir().join(format!("qsafe-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("x.toml");
        std::fs::write(&path, "port = 1\nprot = 2\n").expect("write");
        let err = read_toml::<File>(&path).expect_err("unknown key");
        let msg = err.to_string();
        assert!(msg.contains("x.toml") && msg.contains("prot") && msg.contains("line 2"), "{msg}");
        let missing = read_toml::<File>(&dir.join("none.toml")).expect_err("missing");
        assert!(matches!(missing, ConfigError::Read { .. }), "{missing}");
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn seconds_are_positive_and_finite() {
        assert_eq!(seconds("--t", 1.5).expect("ok"), Duration::from_millis(1500));
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e12] {
            assert!(matches!(seconds("--t", bad), Err(ConfigError::Invalid { what: "--t", .. })), "{bad}");
        }
    }
}
