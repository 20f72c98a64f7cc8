//! The verdict on an endpoint.
//!
//! * **unreachable** — no TLS handshake at all (connect failed, timed out, or not TLS).
//! * **full-pqc** — a post-quantum group was accepted (the X25519MLKEM768-only or the
//!   MLKEM768-only probe completed) **and** the server's CertificateVerify used ML-DSA **and**
//!   every certificate it sent (leaf and intermediates) has an ML-DSA key and an ML-DSA
//!   signature. The root is normally not sent; the last certificate's *signature* (made by the
//!   root) must still be ML-DSA, which covers it.
//! * **hybrid-kex-only** — a post-quantum group was accepted, but authentication is classical
//!   somewhere (the reasons say where: CertificateVerify scheme, a key, a signature).
//! * **quantum-vulnerable** — no ML-KEM group accepted: recorded traffic can be decrypted once a
//!   quantum computer exists.
//!
//! Findings that do not change the verdict are added to the reasons: expired / not-yet-valid
//! certificates, TLS 1.0/1.1 accepted, classical groups accepted alongside PQ ones
//! (downgradeable by an active attacker who can break ECDH), and the HelloRetryRequest
//! behaviour.

use time::OffsetDateTime;

use crate::cert::validity_problem;
use crate::model::{Classification, EndpointReport, GroupOffer, Reachability, TlsVersion};

/// Classifies a report (see the module docs for the rule) and says why.
pub fn classify(report: &EndpointReport) -> (Classification, Vec<String>) {
    classify_at(report, OffsetDateTime::now_utc())
}

/// [`classify`] with an explicit "now" for the validity checks.
pub fn classify_at(report: &EndpointReport, now: OffsetDateTime) -> (Classification, Vec<String>) {
    let mut reasons = Vec::new();
    match &report.reachability {
        Reachability::Unreachable { error } => {
            return (Classification::Unreachable, vec![format!("unreachable: {error}")]);
        }
        Reachability::NotTls { error } => return (Classification::Unreachable, vec![format!("no TLS: {error}")]),
        Reachability::Tls => {}
    }
    let accepted = |o: GroupOffer| report.group_probes.iter().any(|p| p.offered == o && p.accepted);
    let pq_groups: Vec<&str> = report
        .group_probes
        .iter()
        .filter(|p| p.accepted && p.offered != GroupOffer::ClassicalOnly)
        .filter_map(|p| p.negotiated_group.as_ref().map(|g| g.name.as_str()))
        .collect();
    let negotiated_pq = report.negotiated.as_ref().and_then(|n| n.group.as_ref()).is_some_and(|g| g.is_post_quantum());
    let pq_kex = accepted(GroupOffer::X25519Mlkem768Only) || accepted(GroupOffer::Mlkem768Only) || negotiated_pq;

    // Authentication: where is it classical?
    let mut classical_auth = Vec::new();
    match report.negotiated.as_ref().and_then(|n| n.signature_scheme.as_ref()) {
        Some(s) if s.is_ml_dsa() => {}
        Some(s) => classical_auth.push(format!("CertificateVerify signed with {}", s.name)),
        None => classical_auth.push("no handshake signature observed".to_owned()),
    }
    if report.chain.is_empty() {
        classical_auth.push("no certificate chain observed".to_owned());
    }
    for (i, c) in report.chain.iter().enumerate() {
        let which = if i == 0 { "leaf".to_owned() } else { format!("chain[{i}]") };
        if !c.public_key.is_post_quantum() {
            classical_auth.push(format!("{which} ({}) has a classical {} key", c.subject, key_name(&c.public_key)));
        }
        if !c.signature_algorithm.is_ml_dsa() {
            classical_auth.push(format!("{which} ({}) is signed with {}", c.subject, c.signature_algorithm.name));
        }
    }

    let class = if !pq_kex {
        reasons.push("no ML-KEM group accepted".to_owned());
        Classification::QuantumVulnerable
    } else if classical_auth.is_empty() {
        reasons.push(format!(
            "ML-KEM key exchange accepted ({}) and ML-DSA authentication throughout",
            pq_groups.join(", ")
        ));
        Classification::FullPqc
    } else {
        reasons.push(format!("ML-KEM key exchange accepted ({})", pq_groups.join(", ")));
        reasons.extend(classical_auth.into_iter().map(|r| format!("classical authentication: {r}")));
        Classification::HybridKeyExchangeOnly
    };

    // Findings that do not change the verdict.
    if pq_kex && accepted(GroupOffer::ClassicalOnly) {
        reasons.push(
            "classical-only key exchange also accepted (downgradeable: a client without ML-KEM still connects)".into(),
        );
    }
    for v in [TlsVersion::Tls10, TlsVersion::Tls11] {
        if report.tls_versions.contains(&v) {
            reasons.push(format!("{} accepted (deprecated, RFC 8996)", v.name()));
        }
    }
    if let Some(hrr) = &report.hello_retry {
        if hrr.retry_requested && hrr.prefers_post_quantum {
            reasons.push(
                "HelloRetryRequest to a post-quantum group although an x25519 share was offered (prefers PQ)".into(),
            );
        } else if pq_kex && !hrr.retry_requested && hrr.error.is_none() {
            reasons.push(
                "completes on the offered x25519 share instead of asking for ML-KEM (no HelloRetryRequest)".into(),
            );
        }
    }
    for (i, c) in report.chain.iter().enumerate() {
        if let Some(problem) = validity_problem(c, now) {
            let which = if i == 0 { "leaf".to_owned() } else { format!("chain[{i}]") };
            reasons.push(format!("{which} ({}) {problem}", c.subject));
        }
    }
    (class, reasons)
}

fn key_name(k: &crate::model::KeyAlgorithm) -> String {
    use crate::model::KeyAlgorithm as K;
    match k {
        K::MlDsa { parameter_set } => format!("ML-DSA-{parameter_set}"),
        K::Ec { curve } => format!("EC {curve}"),
        K::Rsa { bits } => format!("RSA-{bits}"),
        K::Ed25519 => "Ed25519".into(),
        K::Ed448 => "Ed448".into(),
        K::Other { oid } => format!("OID {oid}"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::model::{
        CertSignatureAlgorithm, CertificateInfo, ClientAuthDemand, GroupProbe, KeyAlgorithm, NamedGroup, Negotiated,
        SignatureScheme, Target,
    };

    fn cert(subject: &str, key: KeyAlgorithm, sig_oid: &str, sig_name: &str) -> CertificateInfo {
        CertificateInfo {
            subject: subject.into(),
            issuer: "CN=issuer".into(),
            serial: "01".into(),
            not_before: "2026-01-01T00:00:00Z".into(),
            not_after: "2027-01-01T00:00:00Z".into(),
            public_key: key,
            signature_algorithm: CertSignatureAlgorithm { name: sig_name.into(), oid: sig_oid.into() },
            is_ca: false,
            subject_alt_names: Vec::new(),
            sha256: "00".into(),
        }
    }

    fn report(pq: bool, scheme: u16, chain: Vec<CertificateInfo>) -> EndpointReport {
        let probe = |offered, group: Option<u16>| GroupProbe {
            offered,
            accepted: group.is_some(),
            negotiated_group: group.map(NamedGroup::from_code),
            error: None,
        };
        EndpointReport {
            target: Target { host: "h".into(), port: 1, server_name: None },
            address: None,
            reachability: Reachability::Tls,
            tls_versions: vec![TlsVersion::Tls13],
            group_probes: vec![
                probe(GroupOffer::X25519Mlkem768Only, pq.then_some(0x11EC)),
                probe(GroupOffer::Mlkem768Only, None),
                probe(GroupOffer::ClassicalOnly, None),
            ],
            hello_retry: None,
            negotiated: Some(Negotiated {
                version: TlsVersion::Tls13,
                cipher_suite: "TLS_AES_128_GCM_SHA256".into(),
                group: None,
                signature_scheme: Some(SignatureScheme {
                    name: crate::engine::signature_scheme_name(scheme),
                    code: scheme,
                }),
            }),
            chain,
            client_auth: ClientAuthDemand::None,
            classification: Classification::Unreachable,
            notes: Vec::new(),
            duration_ms: 0,
        }
    }

    const MLDSA65: &str = "2.16.840.1.101.3.4.3.18";
    const MLDSA87: &str = "2.16.840.1.101.3.4.3.19";
    const ECDSA: &str = "1.2.840.10045.4.3.2";

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_780_000_000).unwrap() // 2026-05-28
    }

    #[test]
    fn full_pqc_needs_every_sent_signature_ml_dsa() {
        let leaf = cert("CN=leaf", KeyAlgorithm::MlDsa { parameter_set: 65 }, MLDSA65, "ML-DSA-65");
        let int = cert("CN=int", KeyAlgorithm::MlDsa { parameter_set: 65 }, MLDSA87, "ML-DSA-87");
        let (c, _) = classify_at(&report(true, 0x0905, vec![leaf.clone(), int.clone()]), now());
        assert_eq!(c, Classification::FullPqc);
        // The intermediate signed by a classical root: hybrid, and the reason names it.
        let int_ec_signed = cert("CN=int", KeyAlgorithm::MlDsa { parameter_set: 65 }, ECDSA, "ecdsa-with-SHA256");
        let (c, reasons) = classify_at(&report(true, 0x0905, vec![leaf.clone(), int_ec_signed]), now());
        assert_eq!(c, Classification::HybridKeyExchangeOnly);
        assert!(
            reasons.iter().any(|r| r.contains("chain[1] (CN=int) is signed with ecdsa-with-SHA256")),
            "{reasons:?}"
        );
        // ML-DSA chain but a classical CertificateVerify (impossible with that key, but judged).
        let (c, reasons) = classify_at(&report(true, 0x0403, vec![leaf.clone(), int.clone()]), now());
        assert_eq!(c, Classification::HybridKeyExchangeOnly);
        assert!(reasons.iter().any(|r| r.contains("CertificateVerify signed with ecdsa_secp256r1_sha256")));
        // No chain observed: never full PQC.
        let (c, _) = classify_at(&report(true, 0x0905, vec![]), now());
        assert_eq!(c, Classification::HybridKeyExchangeOnly);
        // Without ML-KEM, ML-DSA does not help.
        let (c, reasons) = classify_at(&report(false, 0x0905, vec![leaf, int]), now());
        assert_eq!(c, Classification::QuantumVulnerable);
        assert_eq!(reasons[0], "no ML-KEM group accepted");
    }

    #[test]
    fn unreachable_and_findings() {
        let mut r = report(false, 0x0403, vec![]);
        r.reachability = Reachability::NotTls { error: "peer answered \"HTTP/1.1 400\"".into() };
        assert_eq!(classify_at(&r, now()).0, Classification::Unreachable);
        let mut expired = cert("CN=old", KeyAlgorithm::Ec { curve: "secp256r1".into() }, ECDSA, "ecdsa-with-SHA256");
        expired.not_after = "2026-02-01T00:00:00Z".into();
        let mut r = report(true, 0x0403, vec![expired]);
        r.tls_versions.push(TlsVersion::Tls10);
        r.group_probes[2].accepted = true;
        let (_, reasons) = classify_at(&r, now());
        for want in ["expired on 2026-02-01", "TLSv1.0 accepted", "downgradeable"] {
            assert!(reasons.iter().any(|x| x.contains(want)), "{want}: {reasons:?}");
        }
    }
}
