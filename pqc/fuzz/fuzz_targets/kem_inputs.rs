//! Fuzzes decoding of KEM inputs received from peers or storage, and feeding accepted ones to
//! the aws-lc backend.
//!
//! Input: first byte = selector (bit 0: ML-KEM-768 / ML-KEM-1024; (byte >> 1) % 3: encapsulation
//! key, ciphertext, decapsulation key), the rest = the encoded input.
//!
//! Properties:
//! * `EncapsulationKey`/`Ciphertext`/`DecapsulationKey::from_bytes` never panic, and accept
//!   only inputs of the exact FIPS 203 length;
//! * an accepted encapsulation key (it passed our §7.2 modulus check) is also accepted by aws-lc:
//!   encapsulation to it succeeds;
//! * an accepted ciphertext decapsulates without error under a valid key (implicit rejection),
//!   deterministically;
//! * an accepted decapsulation key (it passed our §7.3 hash check) decapsulates a ciphertext.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use qsafe_pqc::kem::{AwsLcKem, Ciphertext, DecapsulationKey, EncapsulationKey, Kem, KemAlgorithm};

struct Fixture {
    kem: AwsLcKem,
    dk: DecapsulationKey,
    ct: Ciphertext,
}

fn fixture(alg: KemAlgorithm) -> &'static Fixture {
    static F768: OnceLock<Fixture> = OnceLock::new();
    static F1024: OnceLock<Fixture> = OnceLock::new();
    let cell = if alg == KemAlgorithm::MlKem768 { &F768 } else { &F1024 };
    cell.get_or_init(|| {
        let kem = AwsLcKem::new(alg).expect("aws-lc ML-KEM");
        let (ek, dk) = kem.generate().expect("keygen");
        let (ct, _) = kem.encapsulate(&ek).expect("encapsulate");
        Fixture { kem, dk, ct }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let alg = if selector & 1 == 0 { KemAlgorithm::MlKem768 } else { KemAlgorithm::MlKem1024 };
    let f = fixture(alg);
    match (selector >> 1) % 3 {
        0 => {
            if let Ok(ek) = EncapsulationKey::from_bytes(alg, bytes) {
                assert_eq!(bytes.len(), alg.encapsulation_key_len());
                let (ct, ss) = f.kem.encapsulate(&ek).expect("aws-lc refuses a key that passed the modulus check");
                assert_eq!((ct.as_bytes().len(), ss.len()), (alg.ciphertext_len(), 32));
            }
        }
        1 => {
            if let Ok(ct) = Ciphertext::from_bytes(alg, bytes) {
                assert_eq!(bytes.len(), alg.ciphertext_len());
                let a = f.kem.decapsulate(&f.dk, &ct).expect("decapsulation of a well-sized ciphertext failed");
                let b = f.kem.decapsulate(&f.dk, &ct).expect("second decapsulation failed");
                assert!(a.ct_eq(&b), "decapsulation is not deterministic");
            }
        }
        _ => {
            if let Ok(dk) = DecapsulationKey::from_bytes(alg, bytes) {
                assert_eq!(bytes.len(), alg.decapsulation_key_len());
                f.kem.decapsulate(&dk, &f.ct).expect("decapsulation with a key that passed the hash check failed");
            }
        }
    }
});
