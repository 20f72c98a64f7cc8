//! Who is calling: the SAE ID from the client certificate, the KME ID from the
//! server certificate.
//!
//! ETSI GS QKD 014 §4 has no SAE header or token: the KME identifies the
//! calling SAE from its TLS client certificate, and the SAE checks the KME's
//! identity from the server certificate. How an ID is written into a
//! certificate is left to the deployment, so the source is configurable:
//!
//! * [`SaeIdSource::CommonName`] (default): the subject CN, the common
//!   practice of deployed KMEs;
//! * [`SaeIdSource::SanDns`]: the single `dNSName` subject alternative name;
//! * [`SaeIdSource::SanUri`]: the single `uniformResourceIdentifier` SAN,
//!   optionally under a required prefix that is stripped (e.g. a SPIFFE-style
//!   `spiffe://ran.example/sae/` so `spiffe://ran.example/sae/ric-xapp` is the
//!   SAE `ric-xapp`).
//!
//! A certificate that yields zero or several candidates is refused rather
//! than guessed at: with two DNS names, picking "the first" would let the
//! order of extensions decide who a caller is. The extracted ID must also be
//! usable as the `{SAE_ID}` path segment of the API (see [`validate_id`]),
//! otherwise no peer could ever address it.
//!
//! The chain itself is verified by rustls before any of this runs; this
//! module only reads names from an already trusted certificate.

use std::fmt;

use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

/// Longest SAE or KME ID accepted (bytes).
pub const MAX_ID_LEN: usize = 256;

/// Where the SAE ID is read from in a client certificate.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SaeIdSource {
    /// The subject common name (the only CN; several CNs are refused).
    #[default]
    CommonName,
    /// The single DNS subject alternative name.
    SanDns,
    /// The single URI subject alternative name that starts with `prefix`
    /// (empty: any URI), with the prefix removed.
    SanUri {
        /// Required prefix, stripped from the ID.
        prefix: String,
    },
}

impl fmt::Display for SaeIdSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CommonName => f.write_str("subject CN"),
            Self::SanDns => f.write_str("DNS subject alternative name"),
            Self::SanUri { prefix } if prefix.is_empty() => f.write_str("URI subject alternative name"),
            Self::SanUri { prefix } => write!(f, "URI subject alternative name under {prefix:?}"),
        }
    }
}

/// Why no ID could be read from a certificate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// The DER does not parse as an X.509 certificate.
    #[error("certificate does not parse: {0}")]
    Malformed(String),
    /// The configured source is absent.
    #[error("certificate has no {0}")]
    Missing(String),
    /// The configured source occurs more than once.
    #[error("certificate has {count} values for the {source_name}; the ID would be ambiguous")]
    Ambiguous {
        /// Which source.
        source_name: String,
        /// How many values.
        count: usize,
    },
    /// The value is not usable as an ID.
    #[error("{0}")]
    Invalid(String),
}

/// Checks that `id` can be an SAE or KME ID: 1..=[`MAX_ID_LEN`] bytes of
/// printable ASCII without `/`, `?`, `#`, `%` or spaces, so it is a path
/// segment as it stands and shows up unchanged in logs and status bodies.
pub fn validate_id(id: &str) -> Result<(), IdentityError> {
    if id.is_empty() || id.len() > MAX_ID_LEN {
        return Err(IdentityError::Invalid(format!("ID must be 1..={MAX_ID_LEN} bytes, got {}", id.len())));
    }
    if let Some(c) = id.chars().find(|c| !c.is_ascii_graphic() || matches!(c, '/' | '?' | '#' | '%')) {
        return Err(IdentityError::Invalid(format!(
            "ID {:?} contains {c:?}; allowed: printable ASCII except space / ? # %",
            id.escape_debug().to_string()
        )));
    }
    Ok(())
}

fn parse(der: &[u8]) -> Result<X509Certificate<'_>, IdentityError> {
    match X509Certificate::from_der(der) {
        Ok(([], cert)) => Ok(cert),
        Ok(_) => Err(IdentityError::Malformed("trailing bytes after the certificate".into())),
        Err(e) => Err(IdentityError::Malformed(e.to_string())),
    }
}

fn exactly_one(values: Vec<String>, source_name: &str) -> Result<String, IdentityError> {
    match values.len() {
        0 => Err(IdentityError::Missing(source_name.into())),
        1 => values.into_iter().next().ok_or_else(|| IdentityError::Missing(source_name.into())),
        count => Err(IdentityError::Ambiguous { source_name: source_name.into(), count }),
    }
}

/// The subject common name of a DER certificate (exactly one CN, UTF-8).
pub fn common_name(der: &[u8]) -> Result<String, IdentityError> {
    let cert = parse(der)?;
    let mut names = Vec::new();
    for attr in cert.subject().iter_common_name() {
        let value = attr.as_str().map_err(|e| IdentityError::Invalid(format!("subject CN is not a string: {e}")))?;
        names.push(value.to_string());
    }
    exactly_one(names, "subject CN")
}

/// Reads the SAE ID from a DER client certificate as `source` says, and
/// checks it with [`validate_id`].
pub fn sae_id_from_certificate(der: &[u8], source: &SaeIdSource) -> Result<String, IdentityError> {
    let id = match source {
        SaeIdSource::CommonName => common_name(der)?,
        SaeIdSource::SanDns | SaeIdSource::SanUri { .. } => {
            let cert = parse(der)?;
            let san = cert
                .subject_alternative_name()
                .map_err(|e| IdentityError::Malformed(format!("subjectAltName: {e}")))?;
            let names = san.map(|ext| ext.value.general_names.clone()).unwrap_or_default();
            let values: Vec<String> = match source {
                SaeIdSource::SanDns => names
                    .iter()
                    .filter_map(|n| match n {
                        GeneralName::DNSName(d) => Some((*d).to_string()),
                        _ => None,
                    })
                    .collect(),
                SaeIdSource::SanUri { prefix } => names
                    .iter()
                    .filter_map(|n| match n {
                        GeneralName::URI(u) => u.strip_prefix(prefix.as_str()).map(str::to_string),
                        _ => None,
                    })
                    .collect(),
                SaeIdSource::CommonName => Vec::new(),
            };
            exactly_one(values, &source.to_string())?
        }
    };
    validate_id(&id)?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(cn: Option<&str>, sans: Vec<test_certs::San>) -> Vec<u8> {
        test_certs::unsigned(cn, sans)
    }

    /// Certificates written byte by byte, so the tests control exactly which
    /// names (none, one, several) a certificate carries.
    mod test_certs {
        pub enum San {
            Dns(&'static str),
            Uri(&'static str),
        }

        fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
            let mut out = vec![tag];
            let n = body.len();
            if n < 0x80 {
                out.push(n as u8);
            } else if n < 0x100 {
                out.extend([0x81, n as u8]);
            } else {
                out.extend([0x82, (n >> 8) as u8, n as u8]);
            }
            out.extend_from_slice(body);
            out
        }

        fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
            tlv(0x30, &parts.concat())
        }

        fn name(cn: Option<&str>) -> Vec<u8> {
            match cn {
                // SET { SEQUENCE { OID 2.5.4.3, UTF8String } }
                Some(cn) => seq(&[tlv(0x31, &seq(&[tlv(0x06, &[0x55, 0x04, 0x03]), tlv(0x0c, cn.as_bytes())]))]),
                None => seq(&[]),
            }
        }

        /// An X.509 v3 structure with a dummy signature: enough for the
        /// name extraction, which does not verify signatures.
        pub fn unsigned(cn: Option<&str>, sans: Vec<San>) -> Vec<u8> {
            let alg = seq(&[tlv(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02])]); // ecdsa-with-SHA256
            let validity = seq(&[tlv(0x17, b"250101000000Z"), tlv(0x17, b"350101000000Z")]);
            let spki = seq(&[
                seq(&[
                    tlv(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]),
                    tlv(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]),
                ]),
                tlv(0x03, &[&[0u8, 4][..], &[1u8; 64][..]].concat()),
            ]);
            let mut tbs =
                vec![tlv(0xa0, &tlv(0x02, &[2])), tlv(0x02, &[1]), alg.clone(), name(None), validity, name(cn), spki];
            if !sans.is_empty() {
                let names: Vec<Vec<u8>> = sans
                    .iter()
                    .map(|s| match s {
                        San::Dns(d) => tlv(0x82, d.as_bytes()),
                        San::Uri(u) => tlv(0x86, u.as_bytes()),
                    })
                    .collect();
                let ext = seq(&[tlv(0x06, &[0x55, 0x1d, 0x11]), tlv(0x04, &seq(&names))]);
                tbs.push(tlv(0xa3, &seq(&[ext])));
            }
            seq(&[seq(&tbs), alg, tlv(0x03, &[0, 0x30, 0])])
        }
    }
    use test_certs::San;

    #[test]
    fn common_name_is_the_default_source() {
        let der = cert(Some("ric-xapp"), vec![San::Dns("localhost")]);
        assert_eq!(sae_id_from_certificate(&der, &SaeIdSource::CommonName).unwrap(), "ric-xapp");
        assert_eq!(common_name(&der).unwrap(), "ric-xapp");
    }

    #[test]
    fn san_dns_and_uri_sources() {
        let der = cert(Some("ignored"), vec![San::Dns("e2node-1"), San::Uri("spiffe://ran.example/sae/e2node-1")]);
        assert_eq!(sae_id_from_certificate(&der, &SaeIdSource::SanDns).unwrap(), "e2node-1");
        let uri = SaeIdSource::SanUri { prefix: "spiffe://ran.example/sae/".into() };
        assert_eq!(sae_id_from_certificate(&der, &uri).unwrap(), "e2node-1");
        // Without a prefix the whole URI is the ID, and it contains '/': refused.
        let any_uri = SaeIdSource::SanUri { prefix: String::new() };
        assert!(matches!(sae_id_from_certificate(&der, &any_uri), Err(IdentityError::Invalid(_))));
        // A prefix that matches nothing.
        let other = SaeIdSource::SanUri { prefix: "urn:other:".into() };
        assert!(matches!(sae_id_from_certificate(&der, &other), Err(IdentityError::Missing(_))));
    }

    #[test]
    fn missing_and_ambiguous_sources_are_refused() {
        let no_cn = cert(None, vec![San::Dns("a")]);
        assert!(matches!(sae_id_from_certificate(&no_cn, &SaeIdSource::CommonName), Err(IdentityError::Missing(_))));
        let no_san = cert(Some("x"), vec![]);
        assert!(matches!(sae_id_from_certificate(&no_san, &SaeIdSource::SanDns), Err(IdentityError::Missing(_))));
        let two = cert(Some("x"), vec![San::Dns("a"), San::Dns("b")]);
        assert_eq!(
            sae_id_from_certificate(&two, &SaeIdSource::SanDns),
            Err(IdentityError::Ambiguous { source_name: "DNS subject alternative name".into(), count: 2 })
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for der in [&b""[..], b"\x30", b"\x30\x03\x02\x01\x01", &[0xffu8; 64]] {
            assert!(matches!(sae_id_from_certificate(der, &SaeIdSource::CommonName), Err(IdentityError::Malformed(_))));
        }
        let mut ok = cert(Some("a"), vec![]);
        ok.push(0);
        assert!(matches!(common_name(&ok), Err(IdentityError::Malformed(_))));
    }

    #[test]
    fn id_validation() {
        assert!(validate_id("ric-xapp").is_ok());
        assert!(validate_id("SAE_01.site-a:7").is_ok());
        for bad in ["", "a b", "a/b", "a?b", "a#b", "a%20", "é"] {
            assert!(validate_id(bad).is_err(), "{bad:?}");
        }
        assert!(validate_id(&"x".repeat(MAX_ID_LEN)).is_ok());
        assert!(validate_id(&"x".repeat(MAX_ID_LEN + 1)).is_err());
    }
}
