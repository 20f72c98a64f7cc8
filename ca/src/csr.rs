//! PKCS#10 certificate signing requests: parse, check the proof of possession, apply a profile.
//!
//! Why we verify the CSR signature ourselves: a CSR is attacker-controlled input arriving at the
//! CA, and its self-signature is the only evidence that the requester holds the private key. We
//! parse with x509-parser and verify with aws-lc-rs for every algorithm we are willing to
//! certify (ML-DSA-44/65/87, ECDSA P-256/P-384, Ed25519, RSA PKCS#1 v1.5 and PSS); anything else
//! is refused *before* any state changes. Inputs are capped at [`MAX_CSR_LEN`] bytes.

use std::net::IpAddr;

use aws_lc_rs::signature::{self as lc, UnparsedPublicKey, VerificationAlgorithm};
use rustls_pki_types::CertificateSigningRequestDer;
use rustls_pki_types::pem::PemObject;
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;

use crate::profile::{KeyAlgorithm, MIN_RSA_BITS, Profile, Sans};

/// Largest CSR accepted (PEM or DER), bytes. An ML-DSA-87 CSR is about 7.5 KiB of DER.
pub const MAX_CSR_LEN: usize = 64 * 1024;

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_RSA_PSS: &str = "1.2.840.113549.1.1.10";
const OID_RSA_SHA256: &str = "1.2.840.113549.1.1.11";
const OID_RSA_SHA384: &str = "1.2.840.113549.1.1.12";
const OID_RSA_SHA512: &str = "1.2.840.113549.1.1.13";
const OID_EC: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";
const OID_ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
const OID_ECDSA_SHA384: &str = "1.2.840.10045.4.3.3";
const OID_ED25519: &str = "1.3.101.112";
const OID_ML_DSA_44: &str = "2.16.840.1.101.3.4.3.17";
const OID_ML_DSA_65: &str = "2.16.840.1.101.3.4.3.18";
const OID_ML_DSA_87: &str = "2.16.840.1.101.3.4.3.19";
const OID_SHA256: &[u8] = &[0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
const OID_SHA384: &[u8] = &[0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02];
const OID_SHA512: &[u8] = &[0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03];

/// Why a CSR was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum CsrError {
    /// Input larger than [`MAX_CSR_LEN`].
    #[error("CSR is {len} bytes; at most {MAX_CSR_LEN} accepted")]
    TooLarge {
        /// Input length.
        len: usize,
    },
    /// Neither a `CERTIFICATE REQUEST` PEM block nor DER PKCS#10.
    #[error("not a PKCS#10 CSR (PEM or DER): {reason}")]
    Malformed {
        /// Parser message.
        reason: String,
    },
    /// The subject key algorithm is not one we certify.
    #[error("unsupported subject public key algorithm {oid}{detail}")]
    UnsupportedKey {
        /// SPKI algorithm OID.
        oid: String,
        /// Explanation.
        detail: String,
    },
    /// The signature algorithm is unknown or does not fit the key.
    #[error("unsupported CSR signature algorithm {oid} for a {key} key")]
    UnsupportedSignature {
        /// Signature algorithm OID.
        oid: String,
        /// The subject key algorithm.
        key: KeyAlgorithm,
    },
    /// The self-signature does not verify: no proof of possession.
    #[error("CSR signature does not verify with its own {key} public key (no proof of possession)")]
    BadSignature {
        /// The subject key algorithm.
        key: KeyAlgorithm,
    },
    /// The CSR asks for a CA certificate (basicConstraints cA=TRUE).
    #[error("CSR requests a CA certificate (basicConstraints cA=TRUE); this CA issues end-entity certificates only")]
    CaRequested,
    /// A subjectAltName in the CSR is not acceptable.
    #[error("CSR subjectAltName {value:?} refused: {reason}")]
    BadSan {
        /// The name.
        value: String,
        /// Why.
        reason: String,
    },
    /// The profile does not allow this key algorithm.
    #[error("profile {profile} does not accept {key} keys{hint}")]
    KeyNotAllowed {
        /// The profile.
        profile: Profile,
        /// The key algorithm.
        key: KeyAlgorithm,
        /// Extra hint.
        hint: &'static str,
    },
}

/// A parsed CSR whose proof of possession has been verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedCsr {
    /// The DER SubjectPublicKeyInfo to certify.
    pub spki_der: Vec<u8>,
    /// Its algorithm.
    pub key_algorithm: KeyAlgorithm,
    /// The subject commonName, if any.
    pub common_name: Option<String>,
    /// subjectAltNames requested in the CSR's extensionRequest.
    pub sans: Sans,
}

/// Decodes PEM (`CERTIFICATE REQUEST`) or DER, parses PKCS#10, checks the key and signature
/// algorithms, verifies the self-signature and refuses CA requests.
pub fn parse_and_verify(input: &[u8]) -> Result<VerifiedCsr, CsrError> {
    if input.len() > MAX_CSR_LEN {
        return Err(CsrError::TooLarge { len: input.len() });
    }
    let malformed = |reason: String| CsrError::Malformed { reason };
    let der: Vec<u8> = if input.trim_ascii_start().starts_with(b"-----BEGIN") {
        CertificateSigningRequestDer::from_pem_slice(input)
            .map_err(|e| malformed(format!("PEM: {e}")))?
            .as_ref()
            .to_vec()
    } else {
        input.to_vec()
    };
    let (rest, csr) = X509CertificationRequest::from_der(&der).map_err(|e| malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(malformed(format!("{} trailing bytes", rest.len())));
    }
    let info = &csr.certification_request_info;
    let spki = &info.subject_pki;
    let key = key_algorithm(spki)?;
    let sig_oid = csr.signature_algorithm.algorithm.to_id_string();
    let sig_params = csr.signature_algorithm.parameters.as_ref().map(|p| p.as_bytes().to_vec());
    let verifier = verification_algorithm(key, &sig_oid, sig_params.as_deref())
        .ok_or(CsrError::UnsupportedSignature { oid: sig_oid.clone(), key })?;
    if csr.signature_value.unused_bits != 0 {
        return Err(CsrError::BadSignature { key });
    }
    UnparsedPublicKey::new(verifier, &spki.subject_public_key.data)
        .verify(info.raw, &csr.signature_value.data)
        .map_err(|_| CsrError::BadSignature { key })?;

    let mut sans = Sans::default();
    if let Some(extensions) = csr.requested_extensions() {
        for ext in extensions {
            match ext {
                ParsedExtension::BasicConstraints(bc) if bc.ca => return Err(CsrError::CaRequested),
                ParsedExtension::SubjectAlternativeName(san) => {
                    for name in &san.general_names {
                        match name {
                            GeneralName::DNSName(d) => sans.dns.push((*d).to_owned()),
                            GeneralName::URI(u) => sans.uris.push((*u).to_owned()),
                            GeneralName::IPAddress(bytes) => sans.ips.push(ip_from_bytes(bytes)?),
                            other => {
                                return Err(CsrError::BadSan {
                                    value: format!("{other:?}"),
                                    reason: "only DNS, IP and URI names are certified".into(),
                                });
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }
    let common_name = info.subject.iter_common_name().next().and_then(|cn| cn.as_str().ok()).map(str::to_owned);
    Ok(VerifiedCsr { spki_der: spki.raw.to_vec(), key_algorithm: key, common_name, sans })
}

/// Checks that `profile` (narrowed by `pqc_only`) accepts the CSR's key.
pub fn check_profile(csr: &VerifiedCsr, profile: Profile, pqc_only: bool) -> Result<(), CsrError> {
    if profile.allows(csr.key_algorithm, pqc_only) {
        return Ok(());
    }
    let hint = match csr.key_algorithm {
        KeyAlgorithm::Rsa(_) if !pqc_only && !profile.ml_dsa_only() => " (RSA keys need at least 2048 bits)",
        _ if pqc_only => " (--pqc-only: ML-DSA keys only)",
        _ => " (this profile is ML-DSA only)",
    };
    Err(CsrError::KeyNotAllowed { profile, key: csr.key_algorithm, hint })
}

fn ip_from_bytes(bytes: &[u8]) -> Result<IpAddr, CsrError> {
    match bytes.len() {
        4 => Ok(IpAddr::from(<[u8; 4]>::try_from(bytes).map_err(|_| bad_ip(bytes))?)),
        16 => Ok(IpAddr::from(<[u8; 16]>::try_from(bytes).map_err(|_| bad_ip(bytes))?)),
        _ => Err(bad_ip(bytes)),
    }
}

fn bad_ip(bytes: &[u8]) -> CsrError {
    CsrError::BadSan { value: format!("{bytes:02x?}"), reason: "an IP address must be 4 or 16 bytes".into() }
}

fn key_algorithm(spki: &x509_parser::x509::SubjectPublicKeyInfo<'_>) -> Result<KeyAlgorithm, CsrError> {
    let oid = spki.algorithm.algorithm.to_id_string();
    let unsupported = |detail: &str| CsrError::UnsupportedKey { oid: oid.clone(), detail: detail.to_owned() };
    let ml_dsa = |alg: KeyAlgorithm, len: usize| {
        if spki.algorithm.parameters.is_some() {
            Err(unsupported(" (RFC 9881: ML-DSA parameters must be absent)"))
        } else if spki.subject_public_key.data.len() != len {
            Err(unsupported(" (wrong ML-DSA public key length)"))
        } else {
            Ok(alg)
        }
    };
    match oid.as_str() {
        OID_ML_DSA_44 => ml_dsa(KeyAlgorithm::MlDsa44, 1312),
        OID_ML_DSA_65 => ml_dsa(KeyAlgorithm::MlDsa65, 1952),
        OID_ML_DSA_87 => ml_dsa(KeyAlgorithm::MlDsa87, 2592),
        OID_ED25519 if spki.subject_public_key.data.len() == 32 => Ok(KeyAlgorithm::Ed25519),
        OID_EC => {
            let curve = spki.algorithm.parameters.as_ref().and_then(|p| p.as_oid().ok()).map(|o| o.to_id_string());
            let (alg, len) = match curve.as_deref() {
                Some(OID_P256) => (KeyAlgorithm::EcdsaP256, 65),
                Some(OID_P384) => (KeyAlgorithm::EcdsaP384, 97),
                _ => return Err(unsupported(" (EC keys: P-256 or P-384 only)")),
            };
            if spki.subject_public_key.data.len() != len || spki.subject_public_key.data.first() != Some(&4) {
                return Err(unsupported(" (EC point must be uncompressed)"));
            }
            Ok(alg)
        }
        OID_RSA => match spki.parsed() {
            Ok(PublicKey::RSA(rsa)) => {
                let bits = u32::try_from(rsa.key_size()).unwrap_or(u32::MAX);
                // Checked before the signature: aws-lc verifies RSA-2048..8192 only, and a
                // small key should be refused as such, not as a bad signature.
                if !(MIN_RSA_BITS..=8192).contains(&bits) {
                    return Err(unsupported(" (RSA keys need at least 2048 and at most 8192 bits)"));
                }
                Ok(KeyAlgorithm::Rsa(bits))
            }
            _ => Err(unsupported(" (malformed RSA public key)")),
        },
        _ => Err(unsupported(" (expected ML-DSA-44/65/87, ECDSA P-256/P-384, Ed25519 or RSA)")),
    }
}

fn verification_algorithm(
    key: KeyAlgorithm,
    sig_oid: &str,
    params: Option<&[u8]>,
) -> Option<&'static dyn VerificationAlgorithm> {
    let hash = |p: Option<&[u8]>| {
        let p = p?;
        [(OID_SHA256, 256), (OID_SHA384, 384), (OID_SHA512, 512)]
            .into_iter()
            .find(|(oid, _)| p.windows(oid.len()).any(|w| w == *oid))
            .map(|(_, h)| h)
    };
    Some(match (key, sig_oid) {
        (KeyAlgorithm::MlDsa44, OID_ML_DSA_44) if params.is_none() => &lc::ML_DSA_44,
        (KeyAlgorithm::MlDsa65, OID_ML_DSA_65) if params.is_none() => &lc::ML_DSA_65,
        (KeyAlgorithm::MlDsa87, OID_ML_DSA_87) if params.is_none() => &lc::ML_DSA_87,
        (KeyAlgorithm::EcdsaP256, OID_ECDSA_SHA256) => &lc::ECDSA_P256_SHA256_ASN1,
        (KeyAlgorithm::EcdsaP256, OID_ECDSA_SHA384) => &lc::ECDSA_P256_SHA384_ASN1,
        (KeyAlgorithm::EcdsaP384, OID_ECDSA_SHA256) => &lc::ECDSA_P384_SHA256_ASN1,
        (KeyAlgorithm::EcdsaP384, OID_ECDSA_SHA384) => &lc::ECDSA_P384_SHA384_ASN1,
        (KeyAlgorithm::Ed25519, OID_ED25519) if params.is_none() => &lc::ED25519,
        (KeyAlgorithm::Rsa(_), OID_RSA_SHA256) => &lc::RSA_PKCS1_2048_8192_SHA256,
        (KeyAlgorithm::Rsa(_), OID_RSA_SHA384) => &lc::RSA_PKCS1_2048_8192_SHA384,
        (KeyAlgorithm::Rsa(_), OID_RSA_SHA512) => &lc::RSA_PKCS1_2048_8192_SHA512,
        // PSS: the hash named in the parameters; aws-lc expects MGF1 with the same hash and a
        // salt as long as the hash (the usual profile); other parameters fail verification.
        (KeyAlgorithm::Rsa(_), OID_RSA_PSS) => match hash(params)? {
            256 => &lc::RSA_PSS_2048_8192_SHA256,
            384 => &lc::RSA_PSS_2048_8192_SHA384,
            _ => &lc::RSA_PSS_2048_8192_SHA512,
        },
        _ => return None,
    })
}
