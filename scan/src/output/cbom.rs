//! CycloneDX 1.6 Cryptography Bill of Materials (CBOM, JSON) from a scan.
//!
//! Why: a CBOM is the standard inventory format for "which cryptography do we run, where". The
//! scan's findings become `cryptographic-asset` components other tools can ingest, track over
//! time and query ("every endpoint still on a classical group", "every certificate signed with
//! ECDSA expiring after 2030").
//!
//! # Mapping
//!
//! | report (model) | CBOM |
//! |---|---|
//! | `tool` | `metadata.tools.components[0]` (`type: application`, name, version) |
//! | `finished_at` | `metadata.timestamp`; `started_at` → `metadata.properties` `qsafe:started-at` |
//! | (the scan itself) | `metadata.lifecycles = [{phase: "discovery"}]` (network discovery, point in time) |
//! | endpoint that answered TLS | one `protocol` component `crypto/protocol/tls/<host:port>`: `protocolProperties.type = "tls"`, `version` = negotiated version (`"1.3"`), `cipherSuites = [{name, algorithms, identifiers}]` for the negotiated suite, `cryptoRefArray` = key-exchange groups, signature scheme and certificates |
//! | endpoint facts the schema has no field for | `properties` of the protocol component, `qsafe:` namespace: `qsafe:endpoint`, `qsafe:address`, `qsafe:server-name`, `qsafe:classification`, `qsafe:tls-versions`, `qsafe:negotiated-group`, `qsafe:signature-scheme`, `qsafe:accepted-groups`, `qsafe:refused-offers`, `qsafe:hrr`, `qsafe:hrr-selected-group`, `qsafe:hrr-prefers-pq`, `qsafe:client-auth`, `qsafe:note` (one per note), `qsafe:duration-ms` |
//! | unreachable / not-TLS endpoint | no component (there is no protocol to describe): `metadata.properties` `qsafe:unreachable` / `qsafe:not-tls` = `host:port: error` |
//! | negotiated group, accepted `group_probes` groups | `algorithm` components: ML-KEM-512/768/1024 (`kem`, FIPS 203 OIDs, level 1/3/5), hybrids X25519MLKEM768 / SecP256r1MLKEM768 / SecP384r1MLKEM1024 (`kem`, level 3/3/5, depending on their two halves), X25519 / X448 / ECDH-P256/384/521 / FFDHE (`key-agree`, level 0) |
//! | `negotiated.signature_scheme` | `algorithm`: ML-DSA-44/65/87 (`signature`, level 2/3/5), ECDSA-SHA256/384/512, RSASSA-PSS-SHA*, RSA-SHA* (PKCS#1 v1.5), Ed25519/Ed448 (level 0) |
//! | `negotiated.cipher_suite` | `algorithm`s AES-128/256-GCM, AES-128-CCM (`ae`, level 1/5/1), ChaCha20-Poly1305 (`ae`, level 5), SHA-256/384 (`hash`, level 2/4) |
//! | `chain[i]` (deduplicated by `sha256`) | `certificate` component `crypto/certificate/<sha256>`: subjectName, issuerName, notValidBefore/After, `signatureAlgorithmRef` → the signature algorithm, `subjectPublicKeyRef` → a `related-crypto-material` `public-key` component, `certificateFormat: "X.509"`, `certificateExtension: "der"`; the fingerprint as component `hashes: [{alg: SHA-256}]`; serial, cA flag and SANs as `qsafe:` properties |
//! | `chain[i].public_key` | `related-crypto-material` component `crypto/key/<sha256>` (`type: public-key`, `algorithmRef` → ML-DSA-65 / ECDSA-P256 / RSA-2048 / …, `size` in bits for EC and RSA) |
//! | who uses what | `dependencies`: protocol → groups, suite algorithms, signature scheme, certificates; certificate → signature algorithm, public key; public key → key algorithm; hybrid group → its ML-KEM and ECDH halves; every other component with an empty entry |
//!
//! Schema-forced choices:
//!
//! * The hybrid groups are `primitive: "kem"`: TLS 1.3 uses them as a KEM (client key share =
//!   encapsulation key, server share = ciphertext, draft-ietf-tls-ecdhe-mlkem), and `combiner`
//!   in the 1.6 enum describes a combiner *of candidates for one primitive*. Their composition is
//!   not lost: the dependency graph links each hybrid to its ML-KEM and ECDH components.
//! * 1.6 `protocolProperties` has no "key exchange groups" field (only IKEv2 transform types):
//!   groups go into the generic `cryptoRefArray` (as references) and into `qsafe:` properties
//!   (as names, with the offers that were refused).
//! * There is no certificate fingerprint field: the SHA-256 goes into the component's generic
//!   `hashes`, which the schema allows on every component.
//! * `nistQuantumSecurityLevel` is 0 for everything a quantum computer breaks (ECDH, ECDSA, RSA,
//!   EdDSA, SHA-1); symmetric algorithms get the NIST category their strength matches (AES-128
//!   → 1, SHA-256 → 2, SHA-384 → 4, AES-256 / ChaCha20 → 5). Algorithms the scanner cannot
//!   identify get no level rather than a guess.
//! * Bom-refs are stable (`crypto/algorithm/ML-DSA-65`, `crypto/certificate/<sha256>`,
//!   `crypto/key/<sha256>`, `crypto/protocol/tls/<host:port>`), so two CBOMs of the same estate
//!   can be compared by reference.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Map, Value, json};

use crate::model::{
    CertSignatureAlgorithm, CertificateInfo, EndpointReport, GroupOffer, KeyAlgorithm, NamedGroup, Reachability,
    ScanReport, SignatureScheme,
};

use super::{accepted_groups, client_auth_label};

/// The CycloneDX spec version written.
pub const SPEC_VERSION: &str = "1.6";

/// The CBOM of `report` with a random (v4) serial number.
pub fn to_cbom(report: &ScanReport) -> Value {
    to_cbom_with_serial(report, &random_serial_number())
}

/// The CBOM of `report` with the given `urn:uuid:…` serial number (reproducible output for tests
/// and golden files; see [`serial_number_from_bytes`]).
pub fn to_cbom_with_serial(report: &ScanReport, serial_number: &str) -> Value {
    let mut bom = Bom::default();
    let mut metadata_properties = vec![
        property("qsafe:report-format", report.format.to_string()),
        property("qsafe:started-at", report.started_at.clone()),
    ];
    for endpoint in &report.endpoints {
        match &endpoint.reachability {
            Reachability::Tls => bom.add_endpoint(endpoint),
            Reachability::Unreachable { error } => {
                metadata_properties.push(property("qsafe:unreachable", format!("{}: {error}", endpoint.target.key())));
            }
            Reachability::NotTls { error } => {
                metadata_properties.push(property("qsafe:not-tls", format!("{}: {error}", endpoint.target.key())));
            }
        }
    }
    let Bom { components, dependencies, .. } = bom;
    let mut deps: Vec<Value> = Vec::with_capacity(components.len());
    for component in &components {
        let Some(bom_ref) = component.get("bom-ref").and_then(Value::as_str) else { continue };
        let mut entry = Map::new();
        entry.insert("ref".to_owned(), json!(bom_ref));
        if let Some(on) = dependencies.get(bom_ref).filter(|on| !on.is_empty()) {
            entry.insert("dependsOn".to_owned(), json!(on));
        }
        deps.push(Value::Object(entry));
    }
    json!({
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": serial_number,
        "version": 1,
        "metadata": {
            "timestamp": report.finished_at,
            "lifecycles": [{ "phase": "discovery" }],
            "tools": {
                "components": [{
                    "type": "application",
                    "name": report.tool.name,
                    "version": report.tool.version,
                }],
            },
            "properties": metadata_properties,
        },
        "components": components,
        "dependencies": deps,
    })
}

/// A fresh random `urn:uuid:` (RFC 4122 version 4) serial number.
pub fn random_serial_number() -> String {
    serial_number_from_bytes(rand::random())
}

/// `urn:uuid:` serial number from 16 bytes, with the version (4) and variant bits set.
pub fn serial_number_from_bytes(mut b: [u8; 16]) -> String {
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("urn:uuid:{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// bom-ref of the algorithm component named `name` (e.g. `ML-DSA-65`).
pub fn algorithm_ref(name: &str) -> String {
    format!("crypto/algorithm/{name}")
}

/// bom-ref of the certificate component with this SHA-256 fingerprint.
pub fn certificate_ref(sha256: &str) -> String {
    format!("crypto/certificate/{sha256}")
}

/// bom-ref of the public-key component of the certificate with this SHA-256 fingerprint.
pub fn public_key_ref(sha256: &str) -> String {
    format!("crypto/key/{sha256}")
}

/// bom-ref of the protocol component of an endpoint (`host:port` from [`crate::model::Target::key`]).
pub fn protocol_ref(endpoint_key: &str) -> String {
    format!("crypto/protocol/tls/{endpoint_key}")
}

/// Components in first-seen order plus the dependency graph being built.
#[derive(Default)]
struct Bom {
    components: Vec<Value>,
    seen: BTreeSet<String>,
    dependencies: HashMap<String, Vec<String>>,
}

impl Bom {
    fn push(&mut self, bom_ref: &str, component: Value) -> bool {
        if !self.seen.insert(bom_ref.to_owned()) {
            return false;
        }
        self.components.push(component);
        true
    }

    fn depends(&mut self, from: &str, on: &str) {
        let list = self.dependencies.entry(from.to_owned()).or_default();
        if !list.iter().any(|r| r == on) {
            list.push(on.to_owned());
        }
    }

    /// Adds the algorithm (and its parts) once; returns its bom-ref.
    fn algorithm(&mut self, alg: Algorithm) -> String {
        let bom_ref = algorithm_ref(&alg.name);
        if self.seen.contains(&bom_ref) {
            return bom_ref;
        }
        let mut props = Map::new();
        props.insert("primitive".to_owned(), json!(alg.primitive));
        if let Some(p) = &alg.parameter_set {
            props.insert("parameterSetIdentifier".to_owned(), json!(p));
        }
        if let Some(c) = &alg.curve {
            props.insert("curve".to_owned(), json!(c));
        }
        if let Some(m) = alg.mode {
            props.insert("mode".to_owned(), json!(m));
        }
        if let Some(p) = alg.padding {
            props.insert("padding".to_owned(), json!(p));
        }
        if !alg.functions.is_empty() {
            props.insert("cryptoFunctions".to_owned(), json!(alg.functions));
        }
        if let Some(l) = alg.classical_level {
            props.insert("classicalSecurityLevel".to_owned(), json!(l));
        }
        if let Some(l) = alg.quantum_level {
            props.insert("nistQuantumSecurityLevel".to_owned(), json!(l));
        }
        let mut crypto = Map::new();
        crypto.insert("assetType".to_owned(), json!("algorithm"));
        crypto.insert("algorithmProperties".to_owned(), Value::Object(props));
        if let Some(oid) = &alg.oid {
            crypto.insert("oid".to_owned(), json!(oid));
        }
        let mut component = Map::new();
        component.insert("type".to_owned(), json!("cryptographic-asset"));
        component.insert("bom-ref".to_owned(), json!(bom_ref));
        component.insert("name".to_owned(), json!(alg.name));
        component.insert("cryptoProperties".to_owned(), Value::Object(crypto));
        if let Some(code) = alg.tls_code {
            component.insert("properties".to_owned(), json!([property("qsafe:tls-code-point", code)]));
        }
        self.push(&bom_ref, Value::Object(component));
        for part in alg.parts {
            let part_ref = self.algorithm(part);
            self.depends(&bom_ref, &part_ref);
        }
        bom_ref
    }

    /// Adds the certificate and its public key once; returns the certificate's bom-ref.
    fn certificate(&mut self, cert: &CertificateInfo) -> String {
        let cert_ref = certificate_ref(&cert.sha256);
        if self.seen.contains(&cert_ref) {
            return cert_ref;
        }
        let sig_ref = self.algorithm(cert_signature_algorithm(&cert.signature_algorithm));
        let key_alg_ref = self.algorithm(key_algorithm(&cert.public_key));
        let key_ref = public_key_ref(&cert.sha256);

        let mut key_props = Map::new();
        key_props.insert("type".to_owned(), json!("public-key"));
        key_props.insert("algorithmRef".to_owned(), json!(key_alg_ref));
        if let Some(bits) = key_size_bits(&cert.public_key) {
            key_props.insert("size".to_owned(), json!(bits));
        }
        key_props.insert("format".to_owned(), json!("SubjectPublicKeyInfo"));
        self.push(
            &key_ref,
            json!({
                "type": "cryptographic-asset",
                "bom-ref": key_ref,
                "name": format!("public key of {}", display_name(cert)),
                "cryptoProperties": {
                    "assetType": "related-crypto-material",
                    "relatedCryptoMaterialProperties": key_props,
                },
            }),
        );
        self.depends(&key_ref, &key_alg_ref);

        let mut properties = vec![
            property("qsafe:serial", cert.serial.clone()),
            property("qsafe:is-ca", cert.is_ca.to_string()),
            property("qsafe:public-key", super::key_algorithm_label(&cert.public_key)),
            property("qsafe:signature-algorithm", cert.signature_algorithm.name.clone()),
        ];
        properties.extend(cert.subject_alt_names.iter().map(|san| property("qsafe:subject-alt-name", san.clone())));
        let mut component = Map::new();
        component.insert("type".to_owned(), json!("cryptographic-asset"));
        component.insert("bom-ref".to_owned(), json!(cert_ref));
        component.insert("name".to_owned(), json!(display_name(cert)));
        if is_hex_sha256(&cert.sha256) {
            component.insert(
                "hashes".to_owned(),
                json!([{ "alg": "SHA-256", "content": cert.sha256.to_ascii_lowercase() }]),
            );
        }
        component.insert(
            "cryptoProperties".to_owned(),
            json!({
                "assetType": "certificate",
                "certificateProperties": {
                    "subjectName": cert.subject,
                    "issuerName": cert.issuer,
                    "notValidBefore": cert.not_before,
                    "notValidAfter": cert.not_after,
                    "signatureAlgorithmRef": sig_ref,
                    "subjectPublicKeyRef": key_ref,
                    "certificateFormat": "X.509",
                    "certificateExtension": "der",
                },
            }),
        );
        component.insert("properties".to_owned(), json!(properties));
        self.push(&cert_ref, Value::Object(component));
        self.depends(&cert_ref, &sig_ref);
        self.depends(&cert_ref, &key_ref);
        cert_ref
    }

    fn add_endpoint(&mut self, endpoint: &EndpointReport) {
        let key = endpoint.target.key();
        let proto_ref = protocol_ref(&key);
        if self.seen.contains(&proto_ref) {
            return; // the same endpoint listed twice: the first report describes it
        }
        let mut refs: Vec<String> = Vec::new();
        let mut uses = |bom: &mut Self, r: String| {
            bom.depends(&proto_ref, &r);
            if !refs.contains(&r) {
                refs.push(r);
            }
        };

        let negotiated = endpoint.negotiated.as_ref();
        let mut groups: Vec<&NamedGroup> = negotiated.and_then(|n| n.group.as_ref()).into_iter().collect();
        groups.extend(endpoint.group_probes.iter().filter(|p| p.accepted).filter_map(|p| p.negotiated_group.as_ref()));
        for group in groups {
            let r = self.algorithm(group_algorithm(group));
            uses(self, r);
        }
        if let Some(scheme) = negotiated.and_then(|n| n.signature_scheme.as_ref()) {
            let r = self.algorithm(scheme_algorithm(scheme));
            uses(self, r);
        }
        let mut cipher_suites = Vec::new();
        if let Some(n) = negotiated {
            let mut algorithms = Vec::new();
            for alg in suite_algorithms(&n.cipher_suite) {
                let r = self.algorithm(alg);
                self.depends(&proto_ref, &r);
                algorithms.push(r);
            }
            let mut suite = Map::new();
            suite.insert("name".to_owned(), json!(n.cipher_suite));
            if !algorithms.is_empty() {
                suite.insert("algorithms".to_owned(), json!(algorithms));
            }
            if let Some([a, b]) = suite_identifiers(&n.cipher_suite) {
                suite.insert("identifiers".to_owned(), json!([a, b]));
            }
            cipher_suites.push(Value::Object(suite));
        }
        for cert in &endpoint.chain {
            let r = self.certificate(cert);
            uses(self, r);
        }

        let version = negotiated.map(|n| n.version).or_else(|| endpoint.tls_versions.first().copied());
        let mut proto = Map::new();
        proto.insert("type".to_owned(), json!("tls"));
        if let Some(v) = version {
            proto.insert("version".to_owned(), json!(v.name().trim_start_matches("TLSv")));
        }
        if !cipher_suites.is_empty() {
            proto.insert("cipherSuites".to_owned(), json!(cipher_suites));
        }
        if !refs.is_empty() {
            proto.insert("cryptoRefArray".to_owned(), json!(refs));
        }

        let mut properties = vec![property("qsafe:endpoint", key.clone())];
        if let Some(a) = &endpoint.address {
            properties.push(property("qsafe:address", a.clone()));
        }
        if let Some(sni) = &endpoint.target.server_name {
            properties.push(property("qsafe:server-name", sni.clone()));
        }
        properties.push(property("qsafe:classification", endpoint.classification.label().to_owned()));
        let versions: Vec<&str> = endpoint.tls_versions.iter().map(|v| v.name()).collect();
        properties.push(property("qsafe:tls-versions", versions.join(",")));
        if let Some(g) = negotiated.and_then(|n| n.group.as_ref()) {
            properties.push(property("qsafe:negotiated-group", g.name.clone()));
        }
        if let Some(s) = negotiated.and_then(|n| n.signature_scheme.as_ref()) {
            properties.push(property("qsafe:signature-scheme", s.name.clone()));
        }
        properties.push(property("qsafe:accepted-groups", accepted_groups(endpoint).join(",")));
        let refused: Vec<&str> =
            endpoint.group_probes.iter().filter(|p| !p.accepted).map(|p| offer_label(p.offered)).collect();
        properties.push(property("qsafe:refused-offers", refused.join(",")));
        if let Some(hrr) = &endpoint.hello_retry {
            properties.push(property("qsafe:hrr", hrr.retry_requested.to_string()));
            if let Some(g) = &hrr.selected_group {
                properties.push(property("qsafe:hrr-selected-group", g.name.clone()));
            }
            properties.push(property("qsafe:hrr-prefers-pq", hrr.prefers_post_quantum.to_string()));
        }
        properties.push(property("qsafe:client-auth", client_auth_label(endpoint.client_auth).to_owned()));
        properties.extend(endpoint.notes.iter().map(|n| property("qsafe:note", n.clone())));
        properties.push(property("qsafe:duration-ms", endpoint.duration_ms.to_string()));

        self.push(
            &proto_ref,
            json!({
                "type": "cryptographic-asset",
                "bom-ref": proto_ref,
                "name": format!("TLS {key}"),
                "cryptoProperties": {
                    "assetType": "protocol",
                    "protocolProperties": proto,
                },
                "properties": properties,
            }),
        );
        // Keep an entry even when nothing is known to be used.
        self.dependencies.entry(proto_ref).or_default();
    }
}

fn property(name: &str, value: String) -> Value {
    json!({ "name": name, "value": value })
}

fn offer_label(offer: GroupOffer) -> &'static str {
    match offer {
        GroupOffer::X25519Mlkem768Only => "X25519MLKEM768",
        GroupOffer::Mlkem768Only => "MLKEM768",
        GroupOffer::ClassicalOnly => "classical",
    }
}

fn display_name(cert: &CertificateInfo) -> String {
    cert.subject
        .split(',')
        .find_map(|rdn| rdn.trim().strip_prefix("CN="))
        .map_or_else(|| cert.subject.clone(), str::to_owned)
}

fn is_hex_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn key_size_bits(key: &KeyAlgorithm) -> Option<u32> {
    match key {
        KeyAlgorithm::Rsa { bits } => Some(*bits),
        KeyAlgorithm::Ec { curve } => curve_bits(curve),
        KeyAlgorithm::Ed25519 => Some(256),
        KeyAlgorithm::Ed448 => Some(456),
        KeyAlgorithm::MlDsa { .. } | KeyAlgorithm::Other { .. } => None,
    }
}

fn curve_bits(curve: &str) -> Option<u32> {
    match curve {
        "secp256r1" | "prime256v1" | "P-256" => Some(256),
        "secp384r1" | "P-384" => Some(384),
        "secp521r1" | "P-521" => Some(521),
        _ => None,
    }
}

/// An algorithm component, before it becomes JSON.
#[derive(Debug, Clone, Default)]
struct Algorithm {
    name: String,
    primitive: &'static str,
    parameter_set: Option<String>,
    curve: Option<String>,
    mode: Option<&'static str>,
    padding: Option<&'static str>,
    functions: &'static [&'static str],
    classical_level: Option<u32>,
    quantum_level: Option<u32>,
    oid: Option<String>,
    /// The algorithms a hybrid is made of.
    parts: Vec<Algorithm>,
    /// TLS code point (groups), e.g. `0x11EC`.
    tls_code: Option<String>,
}

const SIGN: &[&str] = &["sign", "verify"];
const KEM: &[&str] = &["encapsulate", "decapsulate"];
const AEAD: &[&str] = &["encrypt", "decrypt"];
const DIGEST: &[&str] = &["digest"];

fn ml_kem(parameter_set: u16) -> Algorithm {
    let (level, oid) = match parameter_set {
        512 => (1, "2.16.840.1.101.3.4.4.1"),
        768 => (3, "2.16.840.1.101.3.4.4.2"),
        _ => (5, "2.16.840.1.101.3.4.4.3"),
    };
    Algorithm {
        name: format!("ML-KEM-{parameter_set}"),
        primitive: "kem",
        parameter_set: Some(parameter_set.to_string()),
        functions: KEM,
        quantum_level: Some(level),
        oid: Some(oid.to_owned()),
        ..Algorithm::default()
    }
}

/// ML-DSA-44/65/87; another parameter set gets no level (nothing to claim).
fn ml_dsa(parameter_set: u16) -> Algorithm {
    let known = match parameter_set {
        44 => Some((2, "2.16.840.1.101.3.4.3.17")),
        65 => Some((3, "2.16.840.1.101.3.4.3.18")),
        87 => Some((5, "2.16.840.1.101.3.4.3.19")),
        _ => None,
    };
    Algorithm {
        name: format!("ML-DSA-{parameter_set}"),
        primitive: "signature",
        parameter_set: Some(parameter_set.to_string()),
        functions: SIGN,
        quantum_level: known.map(|k| k.0),
        oid: known.map(|k| k.1.to_owned()),
        ..Algorithm::default()
    }
}

fn ecdh(name: &str, curve: &str, classical: u32, oid: Option<&str>) -> Algorithm {
    Algorithm {
        name: name.to_owned(),
        primitive: "key-agree",
        curve: Some(curve.to_owned()),
        classical_level: Some(classical),
        quantum_level: Some(0),
        oid: oid.map(str::to_owned),
        ..Algorithm::default()
    }
}

fn hybrid(group: &NamedGroup, kem: u16, classical: Algorithm, level: u32) -> Algorithm {
    Algorithm {
        name: group.name.clone(),
        primitive: "kem",
        parameter_set: Some(kem.to_string()),
        functions: KEM,
        classical_level: classical.classical_level,
        quantum_level: Some(level),
        parts: vec![ml_kem(kem), classical],
        ..Algorithm::default()
    }
}

fn group_algorithm(group: &NamedGroup) -> Algorithm {
    let x25519 = || ecdh("X25519", "Curve25519", 128, Some("1.3.101.110"));
    let p256 = || ecdh("ECDH-P256", "secp256r1", 128, None);
    let p384 = || ecdh("ECDH-P384", "secp384r1", 192, None);
    let mut alg = match group.code {
        0x0017 => p256(),
        0x0018 => p384(),
        0x0019 => ecdh("ECDH-P521", "secp521r1", 256, None),
        0x001D => x25519(),
        0x001E => ecdh("X448", "Curve448", 224, Some("1.3.101.111")),
        0x0100..=0x0104 => {
            let (bits, classical) = match group.code {
                0x0100 => (2048, 103),
                0x0101 => (3072, 125),
                0x0102 => (4096, 150),
                0x0103 => (6144, 175),
                _ => (8192, 192),
            };
            Algorithm {
                name: format!("FFDHE-{bits}"),
                primitive: "key-agree",
                parameter_set: Some(bits.to_string()),
                classical_level: Some(classical),
                quantum_level: Some(0),
                ..Algorithm::default()
            }
        }
        0x0200 => ml_kem(512),
        0x0201 => ml_kem(768),
        0x0202 => ml_kem(1024),
        0x11EB => hybrid(group, 768, p256(), 3),
        0x11EC => hybrid(group, 768, x25519(), 3),
        0x11ED => hybrid(group, 1024, p384(), 5),
        _ => Algorithm { name: group.name.clone(), primitive: "unknown", ..Algorithm::default() },
    };
    alg.tls_code = Some(format!("0x{:04X}", group.code));
    alg
}

fn ecdsa(hash: &str) -> Algorithm {
    let oid = match hash {
        "SHA1" => Some("1.2.840.10045.4.1"),
        "SHA256" => Some("1.2.840.10045.4.3.2"),
        "SHA384" => Some("1.2.840.10045.4.3.3"),
        "SHA512" => Some("1.2.840.10045.4.3.4"),
        _ => None,
    };
    Algorithm {
        name: format!("ECDSA-{hash}"),
        primitive: "signature",
        functions: SIGN,
        quantum_level: Some(0),
        oid: oid.map(str::to_owned),
        ..Algorithm::default()
    }
}

fn rsa_pkcs1(hash: &str) -> Algorithm {
    let oid = match hash {
        "SHA1" => Some("1.2.840.113549.1.1.5"),
        "SHA256" => Some("1.2.840.113549.1.1.11"),
        "SHA384" => Some("1.2.840.113549.1.1.12"),
        "SHA512" => Some("1.2.840.113549.1.1.13"),
        _ => None,
    };
    Algorithm {
        name: format!("RSA-{hash}"),
        primitive: "signature",
        padding: Some("pkcs1v15"),
        functions: SIGN,
        quantum_level: Some(0),
        oid: oid.map(str::to_owned),
        ..Algorithm::default()
    }
}

fn rsa_pss(hash: &str) -> Algorithm {
    Algorithm {
        name: if hash.is_empty() { "RSASSA-PSS".to_owned() } else { format!("RSASSA-PSS-{hash}") },
        primitive: "signature",
        functions: SIGN,
        quantum_level: Some(0),
        oid: Some("1.2.840.113549.1.1.10".to_owned()),
        ..Algorithm::default()
    }
}

fn eddsa(name: &str, classical: u32, oid: &str) -> Algorithm {
    Algorithm {
        name: name.to_owned(),
        primitive: "signature",
        functions: SIGN,
        classical_level: Some(classical),
        quantum_level: Some(0),
        oid: Some(oid.to_owned()),
        ..Algorithm::default()
    }
}

fn scheme_hash(name: &str) -> &'static str {
    if name.ends_with("sha256") {
        "SHA256"
    } else if name.ends_with("sha384") {
        "SHA384"
    } else if name.ends_with("sha512") {
        "SHA512"
    } else if name.ends_with("sha1") {
        "SHA1"
    } else {
        ""
    }
}

fn scheme_algorithm(scheme: &SignatureScheme) -> Algorithm {
    let name = scheme.name.to_ascii_lowercase();
    match scheme.code {
        0x0904 => ml_dsa(44),
        0x0905 => ml_dsa(65),
        0x0906 => ml_dsa(87),
        0x0807 => eddsa("Ed25519", 128, "1.3.101.112"),
        0x0808 => eddsa("Ed448", 224, "1.3.101.113"),
        _ if name.starts_with("ecdsa_") => ecdsa(scheme_hash(&name)),
        _ if name.starts_with("rsa_pss_") => rsa_pss(scheme_hash(&name)),
        _ if name.starts_with("rsa_pkcs1_") => rsa_pkcs1(scheme_hash(&name)),
        _ => Algorithm { name: scheme.name.clone(), primitive: "signature", functions: SIGN, ..Algorithm::default() },
    }
}

fn cert_signature_algorithm(alg: &CertSignatureAlgorithm) -> Algorithm {
    match alg.oid.as_str() {
        "2.16.840.1.101.3.4.3.17" => ml_dsa(44),
        "2.16.840.1.101.3.4.3.18" => ml_dsa(65),
        "2.16.840.1.101.3.4.3.19" => ml_dsa(87),
        "1.2.840.10045.4.1" => ecdsa("SHA1"),
        "1.2.840.10045.4.3.2" => ecdsa("SHA256"),
        "1.2.840.10045.4.3.3" => ecdsa("SHA384"),
        "1.2.840.10045.4.3.4" => ecdsa("SHA512"),
        "1.2.840.113549.1.1.5" => rsa_pkcs1("SHA1"),
        "1.2.840.113549.1.1.11" => rsa_pkcs1("SHA256"),
        "1.2.840.113549.1.1.12" => rsa_pkcs1("SHA384"),
        "1.2.840.113549.1.1.13" => rsa_pkcs1("SHA512"),
        "1.2.840.113549.1.1.10" => rsa_pss(""),
        "1.3.101.112" => eddsa("Ed25519", 128, "1.3.101.112"),
        "1.3.101.113" => eddsa("Ed448", 224, "1.3.101.113"),
        oid => Algorithm {
            name: alg.name.clone(),
            primitive: "signature",
            functions: SIGN,
            oid: Some(oid.to_owned()),
            ..Algorithm::default()
        },
    }
}

fn key_algorithm(key: &KeyAlgorithm) -> Algorithm {
    match key {
        KeyAlgorithm::MlDsa { parameter_set } => ml_dsa(*parameter_set),
        KeyAlgorithm::Ec { curve } => {
            let (short, classical) = match curve.as_str() {
                "secp256r1" | "prime256v1" => ("P256", Some(128)),
                "secp384r1" => ("P384", Some(192)),
                "secp521r1" => ("P521", Some(256)),
                other => (other, None),
            };
            Algorithm {
                name: format!("ECDSA-{short}"),
                primitive: "signature",
                curve: Some(curve.clone()),
                functions: SIGN,
                classical_level: classical,
                quantum_level: Some(0),
                oid: Some("1.2.840.10045.2.1".to_owned()),
                ..Algorithm::default()
            }
        }
        KeyAlgorithm::Rsa { bits } => {
            let classical = match *bits {
                15360.. => Some(256),
                7680.. => Some(192),
                3072.. => Some(128),
                2048.. => Some(112),
                _ => None,
            };
            Algorithm {
                name: format!("RSA-{bits}"),
                primitive: "signature",
                parameter_set: Some(bits.to_string()),
                functions: SIGN,
                classical_level: classical,
                quantum_level: Some(0),
                oid: Some("1.2.840.113549.1.1.1".to_owned()),
                ..Algorithm::default()
            }
        }
        KeyAlgorithm::Ed25519 => eddsa("Ed25519", 128, "1.3.101.112"),
        KeyAlgorithm::Ed448 => eddsa("Ed448", 224, "1.3.101.113"),
        KeyAlgorithm::Other { oid } => Algorithm {
            name: format!("OID-{oid}"),
            primitive: "unknown",
            oid: Some(oid.clone()),
            ..Algorithm::default()
        },
    }
}

fn aead(name: &str, bits: u32, mode: Option<&'static str>, level: u32, oid: Option<&str>) -> Algorithm {
    Algorithm {
        name: name.to_owned(),
        primitive: "ae",
        parameter_set: Some(bits.to_string()),
        mode,
        functions: AEAD,
        classical_level: Some(bits),
        quantum_level: Some(level),
        oid: oid.map(str::to_owned),
        ..Algorithm::default()
    }
}

fn hash(name: &str, classical: u32, level: u32, oid: &str) -> Algorithm {
    Algorithm {
        name: name.to_owned(),
        primitive: "hash",
        functions: DIGEST,
        classical_level: Some(classical),
        quantum_level: Some(level),
        oid: Some(oid.to_owned()),
        ..Algorithm::default()
    }
}

/// The bulk cipher and hash of a cipher suite (by IANA name; TLS 1.3 and TLS 1.2 AEAD suites).
fn suite_algorithms(suite: &str) -> Vec<Algorithm> {
    let mut out = Vec::new();
    if suite.contains("AES_128_GCM") {
        out.push(aead("AES-128-GCM", 128, Some("gcm"), 1, Some("2.16.840.1.101.3.4.1.6")));
    } else if suite.contains("AES_256_GCM") {
        out.push(aead("AES-256-GCM", 256, Some("gcm"), 5, Some("2.16.840.1.101.3.4.1.46")));
    } else if suite.contains("AES_128_CCM") {
        out.push(aead("AES-128-CCM", 128, Some("ccm"), 1, Some("2.16.840.1.101.3.4.1.7")));
    } else if suite.contains("AES_256_CCM") {
        out.push(aead("AES-256-CCM", 256, Some("ccm"), 5, Some("2.16.840.1.101.3.4.1.47")));
    } else if suite.contains("CHACHA20_POLY1305") {
        out.push(aead("ChaCha20-Poly1305", 256, None, 5, None));
    }
    if suite.ends_with("_SHA256") {
        out.push(hash("SHA-256", 128, 2, "2.16.840.1.101.3.4.2.1"));
    } else if suite.ends_with("_SHA384") {
        out.push(hash("SHA-384", 192, 4, "2.16.840.1.101.3.4.2.2"));
    } else if suite.ends_with("_SHA") {
        out.push(hash("SHA-1", 63, 0, "1.3.14.3.2.26"));
    }
    out
}

/// The two-byte IANA identifier of common suites.
fn suite_identifiers(suite: &str) -> Option<[&'static str; 2]> {
    Some(match suite {
        "TLS_AES_128_GCM_SHA256" => ["0x13", "0x01"],
        "TLS_AES_256_GCM_SHA384" => ["0x13", "0x02"],
        "TLS_CHACHA20_POLY1305_SHA256" => ["0x13", "0x03"],
        "TLS_AES_128_CCM_SHA256" => ["0x13", "0x04"],
        "TLS_AES_128_CCM_8_SHA256" => ["0x13", "0x05"],
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" => ["0xC0", "0x2B"],
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384" => ["0xC0", "0x2C"],
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" => ["0xC0", "0x2F"],
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384" => ["0xC0", "0x30"],
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256" => ["0xCC", "0xA8"],
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256" => ["0xCC", "0xA9"],
        _ => return None,
    })
}
