//! The QKD + ML-KEM key plane of one E2 link, end to end on loopback, with
//! embedded defaults (what `scripts/demo.sh` shows):
//!
//! 1. `qsafe-kme` starts a KME pair (site A next to the RIC, site B next to
//!    the E2 node) with an in-memory ML-DSA-65 demo PKI.
//! 2. The xApp (SAE `ric-xapp`) asks KME A for a key for the node (enc_keys)
//!    over ML-DSA-65 + X25519MLKEM768 mutual TLS; the client checks KME A's
//!    ID in its certificate first.
//! 3. The node (SAE `e2node-1`) fetches the same key by its key_ID at KME B
//!    (dec_keys); a second fetch is refused (keys are single-use).
//! 4. The node's ephemeral ML-KEM-768 key: the xApp encapsulates, the node
//!    decapsulates.
//! 5. Both ends run the hybrid combiner (`qkd-and-pqc`) and get the same
//!    per-direction ESP keys (compared, never printed, not even as a hash);
//!    `qkd-and-pqc` without the ML-KEM secret is refused.
//!
//!     cargo run -p qsafe-kme --example key_plane_demo

use std::time::Duration;

use qsafe_hybrid::{KeyId, LinkContext, Mode, QkdKey, Role, derive};
use qsafe_kme::Site;
use qsafe_kme::config::{DemoPkiSettings, PkiAlgorithm, PkiSource, ServeSettings};
use qsafe_kme::pki::DemoPki;
use qsafe_pqc::kem::{KemAlgorithm, KemBackend, kem};
use qsafe_pqc::tls::{AuthPolicy, KeyExchangePolicy};
use qsafe_qkd::api::{KeyIds, KeyRequest};
use qsafe_qkd::client::{ClientConfig, Etsi014Client};

type Error = Box<dyn std::error::Error + Send + Sync>;

const XAPP: &str = "ric-xapp";
const NODE: &str = "e2node-1";

#[tokio::main]
async fn main() -> Result<(), Error> {
    // 1. The KME pair.
    let pki = DemoPki::generate(&DemoPkiSettings {
        out: "unused".into(),
        algorithm: PkiAlgorithm::MlDsa65,
        kme_ids: ["kme-a".into(), "kme-b".into()],
        saes: vec![XAPP.into(), NODE.into()],
        dns: vec![],
        ips: vec![],
        validity: Duration::from_secs(86_400),
        force: false,
    })?;
    let any = "127.0.0.1:0".parse()?;
    let mut settings =
        ServeSettings { listen: [any, any], admin_listen: any, pki: PkiSource::Generate, ..ServeSettings::default() };
    settings.link.initial_key_count = 16;
    let kme = qsafe_kme::server::start_with_material(settings, pki.tls_material()).await?;
    println!("1. KME pair up: kme-a on {}, kme-b on {} (ML-DSA-65 demo PKI)", kme.addr(Site::A), kme.addr(Site::B));

    let client = |site: Site, sae: &str, kme_id: &str| -> Result<Etsi014Client, Error> {
        let identity = pki.sae(sae).ok_or("no such SAE in the demo PKI")?;
        let tls = qsafe_pqc::tls::client_config(
            &[pki.ca.certificate().clone()],
            Some(identity),
            KeyExchangePolicy::HybridPreferred,
            AuthPolicy::MlDsaOnly,
        )?;
        let url = format!("https://localhost:{}", kme.addr(site).port());
        Ok(Etsi014Client::new(ClientConfig::new(url, tls, kme_id))?)
    };
    let xapp = client(Site::A, XAPP, "kme-a")?;
    let node = client(Site::B, NODE, "kme-b")?;

    // 2. enc_keys at A.
    let status = xapp.status(NODE).await?;
    println!(
        "2. status at kme-a for {NODE}: {} keys of {} bits stored (max {})",
        status.stored_key_count, status.key_size, status.max_key_count
    );
    let issued = xapp.enc_keys(NODE, &KeyRequest::new(1, None)).await?;
    let qkd = issued.keys.first().ok_or("KME A returned no key")?;
    println!("   enc_keys: key_ID {} ({} bits)", qkd.key_id, qkd.key.len_bits());

    // 3. dec_keys at B, once.
    let fetched = node.dec_keys(XAPP, &KeyIds::new([qkd.key_id])).await?;
    let qkd_node = fetched.keys.first().ok_or("KME B returned no key")?;
    if qkd_node.key != qkd.key || qkd_node.key_id != qkd.key_id {
        return Err("KME B delivered a different key".into());
    }
    println!("3. dec_keys at kme-b by {NODE}: the same key");
    match node.dec_keys(XAPP, &KeyIds::new([qkd.key_id])).await {
        Err(e) => println!("   second dec_keys refused (single-use keys): {e}"),
        Ok(_) => return Err("a QKD key was delivered twice".into()),
    }

    // 4. ML-KEM-768: the node's ephemeral key, encapsulated by the xApp.
    let mlkem = kem(KemAlgorithm::MlKem768, KemBackend::AwsLc)?;
    let (ek, dk) = mlkem.generate()?;
    let (ct, ss_xapp) = mlkem.encapsulate(&ek)?;
    let ss_node = mlkem.decapsulate(&dk, &ct)?;
    if !ss_xapp.ct_eq(&ss_node) {
        return Err("ML-KEM shared secrets differ".into());
    }
    println!(
        "4. ML-KEM-768: {}-byte public key, {}-byte ciphertext, the same shared secret at both ends",
        ek.as_bytes().len(),
        ct.as_bytes().len()
    );

    // 5. The hybrid combiner on both ends.
    let key_id_text = qkd.key_id.to_string();
    let transcript = [ek.as_bytes(), ct.as_bytes(), key_id_text.as_bytes()].concat();
    let ctx = LinkContext {
        ric_id: XAPP.as_bytes(),
        node_id: b"gNB/001-01/0x1000:28",
        epoch: 1,
        spi_ric_to_node: 0x1000_0001,
        spi_node_to_ric: 0x2000_0001,
        transcript: &transcript,
    };
    let key_id = KeyId::from_bytes(*qkd.key_id.as_uuid().as_bytes());
    let at_ric =
        derive(Mode::QkdAndPqc, Some(QkdKey { key_id, key: qkd.key.as_bytes() }), Some(ss_xapp.expose_secret()), &ctx)?;
    let at_node = derive(
        Mode::QkdAndPqc,
        Some(QkdKey { key_id, key: qkd_node.key.as_bytes() }),
        Some(ss_node.expose_secret()),
        &ctx,
    )?;
    for (name, ric, node) in [
        ("RIC -> node", at_ric.outbound(Role::Ric), at_node.inbound(Role::E2Node)),
        ("node -> RIC", at_ric.inbound(Role::Ric), at_node.outbound(Role::E2Node)),
    ] {
        if ric.spi() != node.spi() || ric.keymat()[..] != node.keymat()[..] {
            return Err(format!("{name}: the two ends derived different keys").into());
        }
        println!("5. {name}: SPI {:#x}, the same 36-byte rfc4106(gcm(aes)) key + salt at both ends", ric.spi());
    }
    println!("   key source: {:?}", at_ric.source());
    match derive(Mode::QkdAndPqc, Some(QkdKey { key_id, key: qkd.key.as_bytes() }), None, &ctx) {
        Err(e) => println!("   qkd-and-pqc without ML-KEM refused: {e}"),
        Ok(_) => return Err("qkd-and-pqc derived a key without ML-KEM".into()),
    }
    kme.shutdown().await;
    Ok(())
}
