//! Load through the pure state machines: 100 E2 nodes, one KPM
//! subscription each, 1000 indications per subscription, interleaved.
//! Every indication arrives exactly once, per node in order.

mod procedures_support;

use std::collections::HashMap;
use std::time::Instant;

use procedures_support::*;
use qsafe_e2::node::SubscriptionPolicy;
use qsafe_e2::{RequestId, ric};

const NODES: u32 = 100;
const INDICATIONS: u32 = 1000;
const BURST: u32 = 25;

#[test]
fn hundred_nodes_thousand_indications_each() {
    let started = Instant::now();
    let mut net = Net::new(ric_config());
    net.record = false;
    let mut subscriptions = Vec::new();
    for n in 0..NODES {
        let mut config = node_config(n);
        config.subscription_policy = SubscriptionPolicy::AdmitAll;
        let i = net.add_node(config);
        net.connect(i);
        assert!(net.nodes[i].agent.is_established());
        subscriptions.push(net.subscribe_and_accept(i, &[1]));
    }
    assert_eq!(net.ric.registry().connected().count(), NODES as usize);
    net.take_ric_events();

    // Node i's k-th indication carries (i, k) in its header.
    let mut received: HashMap<RequestId, Vec<(u16, u32)>> = HashMap::new();
    let mut k = 0;
    while k < INDICATIONS {
        for (i, id) in subscriptions.iter().enumerate() {
            for j in k..k + BURST {
                let header = [(i as u32).to_be_bytes(), j.to_be_bytes()].concat();
                net.nodes[i].agent.send_indication(*id, 1, header, vec![0x5A; 256]).expect("indication");
            }
        }
        k += BURST;
        net.pump();
        for event in net.ric_events.drain(..) {
            match event {
                ric::Event::Indication(ind) => {
                    let node = u32::from_be_bytes(ind.header[0..4].try_into().expect("4 bytes"));
                    let seq = u32::from_be_bytes(ind.header[4..8].try_into().expect("4 bytes"));
                    assert_eq!(subscriptions[node as usize], ind.subscription, "dispatched to the wrong subscription");
                    received.entry(ind.subscription).or_default().push((ind.sn.expect("sn"), seq));
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    assert_eq!(received.len(), NODES as usize);
    for id in &subscriptions {
        let got = &received[id];
        assert_eq!(got.len(), INDICATIONS as usize, "{id}");
        for (expected, (sn, seq)) in got.iter().enumerate() {
            assert_eq!(*seq, expected as u32, "{id}: out of order");
            assert_eq!(u32::from(*sn), expected as u32, "{id}: SN");
        }
    }
    let stats = net.ric.stats();
    assert_eq!(stats.indications_delivered, u64::from(NODES * INDICATIONS));
    assert_eq!(stats.indications_unknown, 0);
    assert_eq!(stats.error_indications_sent, 0);
    eprintln!(
        "{} indications through {} nodes in {:?} (debug build, encode + decode + dispatch)",
        NODES * INDICATIONS,
        NODES,
        started.elapsed()
    );
}
