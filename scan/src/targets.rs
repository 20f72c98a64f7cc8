//! Target lists: `host:port`, `[v6]:port`, `ip:port`, separated by commas, spaces or newlines;
//! `#` starts a comment that runs to the end of the line.
//!
//! A bare `host` (no port) is refused unless a default port is given
//! ([`parse_targets_with_default_port`]): silently scanning 443 when the operator meant the
//! E2/O1 port would produce a clean-looking but meaningless report. Duplicates (same host and
//! port) are dropped, first occurrence kept, so the order of the input is the order of the report.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv6Addr};

use crate::model::Target;

/// A target list that could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: `{token}`: {reason}")]
pub struct TargetError {
    /// 1-based line number.
    pub line: usize,
    /// The offending token.
    pub token: String,
    /// What is wrong.
    pub reason: String,
}

/// Parses a target list; every target needs a port.
pub fn parse_targets(text: &str) -> Result<Vec<Target>, TargetError> {
    parse_targets_with_default_port(text, None)
}

/// Parses a target list; targets without a port get `default_port` (refused when `None`).
pub fn parse_targets_with_default_port(text: &str, default_port: Option<u16>) -> Result<Vec<Target>, TargetError> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for (i, raw_line) in text.lines().enumerate() {
        let line = raw_line.split('#').next().unwrap_or("");
        for token in line.split(|c: char| c == ',' || c.is_whitespace()).filter(|t| !t.is_empty()) {
            let target = parse_one(token, default_port).map_err(|reason| TargetError {
                line: i + 1,
                token: token.to_owned(),
                reason,
            })?;
            if seen.insert((target.host.clone(), target.port)) {
                out.push(target);
            }
        }
    }
    Ok(out)
}

/// Parses one `host:port` / `[v6]:port` / `host` token.
pub fn parse_one(token: &str, default_port: Option<u16>) -> Result<Target, String> {
    let (host, port) = if let Some(rest) = token.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return Err("unclosed `[` (IPv6 literals are written [addr]:port)".into());
        };
        if v6.parse::<Ipv6Addr>().is_err() {
            return Err(format!("`{v6}` is not an IPv6 address"));
        }
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or_else(|| format!("unexpected `{p}` after `]`"))?),
        };
        (v6.to_owned(), port)
    } else if token.matches(':').count() > 1 {
        return Err("IPv6 literals need brackets: [addr]:port".into());
    } else {
        match token.split_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p)),
            None => (token.to_owned(), None),
        }
    };
    let port = match port {
        Some(p) => parse_port(p)?,
        None => default_port.ok_or("missing port (write host:port, or give a default port)")?,
    };
    if host.is_empty() {
        return Err("empty host".into());
    }
    let is_ip = host.parse::<IpAddr>().is_ok();
    if !is_ip {
        let valid = host.len() <= 253
            && host.split('.').all(|l| {
                !l.is_empty() && l.len() <= 63 && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            });
        if !valid {
            return Err(format!("`{host}` is not a host name or IP address"));
        }
    }
    let server_name = if is_ip { None } else { Some(host.to_ascii_lowercase()) };
    Ok(Target { host, port, server_name })
}

fn parse_port(p: &str) -> Result<u16, String> {
    match p.parse::<u16>() {
        Ok(0) => Err("port 0 is not a valid destination".into()),
        Ok(port) => Ok(port),
        Err(_) => Err(format!("`{p}` is not a port (1-65535)")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn forms_comments_and_dedupe() {
        let text = "# inventory\nric.example:443, 10.0.0.1:36421  [::1]:8443\n\n  ric.example:443 # again\nsmo:9000";
        let t = parse_targets(text).unwrap();
        let keys: Vec<String> = t.iter().map(Target::key).collect();
        assert_eq!(keys, ["ric.example:443", "10.0.0.1:36421", "[::1]:8443", "smo:9000"]);
        assert_eq!(t[0].server_name.as_deref(), Some("ric.example"));
        assert_eq!(t[1].server_name, None);
        assert_eq!(t[2].host, "::1");
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse_targets("a:1\n\nhost-without-port\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.to_string().starts_with("line 3: `host-without-port`: missing port"), "{e}");
        for bad in ["a:0", "a:65536", "a:x", "::1:443", "[::1", "[zz]:1", "[::1]x", "bad_host!:1", ":443", "a..b:1"] {
            assert!(parse_targets(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn default_port() {
        let t = parse_targets_with_default_port("h [::1] h:1", Some(443)).unwrap();
        let keys: Vec<String> = t.iter().map(Target::key).collect();
        assert_eq!(keys, ["h:443", "[::1]:443", "h:1"]);
    }
}
