//! Shared harness of the integration tests: a KME pair on 127.0.0.1 with
//! ephemeral ports and an in-memory demo PKI, plus mTLS clients per SAE.
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use qsafe_kme::Site;
use qsafe_kme::client::{Connection, Reply};
use qsafe_kme::config::{DemoPkiSettings, PkiAlgorithm, PkiSource, ServeSettings};
use qsafe_kme::pki::DemoPki;
use qsafe_kme::server::RunningKme;
use qsafe_pqc::pki::{CertifiedKey, LeafProfile, LeafUsage, SignatureAlgorithm};
use qsafe_pqc::tls::{AuthPolicy, KeyExchangePolicy};
use serde_json::Value;

pub const MASTER: &str = "ric-xapp";
pub const SLAVE: &str = "e2node-1";

/// Settings with every listener on an ephemeral loopback port.
pub fn loopback_settings() -> ServeSettings {
    let any = "127.0.0.1:0".parse().unwrap();
    ServeSettings { listen: [any, any], admin_listen: any, pki: PkiSource::Generate, ..ServeSettings::default() }
}

pub fn demo_pki(algorithm: PkiAlgorithm, saes: &[&str]) -> DemoPki {
    DemoPki::generate(&DemoPkiSettings {
        out: "unused".into(),
        algorithm,
        kme_ids: ["kme-a".into(), "kme-b".into()],
        saes: saes.iter().map(|s| s.to_string()).collect(),
        dns: vec![],
        ips: vec![],
        validity: Duration::from_secs(86_400),
        force: false,
    })
    .unwrap()
}

pub struct Pair {
    pub kme: RunningKme,
    pub pki: DemoPki,
}

impl Pair {
    /// ML-DSA-65 PKI with ric-xapp, e2node-1 and intruder; `tweak` edits the settings.
    pub async fn start(tweak: impl FnOnce(&mut ServeSettings)) -> Self {
        let pki = demo_pki(PkiAlgorithm::MlDsa65, &[MASTER, SLAVE, "intruder"]);
        Self::start_with(pki, tweak).await
    }

    pub async fn start_with(pki: DemoPki, tweak: impl FnOnce(&mut ServeSettings)) -> Self {
        let mut s = loopback_settings();
        s.link.seed = None;
        tweak(&mut s);
        let kme = qsafe_kme::server::start_with_material(s, pki.tls_material()).await.unwrap();
        Self { kme, pki }
    }

    pub fn client_config(&self, identity: &CertifiedKey) -> Arc<rustls::ClientConfig> {
        qsafe_pqc::tls::client_config(
            &[self.pki.ca.certificate().clone()],
            Some(identity),
            KeyExchangePolicy::HybridPreferred,
            AuthPolicy::Any,
        )
        .unwrap()
    }

    /// An mTLS connection of SAE `sae` (from the demo PKI) to a KME.
    pub async fn connect(&self, site: Site, sae: &str) -> Connection {
        let id = self.pki.sae(sae).unwrap_or_else(|| panic!("no SAE {sae} in the demo PKI"));
        self.connect_as(site, id).await
    }

    pub async fn connect_as(&self, site: Site, identity: &CertifiedKey) -> Connection {
        Connection::tls(self.kme.addr(site), "localhost", self.client_config(identity)).await.unwrap()
    }

    /// Issues an extra client certificate from the pair's CA.
    pub fn issue_client(&self, profile: LeafProfile) -> CertifiedKey {
        self.pki.ca.issue(&profile.with_algorithm(SignatureAlgorithm::MlDsa65)).unwrap()
    }

    pub async fn admin(&self, method: &str, path: &str) -> Reply {
        let mut c = Connection::plain(self.kme.admin_addr()).await.unwrap();
        match method {
            "GET" => c.get(path).await.unwrap(),
            "POST" => c.post_empty(path).await.unwrap(),
            m => panic!("method {m}"),
        }
    }

    pub async fn state(&self) -> Value {
        let r = self.admin("GET", "/admin/state").await;
        assert_eq!(r.status, 200);
        r.json()
    }

    pub async fn metrics(&self) -> String {
        let r = self.admin("GET", "/metrics").await;
        assert_eq!(r.status, 200);
        r.text()
    }
}

pub fn client_profile(cn: &str) -> LeafProfile {
    LeafProfile::new(cn, LeafUsage::Client)
}

/// The value of one metrics sample, e.g. `qsafe_kme_fault_link_down`.
pub fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')).and_then(|v| v.trim().parse().ok())
    })
}

/// (key_ID, base64 key) pairs of a key container.
pub fn keys(reply: &Reply) -> Vec<(String, String)> {
    let v = reply.json();
    v["keys"]
        .as_array()
        .unwrap_or_else(|| panic!("no keys in {} answer", reply.status))
        .iter()
        .map(|k| (k["key_ID"].as_str().unwrap().to_string(), k["key"].as_str().unwrap().to_string()))
        .collect()
}

pub fn key_ids_body(ids: &[&str]) -> Vec<u8> {
    let list: Vec<Value> = ids.iter().map(|id| serde_json::json!({"key_ID": id})).collect();
    serde_json::to_vec(&serde_json::json!({"key_IDs": list})).unwrap()
}

pub fn enc_path(slave: &str) -> String {
    qsafe_qkd::api::path::enc_keys(slave)
}

pub fn dec_path(master: &str) -> String {
    qsafe_qkd::api::path::dec_keys(master)
}

pub fn status_path(slave: &str) -> String {
    qsafe_qkd::api::path::status(slave)
}
