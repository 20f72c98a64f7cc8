//! Passphrases and encrypted PKCS#8 (RFC 5958 `EncryptedPrivateKeyInfo`, RFC 8018 PBES2).
//!
//! Why hand-rolled on aws-lc-rs instead of the RustCrypto `pkcs8` crate: aws-lc-rs is already in
//! the build (rustls, rcgen) and provides both primitives we need (PBKDF2-HMAC-SHA256 and
//! AES-256-CBC with PKCS#7 padding), and the DER structure is fixed and small. We write exactly
//! one form, the one OpenSSL 3 and pyca/cryptography write by default:
//!
//! ```text
//! EncryptedPrivateKeyInfo { PBES2 { PBKDF2 { salt(16), iterations, prf hmacWithSHA256 },
//!                                  aes256-CBC { iv(16) } }, encryptedData }
//! ```
//!
//! and read only that form back (strict parse; anything else is [`SecretError::Unsupported`]).
//! `tests/conformance/pyca_ca_check.py` checks that pyca/cryptography decrypts our keys.
//!
//! A wrong passphrase almost always fails the PKCS#7 padding check; when it does not (about 1 in
//! 256), the decrypted bytes are not a PKCS#8 key of the certificate's algorithm, which the key
//! loader catches. Both are reported as [`SecretError::WrongPassphrase`] by the store.

use std::num::NonZeroU32;
use std::path::Path;

use aws_lc_rs::cipher::{
    AES_256, DecryptionContext, EncryptionContext, PaddedBlockDecryptingKey, PaddedBlockEncryptingKey, UnboundCipherKey,
};
use aws_lc_rs::iv::FixedLength;
use aws_lc_rs::pbkdf2;
use zeroize::Zeroizing;

/// Environment variable holding the CA passphrase.
pub const PASSPHRASE_ENV: &str = "QSAFE_CA_PASSPHRASE";
/// Minimum passphrase length in characters.
pub const MIN_PASSPHRASE_LEN: usize = 12;
/// PBKDF2-HMAC-SHA256 iterations written into new keys (OWASP 2023 recommendation: 600 000).
pub const PBKDF2_ITERATIONS: u32 = 600_000;
/// Largest iteration count accepted when reading (a key file is not a CPU-exhaustion vector).
const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;

const OID_PBES2: &[u64] = &[1, 2, 840, 113_549, 1, 5, 13];
const OID_PBKDF2: &[u64] = &[1, 2, 840, 113_549, 1, 5, 12];
const OID_HMAC_SHA256: &[u64] = &[1, 2, 840, 113_549, 2, 9];
const OID_AES256_CBC: &[u64] = &[2, 16, 840, 1, 101, 3, 4, 1, 42];

/// Why a passphrase could not be had or a key could not be encrypted/decrypted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// Neither the environment variable nor a passphrase file was given.
    #[error("no CA passphrase: set {PASSPHRASE_ENV} or pass --passphrase-file FILE")]
    Missing,
    /// The passphrase file could not be read.
    #[error("reading passphrase file {path}: {source}")]
    File {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The passphrase is too short (or empty).
    #[error("CA passphrase is too short: at least {MIN_PASSPHRASE_LEN} characters required")]
    TooShort,
    /// Decryption failed: the passphrase is wrong or the key file is damaged.
    #[error("wrong passphrase or corrupt key ({what})")]
    WrongPassphrase {
        /// Which key.
        what: String,
    },
    /// The file is not an encrypted PKCS#8 structure we write (PBES2/PBKDF2-SHA256/AES-256-CBC).
    #[error("unsupported or malformed encrypted private key ({what}): {reason}")]
    Unsupported {
        /// Which key.
        what: String,
        /// What was wrong.
        reason: String,
    },
    /// aws-lc failed (random generator or cipher setup).
    #[error("cryptographic library failure while {0}")]
    Crypto(&'static str),
}

/// A CA passphrase. Zeroized on drop, redacted in `Debug`.
pub struct Passphrase(Zeroizing<String>);

impl std::fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Passphrase(<redacted>)")
    }
}

impl Passphrase {
    /// Wraps `value` after checking its length.
    pub fn new(value: Zeroizing<String>) -> Result<Self, SecretError> {
        if value.chars().count() < MIN_PASSPHRASE_LEN {
            return Err(SecretError::TooShort);
        }
        Ok(Self(value))
    }

    /// Reads the passphrase from `file` (one trailing newline, `\n` or `\r\n`, is removed) if
    /// given, else from the environment variable [`PASSPHRASE_ENV`].
    pub fn from_env_or_file(file: Option<&Path>) -> Result<Self, SecretError> {
        if let Some(path) = file {
            let mut text = Zeroizing::new(
                std::fs::read_to_string(path)
                    .map_err(|source| SecretError::File { path: path.display().to_string(), source })?,
            );
            if text.ends_with('\n') {
                text.pop();
                if text.ends_with('\r') {
                    text.pop();
                }
            }
            return Self::new(text);
        }
        match std::env::var(PASSPHRASE_ENV) {
            Ok(v) => Self::new(Zeroizing::new(v)),
            Err(_) => Err(SecretError::Missing),
        }
    }

    fn bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

fn derive_key(passphrase: &Passphrase, salt: &[u8], iterations: NonZeroU32) -> Zeroizing<[u8; 32]> {
    let mut key = Zeroizing::new([0u8; 32]);
    pbkdf2::derive(pbkdf2::PBKDF2_HMAC_SHA256, iterations, salt, passphrase.bytes(), &mut *key);
    key
}

/// Encrypts a PKCS#8 `PrivateKeyInfo` into DER `EncryptedPrivateKeyInfo` with `iterations`
/// rounds of PBKDF2-HMAC-SHA256 and AES-256-CBC.
pub fn encrypt_pkcs8(pkcs8: &[u8], passphrase: &Passphrase, iterations: u32) -> Result<Vec<u8>, SecretError> {
    let iterations = NonZeroU32::new(iterations).ok_or(SecretError::Crypto("choosing PBKDF2 iterations"))?;
    let mut salt = [0u8; 16];
    let mut iv = [0u8; 16];
    aws_lc_rs::rand::fill(&mut salt).map_err(|_| SecretError::Crypto("drawing a salt"))?;
    aws_lc_rs::rand::fill(&mut iv).map_err(|_| SecretError::Crypto("drawing an IV"))?;
    let key = derive_key(passphrase, &salt, iterations);
    let cipher = UnboundCipherKey::new(&AES_256, &*key)
        .and_then(PaddedBlockEncryptingKey::cbc_pkcs7)
        .map_err(|_| SecretError::Crypto("setting up AES-256-CBC"))?;
    // Room for the padding up front: the plaintext is never copied into a reallocated buffer.
    let mut data = Zeroizing::new(Vec::with_capacity(pkcs8.len() + 16));
    data.extend_from_slice(pkcs8);
    cipher
        .less_safe_encrypt(&mut *data, EncryptionContext::Iv128(FixedLength::from(iv)))
        .map_err(|_| SecretError::Crypto("encrypting the key"))?;
    let iterations = u64::from(iterations.get());
    Ok(yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_sequence(|w| {
                w.next().write_oid(&yasna::models::ObjectIdentifier::from_slice(OID_PBES2));
                w.next().write_sequence(|w| {
                    w.next().write_sequence(|w| {
                        w.next().write_oid(&yasna::models::ObjectIdentifier::from_slice(OID_PBKDF2));
                        w.next().write_sequence(|w| {
                            w.next().write_bytes(&salt);
                            w.next().write_u64(iterations);
                            w.next().write_sequence(|w| {
                                w.next().write_oid(&yasna::models::ObjectIdentifier::from_slice(OID_HMAC_SHA256));
                                w.next().write_null();
                            });
                        });
                    });
                    w.next().write_sequence(|w| {
                        w.next().write_oid(&yasna::models::ObjectIdentifier::from_slice(OID_AES256_CBC));
                        w.next().write_bytes(&iv);
                    });
                });
            });
            w.next().write_bytes(&data);
        });
    }))
}

struct Parsed {
    salt: Vec<u8>,
    iterations: u64,
    iv: Vec<u8>,
    data: Vec<u8>,
}

fn expect_oid(r: yasna::BERReader<'_, '_>, oid: &[u64]) -> yasna::ASN1Result<()> {
    if r.read_oid()?.components().as_slice() == oid {
        Ok(())
    } else {
        Err(yasna::ASN1Error::new(yasna::ASN1ErrorKind::Invalid))
    }
}

fn parse(der: &[u8]) -> yasna::ASN1Result<Parsed> {
    yasna::parse_der(der, |r| {
        r.read_sequence(|r| {
            let (salt, iterations, iv) = r.next().read_sequence(|r| {
                expect_oid(r.next(), OID_PBES2)?;
                r.next().read_sequence(|r| {
                    let (salt, iterations) = r.next().read_sequence(|r| {
                        expect_oid(r.next(), OID_PBKDF2)?;
                        r.next().read_sequence(|r| {
                            let salt = r.next().read_bytes()?;
                            let iterations = r.next().read_u64()?;
                            // keyLength is optional; when present it must say 32.
                            let key_len = r.read_optional(|r| r.read_u64())?;
                            if key_len.is_some_and(|l| l != 32) {
                                return Err(yasna::ASN1Error::new(yasna::ASN1ErrorKind::Invalid));
                            }
                            r.next().read_sequence(|r| {
                                expect_oid(r.next(), OID_HMAC_SHA256)?;
                                r.read_optional(|r| r.read_null())?;
                                Ok(())
                            })?;
                            Ok((salt, iterations))
                        })
                    })?;
                    let iv = r.next().read_sequence(|r| {
                        expect_oid(r.next(), OID_AES256_CBC)?;
                        r.next().read_bytes()
                    })?;
                    Ok((salt, iterations, iv))
                })
            })?;
            let data = r.next().read_bytes()?;
            Ok(Parsed { salt, iterations, iv, data })
        })
    })
}

/// Decrypts DER `EncryptedPrivateKeyInfo` written by [`encrypt_pkcs8`] (or by OpenSSL/pyca with
/// PBES2, PBKDF2-HMAC-SHA256 and AES-256-CBC). `what` names the key in errors.
pub fn decrypt_pkcs8(der: &[u8], passphrase: &Passphrase, what: &str) -> Result<Zeroizing<Vec<u8>>, SecretError> {
    let unsupported = |reason: &str| SecretError::Unsupported { what: what.to_owned(), reason: reason.to_owned() };
    let parsed =
        parse(der).map_err(|_| unsupported("expected PBES2 with PBKDF2-HMAC-SHA256 and AES-256-CBC (RFC 8018)"))?;
    let iterations = u32::try_from(parsed.iterations)
        .ok()
        .filter(|n| *n <= MAX_PBKDF2_ITERATIONS)
        .and_then(NonZeroU32::new)
        .ok_or_else(|| unsupported("PBKDF2 iteration count is 0 or above 10 000 000"))?;
    let iv: [u8; 16] = parsed.iv.as_slice().try_into().map_err(|_| unsupported("AES-CBC IV is not 16 bytes"))?;
    if parsed.data.is_empty() || parsed.data.len() % 16 != 0 {
        return Err(unsupported("ciphertext is not a whole number of AES blocks"));
    }
    let key = derive_key(passphrase, &parsed.salt, iterations);
    let cipher = UnboundCipherKey::new(&AES_256, &*key)
        .and_then(PaddedBlockDecryptingKey::cbc_pkcs7)
        .map_err(|_| SecretError::Crypto("setting up AES-256-CBC"))?;
    let mut data = Zeroizing::new(parsed.data);
    let len = cipher
        .decrypt(&mut data, DecryptionContext::Iv128(FixedLength::from(iv)))
        .map_err(|_| SecretError::WrongPassphrase { what: what.to_owned() })?
        .len();
    data.truncate(len);
    Ok(data)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn pass(s: &str) -> Passphrase {
        Passphrase::new(Zeroizing::new(s.to_owned())).unwrap()
    }

    #[test]
    fn round_trip_and_wrong_passphrase() {
        let secret = b"0123456789abcdef-some-pkcs8-bytes-0123456789";
        let der = encrypt_pkcs8(secret, &pass("correct horse battery"), 1000).unwrap();
        assert!(!der.windows(secret.len()).any(|w| w == secret));
        let back = decrypt_pkcs8(&der, &pass("correct horse battery"), "k").unwrap();
        assert_eq!(&back[..], &secret[..]);
        // A wrong passphrase either fails the padding check or yields different bytes.
        match decrypt_pkcs8(&der, &pass("wrong horse battery"), "k") {
            Err(SecretError::WrongPassphrase { .. }) => {}
            Ok(other) => assert_ne!(&other[..], &secret[..]),
            Err(e) => panic!("unexpected {e}"),
        }
        assert!(matches!(
            decrypt_pkcs8(b"\x30\x00", &pass("correct horse battery"), "k"),
            Err(SecretError::Unsupported { .. })
        ));
    }

    #[test]
    fn short_passphrases_are_refused() {
        assert!(matches!(Passphrase::new(Zeroizing::new(String::new())), Err(SecretError::TooShort)));
        assert!(matches!(Passphrase::new(Zeroizing::new("short".into())), Err(SecretError::TooShort)));
        assert!(format!("{:?}", pass("a long enough passphrase")).contains("redacted"));
    }
}
