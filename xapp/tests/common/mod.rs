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

/// Runs `qsafe-e2node --keyed` (the simulator's own node app, `sim::run_with`)
/// with `nodes` nodes over in-memory associations to `ric`, keyed from the
/// PKI in `pki_dir` and KME B of `kme`, SAs into `data_plane`; `extra` are
/// more command-line flags. Returns the stop switch and the run.
pub fn spawn_keyed_nodes(
    ric: qsafe_e2::driver::RicHandle,
    pki_dir: &str,
    kme: &RunningKme,
    nodes: u32,
    extra: &[&str],
    data_plane: std::sync::Arc<qsafe_xfrm::MemoryDataPlane>,
) -> (tokio::sync::watch::Sender<bool>, tokio::task::JoinHandle<Result<qsafe_e2node::sim::Summary, String>>) {
    let kme_b = format!("https://localhost:{}", kme.addr(qsafe_kme::Site::B).port());
    let nodes = nodes.to_string();
    let mut args = vec!["qsafe-e2node", "--ric", "127.0.0.1", "--nodes", &nodes, "--keyed"];
    args.extend(["--pki-dir", pki_dir, "--kme", &kme_b]);
    args.extend_from_slice(extra);
    let cli = <qsafe_e2node::config::Cli as clap::Parser>::parse_from(args);
    let settings = qsafe_e2node::config::Settings::resolve(cli).expect("node settings");
    let keyed_settings = settings.keyed.as_ref().expect("keyed");
    let material = qsafe_e2node::keyed::KeyedMaterial::load(keyed_settings, settings.nodes).expect("material");
    let keyed =
        qsafe_e2node::keyed::Keyed { material: std::sync::Arc::new(material), data_plane, assume_ric_switched: true };
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let connector = qsafe_e2::driver::MemoryConnector { ric };
    (stop_tx, tokio::spawn(qsafe_e2node::sim::run_with(settings, connector, Some(keyed), stop)))
}

/// `qsafe-xapp` settings with the key plane on: the PKI in `pki_dir`, KME A of
/// `kme`, then `extra` flags.
pub fn xapp_settings(pki_dir: &str, kme: &RunningKme, extra: &[&str]) -> qsafe_xapp::config::Settings {
    let kme_a = format!("https://localhost:{}", kme.addr(qsafe_kme::Site::A).port());
    let mut args = vec!["qsafe-xapp", "--pki-dir", pki_dir, "--kme", &kme_a];
    args.extend_from_slice(extra);
    qsafe_xapp::config::Settings::resolve(<qsafe_xapp::config::Cli as clap::Parser>::parse_from(args))
        .expect("xapp settings")
}

/// The xApp as `qsafe-xapp` builds it (E2 role + `startup::key_plane`, no
/// HTTP endpoint), running; E2 is reached in memory through `handle`.
pub struct RunningXapp {
    pub handle: qsafe_e2::driver::RicHandle,
    pub monitor: std::sync::Arc<std::sync::Mutex<qsafe_xapp::freshness::KeyFreshness>>,
    pub links: qsafe_xapp::e2::LinkTable,
    pub stop: tokio::sync::watch::Sender<bool>,
    pub run: tokio::task::JoinHandle<qsafe_xapp::e2::E2Summary>,
}

pub async fn start_xapp(settings: &qsafe_xapp::config::Settings) -> RunningXapp {
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let mut e2 = qsafe_xapp::e2::E2Role::new(&settings.e2).expect("e2 role");
    let config = settings.keyplane.as_ref().expect("key plane");
    let (keyplane, _) =
        qsafe_xapp::startup::key_plane(config, None, "127.0.0.1:36421".parse().expect("addr"), stop.clone())
            .await
            .expect("key plane");
    let monitor = keyplane.monitor();
    e2.set_key_plane(keyplane);
    let handle = e2.handle().clone();
    let links = e2.links();
    let run = tokio::spawn(e2.run(stop));
    RunningXapp { handle, monitor, links, stop: stop_tx, run }
}
