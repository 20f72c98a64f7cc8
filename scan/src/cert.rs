//! X.509 certificate facts for the report (x509-parser): names, validity, key and signature
//! algorithms (ML-DSA by RFC 9881 OIDs), basicConstraints, SANs, fingerprint.

use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use x509_parser::extensions::GeneralName;
use x509_parser::public_key::PublicKey;

use crate::model::{CertSignatureAlgorithm, CertificateInfo, KeyAlgorithm};

/// RFC 3339 UTC.
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC).format(&Rfc3339).unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// The report entry for one DER certificate. Unparseable certificates still get an entry (with
/// the fingerprint and `Other` algorithms) so the chain length stays truthful; the error is
/// returned alongside for the notes.
pub fn describe(der: &[u8]) -> (CertificateInfo, Option<String>) {
    let sha256 = hex::encode(Sha256::digest(der));
    let cert = match x509_parser::parse_x509_certificate(der) {
        Ok((_, cert)) => cert,
        Err(e) => {
            let info = CertificateInfo {
                subject: String::new(),
                issuer: String::new(),
                serial: String::new(),
                not_before: String::new(),
                not_after: String::new(),
                public_key: KeyAlgorithm::Other { oid: String::new() },
                signature_algorithm: CertSignatureAlgorithm { name: "unknown".into(), oid: String::new() },
                is_ca: false,
                subject_alt_names: Vec::new(),
                sha256,
            };
            return (info, Some(format!("certificate {} could not be parsed: {e}", &info_prefix(der))));
        }
    };
    let spki = cert.public_key();
    let key_oid = spki.algorithm.algorithm.to_id_string();
    let public_key = match key_oid.as_str() {
        "2.16.840.1.101.3.4.3.17" => KeyAlgorithm::MlDsa { parameter_set: 44 },
        "2.16.840.1.101.3.4.3.18" => KeyAlgorithm::MlDsa { parameter_set: 65 },
        "2.16.840.1.101.3.4.3.19" => KeyAlgorithm::MlDsa { parameter_set: 87 },
        "1.3.101.112" => KeyAlgorithm::Ed25519,
        "1.3.101.113" => KeyAlgorithm::Ed448,
        "1.2.840.10045.2.1" => {
            let curve_oid =
                spki.algorithm.parameters.as_ref().and_then(|p| p.clone().oid().ok()).map(|o| o.to_id_string());
            let curve = match curve_oid.as_deref() {
                Some("1.2.840.10045.3.1.7") => "secp256r1".to_owned(),
                Some("1.3.132.0.34") => "secp384r1".to_owned(),
                Some("1.3.132.0.35") => "secp521r1".to_owned(),
                Some(other) => other.to_owned(),
                None => "unknown".to_owned(),
            };
            KeyAlgorithm::Ec { curve }
        }
        "1.2.840.113549.1.1.1" | "1.2.840.113549.1.1.10" => match spki.parsed() {
            Ok(PublicKey::RSA(rsa)) => KeyAlgorithm::Rsa { bits: u32::try_from(rsa.key_size()).unwrap_or(u32::MAX) },
            _ => KeyAlgorithm::Rsa { bits: 0 },
        },
        _ => KeyAlgorithm::Other { oid: key_oid },
    };
    let sig_oid = cert.signature_algorithm.algorithm.to_id_string();
    let sig_name = match sig_oid.as_str() {
        "2.16.840.1.101.3.4.3.17" => "ML-DSA-44",
        "2.16.840.1.101.3.4.3.18" => "ML-DSA-65",
        "2.16.840.1.101.3.4.3.19" => "ML-DSA-87",
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256",
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384",
        "1.2.840.10045.4.3.4" => "ecdsa-with-SHA512",
        "1.2.840.113549.1.1.5" => "sha1WithRSAEncryption",
        "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption",
        "1.2.840.113549.1.1.12" => "sha384WithRSAEncryption",
        "1.2.840.113549.1.1.13" => "sha512WithRSAEncryption",
        "1.2.840.113549.1.1.10" => "RSASSA-PSS",
        "1.3.101.112" => "Ed25519",
        "1.3.101.113" => "Ed448",
        _ => "unknown",
    };
    let is_ca = matches!(cert.basic_constraints(), Ok(Some(bc)) if bc.value.ca);
    let mut subject_alt_names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(d) => subject_alt_names.push((*d).to_owned()),
                GeneralName::IPAddress(b) => {
                    if let Ok(v4) = <[u8; 4]>::try_from(*b) {
                        subject_alt_names.push(std::net::Ipv4Addr::from(v4).to_string());
                    } else if let Ok(v6) = <[u8; 16]>::try_from(*b) {
                        subject_alt_names.push(std::net::Ipv6Addr::from(v6).to_string());
                    }
                }
                _ => {}
            }
        }
    }
    let info = CertificateInfo {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        serial: hex::encode(cert.raw_serial()),
        not_before: rfc3339(cert.validity().not_before.to_datetime()),
        not_after: rfc3339(cert.validity().not_after.to_datetime()),
        public_key,
        signature_algorithm: CertSignatureAlgorithm { name: sig_name.to_owned(), oid: sig_oid },
        is_ca,
        subject_alt_names,
        sha256,
    };
    (info, None)
}

fn info_prefix(der: &[u8]) -> String {
    format!("({} bytes)", der.len())
}

/// Whether `now` is outside the certificate's validity: `Some("expired ...")`,
/// `Some("not yet valid ...")` or `None`.
pub fn validity_problem(info: &CertificateInfo, now: OffsetDateTime) -> Option<String> {
    let nb = OffsetDateTime::parse(&info.not_before, &Rfc3339).ok()?;
    let na = OffsetDateTime::parse(&info.not_after, &Rfc3339).ok()?;
    if now > na {
        Some(format!("expired on {}", info.not_after))
    } else if now < nb {
        Some(format!("not valid before {}", info.not_before))
    } else {
        None
    }
}
