//! The SAE client the xApp uses (`qsafe_qkd::client::Etsi014Client`)
//! against this server: the production path of qsafe-ran end to end, with
//! the client's own checks (KME ID from the server certificate, answer
//! validation) enabled.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

mod common;

use common::*;
use qsafe_kme::Site;
use qsafe_qkd::api::{KeyIds, KeyRequest};
use qsafe_qkd::client::{ClientConfig, ClientError, Etsi014Client};

fn client(pair: &Pair, site: Site, sae: &str, expected_kme_id: &str) -> Etsi014Client {
    let url = format!("https://localhost:{}", pair.kme.addr(site).port());
    let tls = pair.client_config(pair.pki.sae(sae).unwrap());
    Etsi014Client::new(ClientConfig::new(url, tls, expected_kme_id)).unwrap()
}

#[tokio::test]
async fn the_qsafe_qkd_client_pairs_keys_through_both_kmes() {
    let pair = Pair::start(|s| s.link.initial_key_count = 100).await;
    let master = client(&pair, Site::A, MASTER, "kme-a");
    let slave = client(&pair, Site::B, SLAVE, "kme-b");

    let status = master.status(SLAVE).await.unwrap();
    assert_eq!((status.source_kme_id.as_str(), status.target_kme_id.as_str()), ("kme-a", "kme-b"));

    let posted = master.enc_keys(SLAVE, &KeyRequest::new(3, Some(512))).await.unwrap();
    let got = master.enc_keys_get(SLAVE, &KeyRequest::new(2, None)).await.unwrap();
    let dec = slave.dec_keys(MASTER, &KeyIds::new(posted.keys.iter().map(|k| k.key_id))).await.unwrap();
    assert_eq!(dec.keys, posted.keys);
    let dec = slave.dec_keys_get(MASTER, &KeyIds::new(got.keys.iter().map(|k| k.key_id))).await.unwrap();
    assert_eq!(dec.keys, got.keys);

    // Exactly once, seen through the client.
    let again = slave.dec_keys(MASTER, &KeyIds::new([posted.keys[0].key_id])).await.unwrap_err();
    assert!(matches!(again, ClientError::BadRequest(_)), "{again}");
}

#[tokio::test]
async fn the_qsafe_qkd_client_refuses_a_kme_with_another_id_before_any_request() {
    let pair = Pair::start(|s| s.link.initial_key_count = 100).await;
    // KME B's certificate says kme-b: a client expecting kme-a there must not draw keys.
    let confused = client(&pair, Site::B, MASTER, "kme-a");
    let e = confused.enc_keys(SLAVE, &KeyRequest::new(1, None)).await.unwrap_err();
    assert!(matches!(e, ClientError::KmeIdMismatch { .. }), "{e}");
    assert_eq!(pair.state().await["pool"]["keys_issued_total"], 0);
}
