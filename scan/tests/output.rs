//! Outputs of the scanner (table, CycloneDX 1.6 CBOM, diff) from hand-built reports.
//!
//! The CBOM test also runs `tests/conformance/cbom_check.py` (cyclonedx-python-lib strict 1.6
//! schema + reference checks) with the interpreter in `QSAFE_PYTHON` (default `python3`). When
//! cyclonedx-python-lib is not importable the test prints `SKIPPED: …`, unless
//! `QSAFE_REQUIRE_CYCLONEDX=1`, in which case it fails (CI sets it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;

use qsafe_scan::model::{
    CertSignatureAlgorithm, CertificateInfo, Classification, ClientAuthDemand, EndpointReport, GroupOffer, GroupProbe,
    HelloRetryProbe, KeyAlgorithm, NamedGroup, Negotiated, Reachability, ScanReport, SignatureScheme, Target,
    TlsVersion, ToolInfo,
};
use qsafe_scan::output::{cbom, diff, table};
use serde_json::Value;

const ML_DSA_65: &str = "2.16.840.1.101.3.4.3.18";
const ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";

fn target(host: &str, port: u16) -> Target {
    Target { host: host.to_owned(), port, server_name: Some(host.to_owned()) }
}

fn cert(cn: &str, issuer: &str, key: KeyAlgorithm, sig: (&str, &str), fill: char, is_ca: bool) -> CertificateInfo {
    CertificateInfo {
        subject: format!("CN={cn},O=qsafe"),
        issuer: format!("CN={issuer},O=qsafe"),
        serial: "01ab".to_owned(),
        not_before: "2026-01-01T00:00:00Z".to_owned(),
        not_after: "2027-01-01T00:00:00Z".to_owned(),
        public_key: key,
        signature_algorithm: CertSignatureAlgorithm { name: sig.0.to_owned(), oid: sig.1.to_owned() },
        is_ca,
        subject_alt_names: if is_ca { vec![] } else { vec![cn.to_owned()] },
        sha256: fill.to_string().repeat(64),
    }
}

fn probe(offered: GroupOffer, group: Option<u16>) -> GroupProbe {
    GroupProbe {
        offered,
        accepted: group.is_some(),
        negotiated_group: group.map(NamedGroup::from_code),
        error: if group.is_none() { Some("handshake_failure".to_owned()) } else { None },
    }
}

#[allow(clippy::too_many_arguments)] // a test fixture: one argument per report field
fn tls_endpoint(
    t: Target,
    class: Classification,
    versions: Vec<TlsVersion>,
    probes: Vec<GroupProbe>,
    group: u16,
    scheme: (&str, u16),
    suite: &str,
    chain: Vec<CertificateInfo>,
    client_auth: ClientAuthDemand,
) -> EndpointReport {
    EndpointReport {
        address: Some(format!("127.0.0.1:{}", t.port)),
        target: t,
        reachability: Reachability::Tls,
        tls_versions: versions,
        group_probes: probes,
        hello_retry: Some(HelloRetryProbe {
            retry_requested: NamedGroup::from_code(group).is_post_quantum(),
            selected_group: Some(NamedGroup::from_code(group)),
            prefers_post_quantum: NamedGroup::from_code(group).is_post_quantum(),
            error: None,
        }),
        negotiated: Some(Negotiated {
            version: TlsVersion::Tls13,
            cipher_suite: suite.to_owned(),
            group: Some(NamedGroup::from_code(group)),
            signature_scheme: Some(SignatureScheme { name: scheme.0.to_owned(), code: scheme.1 }),
        }),
        chain,
        client_auth,
        classification: class,
        notes: vec![],
        duration_ms: 12,
    }
}

fn full_pqc() -> EndpointReport {
    let root_sig = ("ML-DSA-87", "2.16.840.1.101.3.4.3.19");
    tls_endpoint(
        target("gnb-1.ran", 36421),
        Classification::FullPqc,
        vec![TlsVersion::Tls13],
        vec![
            probe(GroupOffer::X25519Mlkem768Only, Some(0x11EC)),
            probe(GroupOffer::Mlkem768Only, Some(0x0201)),
            probe(GroupOffer::ClassicalOnly, None),
        ],
        0x11EC,
        ("mldsa65", 0x0905),
        "TLS_AES_256_GCM_SHA384",
        vec![
            cert(
                "gnb-1.ran",
                "Site CA",
                KeyAlgorithm::MlDsa { parameter_set: 65 },
                ("ML-DSA-65", ML_DSA_65),
                'a',
                false,
            ),
            cert("Site CA", "Root", KeyAlgorithm::MlDsa { parameter_set: 65 }, root_sig, 'b', true),
        ],
        ClientAuthDemand::Required,
    )
}

fn hybrid() -> EndpointReport {
    tls_endpoint(
        target("ric.ran", 443),
        Classification::HybridKeyExchangeOnly,
        vec![TlsVersion::Tls13, TlsVersion::Tls12],
        vec![
            probe(GroupOffer::X25519Mlkem768Only, Some(0x11EC)),
            probe(GroupOffer::Mlkem768Only, None),
            probe(GroupOffer::ClassicalOnly, Some(0x001D)),
        ],
        0x11EC,
        ("ecdsa_secp256r1_sha256", 0x0403),
        "TLS_AES_128_GCM_SHA256",
        vec![cert(
            "ric.ran",
            "Legacy CA",
            KeyAlgorithm::Ec { curve: "secp256r1".to_owned() },
            ("ecdsa-with-SHA256", ECDSA_SHA256),
            'c',
            false,
        )],
        ClientAuthDemand::None,
    )
}

fn vulnerable() -> EndpointReport {
    let mut e = tls_endpoint(
        target("smo.ran", 8443),
        Classification::QuantumVulnerable,
        vec![TlsVersion::Tls13, TlsVersion::Tls12],
        vec![
            probe(GroupOffer::X25519Mlkem768Only, None),
            probe(GroupOffer::Mlkem768Only, None),
            probe(GroupOffer::ClassicalOnly, Some(0x001D)),
        ],
        0x001D,
        ("rsa_pss_rsae_sha256", 0x0804),
        "TLS_CHACHA20_POLY1305_SHA256",
        vec![cert(
            "smo.ran",
            "Corp CA",
            KeyAlgorithm::Rsa { bits: 2048 },
            ("sha256WithRSAEncryption", "1.2.840.113549.1.1.11"),
            'd',
            false,
        )],
        ClientAuthDemand::Optional,
    );
    e.notes = vec!["no ML-KEM group accepted".to_owned(), "TLS 1.2 accepted".to_owned()];
    e
}

fn unreachable() -> EndpointReport {
    EndpointReport {
        target: target("old-node.ran", 36422),
        address: None,
        reachability: Reachability::Unreachable { error: "connection refused".to_owned() },
        tls_versions: vec![],
        group_probes: vec![],
        hello_retry: None,
        negotiated: None,
        chain: vec![],
        client_auth: ClientAuthDemand::Unknown,
        classification: Classification::Unreachable,
        notes: vec!["connection refused".to_owned()],
        duration_ms: 3000,
    }
}

fn report(endpoints: Vec<EndpointReport>) -> ScanReport {
    ScanReport {
        format: qsafe_scan::model::REPORT_FORMAT,
        tool: ToolInfo { name: "qsafe-rapp".to_owned(), version: "0.1.0".to_owned() },
        started_at: "2026-11-24T23:00:00Z".to_owned(),
        finished_at: "2026-11-24T23:00:05Z".to_owned(),
        endpoints,
    }
}

fn estate() -> ScanReport {
    report(vec![full_pqc(), hybrid(), vulnerable(), unreachable()])
}

// ---------------------------------------------------------------------------------------------
// table

#[test]
fn table_has_a_row_per_endpoint_with_labels_and_a_summary() {
    let text = table::render(&estate());
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6, "{text}");
    assert!(lines[0].starts_with("ENDPOINT"), "{text}");
    for h in ["CLASSIFICATION", "TLS", "GROUP", "SIG SCHEME", "LEAF KEY", "CLIENT AUTH", "NOTES"] {
        assert!(lines[0].contains(h), "missing header {h}: {text}");
    }
    let row = |key: &str| *lines.iter().find(|l| l.starts_with(key)).unwrap();
    let pqc = row("gnb-1.ran:36421");
    for cell in ["full-pqc", "TLSv1.3", "X25519MLKEM768", "mldsa65", "ML-DSA-65", "required"] {
        assert!(pqc.contains(cell), "{cell} missing in {pqc}");
    }
    let hyb = row("ric.ran:443");
    for cell in ["hybrid-kex-only", "TLSv1.3,TLSv1.2", "ecdsa_secp256r1_sha256", "EC secp256r1", "none"] {
        assert!(hyb.contains(cell), "{cell} missing in {hyb}");
    }
    let vul = row("smo.ran:8443");
    for cell in ["quantum-vulnerable", "x25519", "RSA-2048", "optional"] {
        assert!(vul.contains(cell), "{cell} missing in {vul}");
    }
    assert!(vul.trim_end().ends_with('2'), "notes count: {vul}");
    let down = row("old-node.ran:36422");
    assert!(down.contains("unreachable") && down.contains("unknown"), "{down}");
    assert_eq!(lines[5], "4 endpoints: 1 full-pqc, 1 hybrid-kex-only, 1 quantum-vulnerable, 1 unreachable", "{text}");
    // Aligned: every column starts at the same offset on every row.
    let col = |l: &str, needle: &str| l.find(needle).unwrap();
    let c = col(lines[0], "CLASSIFICATION");
    assert_eq!(col(pqc, "full-pqc"), c);
    assert_eq!(col(hyb, "hybrid-kex-only"), c);
    assert_eq!(col(down, "unreachable"), c);
    let g = col(lines[0], "GROUP");
    assert_eq!(col(pqc, "X25519MLKEM768"), g);
    assert_eq!(col(vul, "x25519"), g);
    assert!(!text.contains('\u{1b}'), "no colour codes");
}

#[test]
fn table_of_an_empty_scan_is_a_header_and_a_zero_summary() {
    let text = table::render(&report(vec![]));
    assert_eq!(text.lines().count(), 2);
    assert!(text.ends_with("0 endpoints: 0 full-pqc, 0 hybrid-kex-only, 0 quantum-vulnerable, 0 unreachable\n"));
}

// ---------------------------------------------------------------------------------------------
// CBOM

fn components(bom: &Value) -> &Vec<Value> {
    bom["components"].as_array().unwrap()
}

fn component<'a>(bom: &'a Value, bom_ref: &str) -> &'a Value {
    components(bom)
        .iter()
        .find(|c| c["bom-ref"] == bom_ref)
        .unwrap_or_else(|| panic!("no component {bom_ref} in {}", serde_json::to_string_pretty(bom).unwrap()))
}

fn props<'a>(c: &'a Value, name: &str) -> Vec<&'a str> {
    c["properties"]
        .as_array()
        .map(|a| a.iter().filter(|p| p["name"] == name).filter_map(|p| p["value"].as_str()).collect())
        .unwrap_or_default()
}

const SERIAL: &str = "urn:uuid:00000000-0000-4000-8000-000000000000";

#[test]
fn cbom_has_the_expected_components() {
    let bom = cbom::to_cbom_with_serial(&estate(), SERIAL);
    assert_eq!(bom["bomFormat"], "CycloneDX");
    assert_eq!(bom["specVersion"], "1.6");
    assert_eq!(bom["serialNumber"], SERIAL);
    assert_eq!(bom["version"], 1);
    assert_eq!(bom["metadata"]["timestamp"], "2026-11-24T23:00:05Z");
    assert_eq!(bom["metadata"]["tools"]["components"][0]["name"], "qsafe-rapp");
    assert_eq!(bom["metadata"]["lifecycles"][0]["phase"], "discovery");
    assert!(
        bom["metadata"]["properties"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "qsafe:unreachable" && p["value"] == "old-node.ran:36422: connection refused")
    );

    let ml_dsa = component(&bom, "crypto/algorithm/ML-DSA-65");
    let ap = &ml_dsa["cryptoProperties"]["algorithmProperties"];
    assert_eq!(ml_dsa["cryptoProperties"]["assetType"], "algorithm");
    assert_eq!(ml_dsa["cryptoProperties"]["oid"], ML_DSA_65);
    assert_eq!(ap["primitive"], "signature");
    assert_eq!(ap["parameterSetIdentifier"], "65");
    assert_eq!(ap["nistQuantumSecurityLevel"], 3);
    assert_eq!(
        component(&bom, "crypto/algorithm/ML-DSA-87")["cryptoProperties"]["algorithmProperties"]["nistQuantumSecurityLevel"],
        5
    );

    let hybrid = component(&bom, "crypto/algorithm/X25519MLKEM768");
    let hp = &hybrid["cryptoProperties"]["algorithmProperties"];
    assert_eq!(hp["primitive"], "kem");
    assert_eq!(hp["nistQuantumSecurityLevel"], 3);
    assert_eq!(props(hybrid, "qsafe:tls-code-point"), ["0x11EC"]);
    let ml_kem = component(&bom, "crypto/algorithm/ML-KEM-768");
    assert_eq!(ml_kem["cryptoProperties"]["oid"], "2.16.840.1.101.3.4.4.2");
    assert_eq!(ml_kem["cryptoProperties"]["algorithmProperties"]["parameterSetIdentifier"], "768");
    assert_eq!(
        ml_kem["cryptoProperties"]["algorithmProperties"]["cryptoFunctions"],
        serde_json::json!(["encapsulate", "decapsulate"])
    );
    let x25519 = component(&bom, "crypto/algorithm/X25519");
    assert_eq!(x25519["cryptoProperties"]["algorithmProperties"]["primitive"], "key-agree");
    assert_eq!(x25519["cryptoProperties"]["algorithmProperties"]["nistQuantumSecurityLevel"], 0);
    let deps = bom["dependencies"].as_array().unwrap();
    let depends_on = |r: &str| -> Vec<String> {
        deps.iter()
            .find(|d| d["ref"] == r)
            .and_then(|d| d["dependsOn"].as_array())
            .map(|a| a.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default()
    };
    assert_eq!(
        depends_on("crypto/algorithm/X25519MLKEM768"),
        ["crypto/algorithm/ML-KEM-768", "crypto/algorithm/X25519"]
    );
    for classical in ["ECDSA-SHA256", "ECDSA-P256", "RSA-2048", "RSA-SHA256", "RSASSA-PSS-SHA256"] {
        let c = component(&bom, &format!("crypto/algorithm/{classical}"));
        assert_eq!(c["cryptoProperties"]["algorithmProperties"]["nistQuantumSecurityLevel"], 0, "{classical}");
    }
    let aes = component(&bom, "crypto/algorithm/AES-256-GCM");
    assert_eq!(aes["cryptoProperties"]["algorithmProperties"]["primitive"], "ae");
    assert_eq!(aes["cryptoProperties"]["algorithmProperties"]["mode"], "gcm");
    assert_eq!(aes["cryptoProperties"]["algorithmProperties"]["nistQuantumSecurityLevel"], 5);

    // The leaf certificate, its signature algorithm and its public key resolve.
    let leaf_ref = format!("crypto/certificate/{}", "a".repeat(64));
    let leaf = component(&bom, &leaf_ref);
    let cp = &leaf["cryptoProperties"]["certificateProperties"];
    assert_eq!(leaf["cryptoProperties"]["assetType"], "certificate");
    assert_eq!(leaf["name"], "gnb-1.ran");
    assert_eq!(cp["subjectName"], "CN=gnb-1.ran,O=qsafe");
    assert_eq!(cp["issuerName"], "CN=Site CA,O=qsafe");
    assert_eq!(cp["notValidAfter"], "2027-01-01T00:00:00Z");
    assert_eq!(cp["certificateFormat"], "X.509");
    assert_eq!(leaf["hashes"][0]["alg"], "SHA-256");
    let sig = component(&bom, cp["signatureAlgorithmRef"].as_str().unwrap());
    assert_eq!(sig["name"], "ML-DSA-65");
    let key = component(&bom, cp["subjectPublicKeyRef"].as_str().unwrap());
    let kp = &key["cryptoProperties"]["relatedCryptoMaterialProperties"];
    assert_eq!(kp["type"], "public-key");
    assert_eq!(component(&bom, kp["algorithmRef"].as_str().unwrap())["name"], "ML-DSA-65");
    let ec_leaf = component(&bom, &format!("crypto/certificate/{}", "c".repeat(64)));
    let ec_cp = &ec_leaf["cryptoProperties"]["certificateProperties"];
    assert_eq!(component(&bom, ec_cp["signatureAlgorithmRef"].as_str().unwrap())["name"], "ECDSA-SHA256");

    // One protocol component per TLS endpoint, none for the unreachable one.
    let protocols: Vec<&Value> =
        components(&bom).iter().filter(|c| c["cryptoProperties"]["assetType"] == "protocol").collect();
    assert_eq!(protocols.len(), 3);
    let tls = component(&bom, "crypto/protocol/tls/gnb-1.ran:36421");
    let pp = &tls["cryptoProperties"]["protocolProperties"];
    assert_eq!(pp["type"], "tls");
    assert_eq!(pp["version"], "1.3");
    let suite = &pp["cipherSuites"][0];
    assert_eq!(suite["name"], "TLS_AES_256_GCM_SHA384");
    assert_eq!(suite["identifiers"], serde_json::json!(["0x13", "0x02"]));
    assert_eq!(suite["algorithms"], serde_json::json!(["crypto/algorithm/AES-256-GCM", "crypto/algorithm/SHA-384"]));
    let refs: Vec<&str> = pp["cryptoRefArray"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    for r in ["crypto/algorithm/X25519MLKEM768", "crypto/algorithm/ML-KEM-768", "crypto/algorithm/ML-DSA-65", &leaf_ref]
    {
        assert!(refs.contains(&r), "{r} not in {refs:?}");
    }
    assert_eq!(props(tls, "qsafe:classification"), ["full-pqc"]);
    assert_eq!(props(tls, "qsafe:accepted-groups"), ["MLKEM768,X25519MLKEM768"]);
    assert_eq!(props(tls, "qsafe:refused-offers"), ["classical"]);
    assert_eq!(props(tls, "qsafe:hrr"), ["true"]);
    assert_eq!(props(tls, "qsafe:client-auth"), ["required"]);
    assert_eq!(props(component(&bom, "crypto/protocol/tls/smo.ran:8443"), "qsafe:note").len(), 2);
    let tls_deps = depends_on("crypto/protocol/tls/gnb-1.ran:36421");
    assert!(
        tls_deps.contains(&leaf_ref) && tls_deps.contains(&"crypto/algorithm/AES-256-GCM".to_owned()),
        "{tls_deps:?}"
    );

    // Every reference resolves and bom-refs are unique.
    let all_refs: Vec<&str> = components(&bom).iter().map(|c| c["bom-ref"].as_str().unwrap()).collect();
    let mut unique = all_refs.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), all_refs.len());
    for d in deps {
        assert!(all_refs.contains(&d["ref"].as_str().unwrap()));
        for on in d["dependsOn"].as_array().into_iter().flatten() {
            assert!(all_refs.contains(&on.as_str().unwrap()), "{on}");
        }
    }
}

#[test]
fn cbom_dedupes_certificates_and_algorithms_across_endpoints() {
    let mut second = full_pqc();
    second.target = target("gnb-2.ran", 36421);
    let bom = cbom::to_cbom_with_serial(&report(vec![full_pqc(), second]), SERIAL);
    let count = |r: &str| components(&bom).iter().filter(|c| c["bom-ref"] == r).count();
    assert_eq!(count(&format!("crypto/certificate/{}", "a".repeat(64))), 1);
    assert_eq!(count("crypto/algorithm/ML-DSA-65"), 1);
    assert_eq!(count("crypto/protocol/tls/gnb-2.ran:36421"), 1);
}

#[test]
fn cbom_serial_numbers_are_random_v4_uuids() {
    let a = cbom::to_cbom(&estate());
    let b = cbom::to_cbom(&estate());
    let sa = a["serialNumber"].as_str().unwrap();
    assert_ne!(sa, b["serialNumber"].as_str().unwrap());
    let uuid = sa.strip_prefix("urn:uuid:").unwrap();
    let parts: Vec<&str> = uuid.split('-').collect();
    assert_eq!(parts.iter().map(|p| p.len()).collect::<Vec<_>>(), [8, 4, 4, 4, 12]);
    assert!(parts[2].starts_with('4'));
    assert!(matches!(parts[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'));
    assert_eq!(cbom::serial_number_from_bytes([0; 16]), SERIAL);
}

fn python() -> String {
    std::env::var("QSAFE_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

fn require_cyclonedx() -> bool {
    std::env::var("QSAFE_REQUIRE_CYCLONEDX").is_ok_and(|v| v == "1")
}

/// Whether cyclonedx-python-lib (with its JSON validation extra) is importable; `false` means
/// the caller must skip (or fail under `QSAFE_REQUIRE_CYCLONEDX=1`).
fn cyclonedx_available() -> bool {
    let probe = Command::new(python()).args(["-c", "import cyclonedx.validation.json, jsonschema"]).output();
    let ok = matches!(&probe, Ok(o) if o.status.success());
    if !ok {
        let why = match probe {
            Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_owned(),
            Err(e) => e.to_string(),
        };
        assert!(
            !require_cyclonedx(),
            "QSAFE_REQUIRE_CYCLONEDX=1 but cyclonedx-python-lib is not importable with {}: {why}",
            python()
        );
        println!("SKIPPED: cyclonedx-python-lib not importable with {} ({why}); set QSAFE_PYTHON", python());
    }
    ok
}

fn checker() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/cbom_check.py")
}

fn run_checker(files: &[PathBuf]) -> std::process::Output {
    Command::new(python()).arg(checker()).args(files).output().expect("run cbom_check.py")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("qsafe-scan-output-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn cbom_validates_against_the_cyclonedx_1_6_schema() {
    if !cyclonedx_available() {
        return;
    }
    let dir = temp_dir("valid");
    let files: Vec<PathBuf> = [
        ("estate", estate()),
        ("empty", report(vec![])),
        ("unreachable-only", report(vec![unreachable()])),
        ("full-pqc", report(vec![full_pqc()])),
    ]
    .into_iter()
    .map(|(name, r)| {
        let path = dir.join(format!("{name}.cbom.json"));
        std::fs::write(&path, serde_json::to_string_pretty(&cbom::to_cbom(&r)).unwrap()).unwrap();
        path
    })
    .collect();
    let out = run_checker(&files);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "cbom_check failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout.matches("OK ").count(), files.len(), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn cbom_checker_rejects_broken_boms() {
    if !cyclonedx_available() {
        return;
    }
    let dir = temp_dir("broken");
    let good = cbom::to_cbom_with_serial(&estate(), SERIAL);

    // A dangling signatureAlgorithmRef (schema-valid, semantically broken).
    let mut dangling = good.clone();
    for c in dangling["components"].as_array_mut().unwrap() {
        if c["cryptoProperties"]["assetType"] == "certificate" {
            c["cryptoProperties"]["certificateProperties"]["signatureAlgorithmRef"] = "crypto/algorithm/nope".into();
        }
    }
    // An ML-DSA algorithm with quantum level 0.
    let mut weak = good.clone();
    for c in weak["components"].as_array_mut().unwrap() {
        if c["name"] == "ML-DSA-65" {
            c["cryptoProperties"]["algorithmProperties"]["nistQuantumSecurityLevel"] = 0.into();
        }
    }
    // Not schema-valid: an unknown property under cryptoProperties.
    let mut unknown = good.clone();
    unknown["components"][0]["cryptoProperties"]["keyExchangeGroups"] = serde_json::json!(["x25519"]);

    for (name, bom, expect) in [
        ("dangling", dangling, "does not name a bom-ref"),
        ("weak", weak, "nistQuantumSecurityLevel 0"),
        ("unknown", unknown, "schema:"),
    ] {
        let path = dir.join(format!("{name}.cbom.json"));
        std::fs::write(&path, serde_json::to_string(&bom).unwrap()).unwrap();
        let out = run_checker(&[path]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{name}: {stdout}");
        assert!(stdout.contains("INVALID") && stdout.contains(expect), "{name}: {stdout}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------------------
// diff

#[test]
fn identical_scans_have_an_empty_diff() {
    let d = diff::diff(&estate(), &estate());
    assert!(d.is_empty());
    assert_eq!(d.summary.unchanged, 4);
    assert_eq!((d.summary.improved, d.summary.regressed, d.summary.changed), (0, 0, 0));
    assert!(d.render_text().contains("no differences"));
}

#[test]
fn diff_reports_improvement_regression_added_and_removed() {
    let old = estate();
    let mut new_hybrid = hybrid(); // hybrid → full-pqc: ML-DSA certificate deployed
    new_hybrid.classification = Classification::FullPqc;
    new_hybrid.negotiated.as_mut().unwrap().signature_scheme =
        Some(SignatureScheme { name: "mldsa65".to_owned(), code: 0x0905 });
    new_hybrid.chain = full_pqc().chain;
    new_hybrid.chain[0].sha256 = "e".repeat(64);
    let mut new_pqc = full_pqc(); // full-pqc → vulnerable: rolled back to a classical build
    new_pqc.classification = Classification::QuantumVulnerable;
    new_pqc.group_probes = vec![probe(GroupOffer::ClassicalOnly, Some(0x001D))];
    new_pqc.negotiated.as_mut().unwrap().group = Some(NamedGroup::from_code(0x001D));
    new_pqc.tls_versions = vec![TlsVersion::Tls13, TlsVersion::Tls12];
    new_pqc.client_auth = ClientAuthDemand::Optional;
    let mut added = full_pqc();
    added.target = target("gnb-9.ran", 36421);
    // vulnerable() unchanged, unreachable() removed.
    let new = report(vec![new_pqc, new_hybrid, vulnerable(), added]);

    let d = diff::diff(&old, &new);
    assert!(!d.is_empty());
    assert!(d.has_regressions());
    let s = d.summary;
    assert_eq!((s.improved, s.regressed, s.changed, s.unchanged, s.added, s.removed), (1, 1, 0, 1, 1, 1));
    assert_eq!(d.added[0].endpoint, "gnb-9.ran:36421");
    assert_eq!(d.added[0].classification, Classification::FullPqc);
    assert_eq!(d.removed[0].endpoint, "old-node.ran:36422");

    let reg = d.changed.iter().find(|c| c.endpoint == "gnb-1.ran:36421").unwrap();
    assert_eq!(reg.trend, diff::Trend::Regressed);
    let class = reg.classification.as_ref().unwrap();
    assert_eq!((class.old, class.new), (Classification::FullPqc, Classification::QuantumVulnerable));
    assert_eq!(reg.accepted_groups.as_ref().unwrap().new, ["x25519"]);
    assert_eq!(reg.negotiated_group.as_ref().unwrap().new.as_deref(), Some("x25519"));
    assert_eq!(reg.tls_versions.as_ref().unwrap().new, [TlsVersion::Tls13, TlsVersion::Tls12]);
    assert!(reg.client_auth.is_some());
    assert!(reg.leaf.is_none() && reg.signature_scheme.is_none());

    let imp = d.changed.iter().find(|c| c.endpoint == "ric.ran:443").unwrap();
    assert_eq!(imp.trend, diff::Trend::Improved);
    let leaf = imp.leaf.as_ref().unwrap();
    assert_eq!(leaf.old.as_ref().unwrap().key_algorithm, "EC secp256r1");
    assert_eq!(leaf.new.as_ref().unwrap().key_algorithm, "ML-DSA-65");
    assert_eq!(imp.signature_scheme.as_ref().unwrap().new.as_deref(), Some("mldsa65"));

    let text = d.render_text();
    assert!(
        text.starts_with("scan diff: 1 improved, 1 regressed, 0 changed, 1 unchanged, 1 added, 1 removed\n"),
        "{text}"
    );
    let reg_at = text.find("REGRESSED gnb-1.ran:36421").expect("regression line");
    let imp_at = text.find("IMPROVED  ric.ran:443").expect("improvement line");
    assert!(reg_at < imp_at, "regressions first: {text}");
    assert!(text.contains("classification: full-pqc -> quantum-vulnerable"), "{text}");
    assert!(text.contains("leaf certificate: EC secp256r1"), "{text}");
    assert!(text.contains("ADDED     gnb-9.ran:36421 (full-pqc)"), "{text}");
    assert!(text.contains("REMOVED   old-node.ran:36422 (was unreachable)"), "{text}");
}

#[test]
fn certificate_rotation_alone_is_a_change_not_an_improvement() {
    let mut rotated = full_pqc();
    rotated.chain[0].sha256 = "f".repeat(64);
    rotated.chain[0].not_after = "2028-01-01T00:00:00Z".to_owned();
    let d = diff::diff(&report(vec![full_pqc()]), &report(vec![rotated]));
    assert_eq!(d.summary.changed, 1);
    assert_eq!(d.changed[0].trend, diff::Trend::Changed);
    assert!(d.changed[0].classification.is_none());
    assert_eq!(d.changed[0].leaf.as_ref().unwrap().new.as_ref().unwrap().not_after, "2028-01-01T00:00:00Z");
    assert!(d.render_text().contains("CHANGED   gnb-1.ran:36421"));
}

#[test]
fn unreachable_to_reachable_is_a_change() {
    let mut back = full_pqc();
    back.target = unreachable().target;
    let d = diff::diff(&report(vec![unreachable()]), &report(vec![back]));
    assert_eq!(d.changed[0].trend, diff::Trend::Changed);
    assert_eq!((d.summary.improved, d.summary.regressed, d.summary.changed), (0, 0, 1));
}

#[test]
fn scan_diff_json_round_trip() {
    let mut new = estate();
    new.endpoints[1].classification = Classification::QuantumVulnerable;
    new.endpoints.pop();
    let d = diff::diff(&estate(), &new);
    let text = serde_json::to_string(&d).unwrap();
    let back: diff::ScanDiff = serde_json::from_str(&text).unwrap();
    assert_eq!(back, d);
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["changed"][0]["trend"], "regressed");
    assert_eq!(v["changed"][0]["classification"]["old"], "hybrid_key_exchange_only");
    assert_eq!(v["summary"]["removed"], 1);
}

// ---------------------------------------------------------------------------------------------
// end to end: a real scan of the reference servers → every output

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outputs_of_a_real_scan() {
    use qsafe_scan::testserver::{self, ServerProfile};
    let mut servers = Vec::new();
    for p in
        [ServerProfile::FullPqc, ServerProfile::Hybrid, ServerProfile::Classical, ServerProfile::ClientAuthRequired]
    {
        servers.push(testserver::spawn(p).await.unwrap());
    }
    let targets: Vec<Target> = servers
        .iter()
        .map(|s| Target { host: "127.0.0.1".to_owned(), port: s.addr.port(), server_name: None })
        .collect();
    let config = qsafe_scan::ScanConfig { timeout: std::time::Duration::from_secs(10), ..Default::default() };
    let report = qsafe_scan::scan(targets, &config, &qsafe_scan::NoProgress).await;
    let classes: Vec<Classification> = report.endpoints.iter().map(|e| e.classification).collect();
    assert_eq!(
        classes,
        [
            Classification::FullPqc,
            Classification::HybridKeyExchangeOnly,
            Classification::QuantumVulnerable,
            Classification::HybridKeyExchangeOnly
        ]
    );

    let text = table::render(&report);
    assert!(text.contains("4 endpoints: 1 full-pqc, 2 hybrid-kex-only, 1 quantum-vulnerable, 0 unreachable"), "{text}");
    assert!(text.contains("required"), "{text}");

    let bom = cbom::to_cbom(&report);
    component(&bom, "crypto/algorithm/ML-DSA-65");
    component(&bom, "crypto/algorithm/X25519MLKEM768");
    let certs = components(&bom).iter().filter(|c| c["cryptoProperties"]["assetType"] == "certificate").count();
    assert_eq!(certs, 8, "4 servers x (leaf + intermediate), all distinct keys");
    assert!(diff::diff(&report, &report).is_empty());

    if cyclonedx_available() {
        let dir = temp_dir("real");
        let path = dir.join("real.cbom.json");
        std::fs::write(&path, serde_json::to_string_pretty(&bom).unwrap()).unwrap();
        let out = run_checker(std::slice::from_ref(&path));
        assert!(out.status.success(), "cbom_check failed:\n{}", String::from_utf8_lossy(&out.stdout));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
