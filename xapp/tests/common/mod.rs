//! The rig the key-plane tests and the `rekey_scale` example share: an
//! ML-DSA-65 demo PKI for the xApp and `nodes` E2 nodes written to a
//! temporary directory (the layout `--pki-dir` reads), and an in-process
//! KME pair (qsafe-kme) whose settings the caller may adjust.

#![allow(dead_code, clippy::expect_used)]

use std::time::Duration;

use qsafe_kme::config::{DemoPkiSettings, PkiAlgorithm, PkiSource, ServeSettings};
use qsafe_kme::pki::DemoPki;
use qsafe_kme::server::RunningKme;

/// The PKI: SAEs `ric-xapp` and `e2node-1` ..= `e2node-<nodes>`.
pub fn demo_pki(nodes: u32) -> (tempfile::TempDir, DemoPki) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut saes = vec!["ric-xapp".to_string()];
    saes.extend((1..=nodes).map(|i| format!("e2node-{i}")));
    let pki = DemoPki::generate(&DemoPkiSettings {
        out: dir.path().into(),
        algorithm: PkiAlgorithm::MlDsa65,
        kme_ids: ["kme-a".into(), "kme-b".into()],
        saes,
        dns: vec![],
        ips: vec![],
        validity: Duration::from_secs(86_400),
        force: false,
    })
    .expect("demo pki");
    pki.write(dir.path(), false).expect("write pki");
    (dir, pki)
}

/// A KME pair on loopback (free ports) with `pki`'s certificates, after
/// `adjust` changed its settings.
pub async fn start_kme(pki: &DemoPki, adjust: impl FnOnce(&mut ServeSettings)) -> RunningKme {
    let any = "127.0.0.1:0".parse().expect("addr");
    let mut settings =
        ServeSettings { listen: [any, any], admin_listen: any, pki: PkiSource::Generate, ..ServeSettings::default() };
    adjust(&mut settings);
    qsafe_kme::server::start_with_material(settings, pki.tls_material()).await.expect("kme")
}
