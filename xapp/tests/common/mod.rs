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

/// The xApp as `qsafe-xapp` builds it (E2 role + `startup::key_plane_with_a1`),
/// running; E2 is reached in memory through `handle`. With `settings.a1` the
/// A1-P v2 termination is served on a free loopback port (`api`), and with
/// `settings.nats_url` E2 security events are published there.
pub struct RunningXapp {
    pub handle: qsafe_e2::driver::RicHandle,
    pub monitor: std::sync::Arc<std::sync::Mutex<qsafe_xapp::freshness::KeyFreshness>>,
    pub links: qsafe_xapp::e2::LinkTable,
    pub stop: tokio::sync::watch::Sender<bool>,
    pub run: tokio::task::JoinHandle<qsafe_xapp::e2::E2Summary>,
    /// The A1-P v2 apiRoot (with `settings.a1`).
    pub api: Option<String>,
    /// The HTTP endpoint's task (with `settings.a1`); it ends after the xApp
    /// stopped, once the A1 plane closed its policy store.
    pub http: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

pub async fn start_xapp(settings: &qsafe_xapp::config::Settings) -> RunningXapp {
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let mut e2 = qsafe_xapp::e2::E2Role::new(&settings.e2).expect("e2 role");
    let http_listen = settings.a1.as_ref().map(|_| "127.0.0.1:0".parse().expect("addr"));
    let (keyplane, http, bound) = qsafe_xapp::startup::key_plane_with_a1(
        settings.keyplane.as_ref().expect("key plane"),
        http_listen,
        settings.a1.as_ref(),
        "127.0.0.1:36421".parse().expect("addr"),
        stop.clone(),
    )
    .await
    .expect("key plane");
    if let Some(url) = settings.nats_url.as_deref() {
        keyplane.set_events(qsafe_xapp::startup::events(url).expect("events"));
    }
    let monitor = keyplane.monitor();
    e2.set_key_plane(keyplane);
    let handle = e2.handle().clone();
    let links = e2.links();
    let run = tokio::spawn(e2.run(stop));
    let api = bound.map(|b| format!("http://{b}"));
    RunningXapp { handle, monitor, links, stop: stop_tx, run, api, http }
}

/// A status notification received: (policy id, status object, when).
pub type Notification = (String, serde_json::Value, std::time::Instant);

/// An A1 notificationDestination on a free loopback port: every status POSTed
/// to `<base>/<policy id>` is answered 204 and handed over on the channel.
pub async fn notification_listener() -> (String, tokio::sync::mpsc::UnboundedReceiver<Notification>) {
    use axum::extract::{Path, State};
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Notification>();
    let app = axum::Router::new().route(
        "/notify/{id}",
        axum::routing::post(
            |State(tx): State<tokio::sync::mpsc::UnboundedSender<Notification>>,
             Path(id): Path<String>,
             body: String| async move {
                let v = serde_json::from_str(&body).unwrap_or(serde_json::Value::Null);
                let _ = tx.send((id, v, std::time::Instant::now()));
                axum::http::StatusCode::NO_CONTENT
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app.with_state(tx)).await });
    (format!("http://{addr}/notify"), rx)
}

/// Waits (30 s deadline) for a notification of `id` whose enforceStatus is `want`.
pub async fn wait_status(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<Notification>,
    id: &str,
    want: &str,
) -> (serde_json::Value, std::time::Instant) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let Ok(Some((got, v, at))) = tokio::time::timeout(left, rx.recv()).await else {
            panic!("no {want} notification for {id} in time");
        };
        if got == id && v["enforceStatus"] == want {
            return (v, at);
        }
    }
}
