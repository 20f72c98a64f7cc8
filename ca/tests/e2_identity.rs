//! The CA's certificates where the E2 rekey uses them: an E2 node identity issued by the rApp CA
//! (the `e2-node` profile) verifies through `qsafe_rekey::TrustAnchors` — the path the xApp takes
//! to authenticate a node's signed ML-KEM key — and its ML-DSA signature over an ephemeral KEM
//! key verifies with the chain's leaf. After a root rollover, a node with a new-generation
//! certificate is still accepted by an xApp that trusts only the old root (via the cross
//! certificate), which is what lets a rollout put trust anchors first. A classical node key is
//! refused by the rekey trust path even though the CA issued it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::SystemTime;

use bytes::Bytes;
use common::{csr, key, new_ca, opts, pass};
use qsafe_ca::{IssueRequest, Profile, RootAlgorithm, Sans};
use qsafe_pqc::pki::{CertifiedKey, parse_pem_certificates};
use qsafe_pqc::sign::MlDsaSigner;
use qsafe_rekey::{TrustAnchors, TrustError};

fn e2_node_request(cn: &str) -> IssueRequest {
    let mut req = IssueRequest::new(Profile::E2Node);
    req.common_name = Some(cn.to_owned());
    req.sans = Sans { dns: vec![format!("{cn}.ran.example")], ..Sans::default() };
    req
}

fn chain_of(pem: &str) -> Vec<Bytes> {
    parse_pem_certificates(pem).unwrap().into_iter().map(|c| Bytes::copy_from_slice(c.as_ref())).collect()
}

#[test]
fn e2_node_identity_from_the_ca_authenticates_a_signed_kem_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = new_ca(&dir.path().join("ca"));
    let (issued, key_pem) = store.issue_with_new_key(&e2_node_request("gnb-17"), &pass(), None).unwrap();
    let anchors = TrustAnchors::from_pem(&store.trust_bundle_pem().unwrap()).unwrap();

    let peer = anchors.verify_chain(&chain_of(&issued.chain_pem), SystemTime::now()).expect("node chain verifies");
    let node = CertifiedKey::from_pem(&issued.chain_pem, &key_pem).unwrap();
    let ephemeral_ek = [0x5au8; 1184]; // stands in for an ML-KEM-768 encapsulation key
    let msg = [b"qsafe-ran e2 kem-ek v1\0".as_slice(), &ephemeral_ek].concat();
    let sig = MlDsaSigner::from_certified_key(&node).unwrap().sign(&msg).unwrap();
    peer.verify(&msg, &sig).expect("the node's signature verifies with its CA-issued leaf");
    let mut tampered = msg.clone();
    tampered[40] ^= 1;
    assert!(peer.verify(&tampered, &sig).is_err(), "a changed KEM key must not verify");
}

#[test]
fn after_rollover_old_root_trust_accepts_new_generation_nodes_via_the_cross_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = new_ca(&dir.path().join("ca"));
    let old_root_only = TrustAnchors::from_pem(&store.trust_bundle_pem().unwrap()).unwrap();
    store.rollover(&opts(RootAlgorithm::MlDsa87), &pass()).unwrap();
    let (issued, _key) = store.issue_with_new_key(&e2_node_request("gnb-18"), &pass(), None).unwrap();
    let leaf = &chain_of(&issued.chain_pem)[..1];

    // leaf + new intermediate: the old root alone cannot place it ...
    let without_cross = chain_of(&issued.chain_pem);
    assert!(matches!(old_root_only.verify_chain(&without_cross, SystemTime::now()), Err(TrustError::Chain(_))));
    // ... leaf + new intermediate + cross certificate (new root signed by the old one) it can;
    let mut with_cross = leaf.to_vec();
    with_cross.extend(chain_of(&store.chain_pem(true).unwrap()));
    old_root_only.verify_chain(&with_cross, SystemTime::now()).expect("old-root trust via the cross certificate");
    // and once the new root is distributed, the plain chain verifies too.
    let both_roots = TrustAnchors::from_pem(&store.trust_bundle_pem().unwrap()).unwrap();
    both_roots.verify_chain(&without_cross, SystemTime::now()).expect("new-root trust");
}

#[test]
fn a_classical_node_certificate_is_refused_by_the_rekey_trust_path() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = new_ca(&dir.path().join("ca"));
    let k = key(&rcgen::PKCS_ECDSA_P256_SHA256);
    let issued = store
        .sign_csr(
            csr(&k, "legacy-gnb", &["legacy-gnb.ran.example"]).as_bytes(),
            &IssueRequest::new(Profile::E2Node),
            &pass(),
        )
        .unwrap();
    let anchors = TrustAnchors::from_pem(&store.trust_bundle_pem().unwrap()).unwrap();
    let err = anchors.verify_chain(&chain_of(&issued.chain_pem), SystemTime::now()).expect_err("ECDSA leaf refused");
    assert!(matches!(err, TrustError::LeafAlgorithm(_)), "{err}");
}
