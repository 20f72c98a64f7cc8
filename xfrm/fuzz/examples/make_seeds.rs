//! Writes the seed corpus of `broker_request` in `seeds/broker_request/`:
//! every request kind, IPv4 and IPv6, as the client encodes them (prefixed
//! with the allow-list selector byte), plus a few refused ones.
//!
//! `cargo run --manifest-path xfrm/fuzz/Cargo.toml --example make_seeds`

use std::path::Path;

use qsafe_xfrm::protocol::{Request, encode_request};
use qsafe_xfrm::{Direction, Lifetime, Link, SaRequest};
use zeroize::Zeroizing;

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds/broker_request");
    std::fs::create_dir_all(&dir).expect("mkdir");
    // one association (IPv4, both ports) and a host-wide link (IPv6, any port)
    let l4 = Link::association("10.99.0.1:40001".parse().unwrap(), "10.99.0.2:36421".parse().unwrap(), 7);
    let l6 = Link::host("fd00:99::1".parse().unwrap(), "fd00:99::2".parse().unwrap(), 8);
    let half = Link { local_port: 0, ..l4 };
    let mut limited = SaRequest::new(l4, Direction::Outbound, 0x1001, Zeroizing::new([0x11; 36]));
    limited.lifetime =
        Lifetime { soft_bytes: 1 << 30, hard_bytes: 1 << 31, soft_packets: 1 << 20, hard_packets: 1 << 21 };
    limited.replay_window = 32;
    let reqs = vec![
        ("ping", Request::Ping),
        ("install4", Request::InstallSa(limited)),
        ("install6", Request::InstallSa(SaRequest::new(l6, Direction::Inbound, 0x2001, Zeroizing::new([0x22; 36])))),
        ("delete4", Request::DeleteSa { link: l4, direction: Direction::Inbound, spi: 0x2001 }),
        ("counters6", Request::SaCounters { link: l6, direction: Direction::Outbound, spi: 0x1001 }),
        ("require4", Request::RequireEsp(l4)),
        ("release6", Request::ReleaseEsp(l6)),
        ("deleteall4", Request::DeleteAll(l4)),
        ("require4-anyport", Request::RequireEsp(half)),
        (
            "counters6-ports",
            Request::SaCounters { link: l6.with_ports(36421, 1), direction: Direction::Inbound, spi: 0x101 },
        ),
    ];
    let mut n = 0;
    for (name, r) in reqs {
        for sel in [0u8, 1] {
            let mut bytes = vec![sel];
            bytes.extend_from_slice(&encode_request(&r));
            std::fs::write(dir.join(format!("{name}-{sel}")), &bytes).expect("write");
            n += 1;
        }
    }
    // refused: outside the narrow allow list, reserved SPI, short key
    let far = Link::host("192.0.2.1".parse().unwrap(), "198.51.100.1".parse().unwrap(), 1);
    let mut b = vec![0u8];
    b.extend_from_slice(&encode_request(&Request::RequireEsp(far)));
    std::fs::write(dir.join("refused-net"), &b).expect("write");
    let mut b = vec![0u8];
    b.extend_from_slice(&encode_request(&Request::DeleteSa { link: l4, direction: Direction::Outbound, spi: 1 }));
    std::fs::write(dir.join("refused-spi"), &b).expect("write");
    // refused: a version-1 request (link without ports)
    let mut b = vec![0u8];
    b.extend_from_slice(&encode_request(&Request::RequireEsp(l4)));
    b[1] = 1;
    b.truncate(b.len() - 4);
    std::fs::write(dir.join("refused-v1"), &b).expect("write");
    println!("wrote {} seeds to {}", n + 3, dir.display());
}
