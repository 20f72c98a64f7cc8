//! Nothing logs key bytes: every tracing event of an enc/dec run, at TRACE
//! level for every target, is captured (one global subscriber for this test
//! binary, so events from every runtime thread are seen) and searched for
//! each delivered key in base64, base64 without padding, and hex.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use common::*;
use qsafe_kme::Site;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn no_key_material_in_any_log_line() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let delivered = runtime.block_on(async {
        let pair = Pair::start(|s| s.link.initial_key_count = 1_000).await;
        let mut master = pair.connect(Site::A, MASTER).await;
        let mut slave = pair.connect(Site::B, SLAVE).await;
        let mut delivered = Vec::new();
        // POST and GET forms, successes and every kind of refusal.
        let enc = master.post_json(&enc_path(SLAVE), br#"{"number": 4, "size": 1024}"#).await.unwrap();
        let issued = keys(&enc);
        let ids: Vec<&str> = issued.iter().map(|(id, _)| id.as_str()).collect();
        let dec = slave.post_json(&dec_path(MASTER), &key_ids_body(&ids)).await.unwrap();
        assert_eq!(keys(&dec), issued);
        delivered.extend(issued.iter().map(|(_, k)| k.clone()));
        assert_eq!(slave.post_json(&dec_path(MASTER), &key_ids_body(&ids)).await.unwrap().status, 400);
        let get = keys(&master.get(&format!("{}?number=2", enc_path(SLAVE))).await.unwrap());
        for (id, key) in &get {
            let mut intruder = pair.connect(Site::B, "intruder").await;
            assert_eq!(intruder.get(&format!("{}?key_ID={id}", dec_path(MASTER))).await.unwrap().status, 401);
            let d = slave.get(&format!("{}?key_ID={id}", dec_path(MASTER))).await.unwrap();
            assert_eq!(keys(&d), vec![(id.clone(), key.clone())]);
            delivered.push(key.clone());
        }
        pair.admin("POST", "/admin/fail?count=1").await;
        assert_eq!(master.get(&enc_path(SLAVE)).await.unwrap().status, 503);
        pair.admin("GET", "/admin/state").await;
        pair.admin("GET", "/metrics").await;
        pair.kme.shutdown().await;
        delivered
    });
    drop(runtime);

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("request refused"), "the capture works: {logs}");
    assert!(logs.contains("KME pair listening"));
    assert_eq!(delivered.len(), 6);
    for b64 in &delivered {
        let bytes = base64::engine::general_purpose::STANDARD.decode(b64).unwrap();
        let forms = [
            b64.clone(),
            b64.trim_end_matches('=').to_string(),
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes),
            hex::encode(&bytes),
            format!("{:?}", &bytes[..8]),
        ];
        for form in forms {
            assert!(!logs.contains(&form), "key material {form} found in the logs");
        }
    }
}
