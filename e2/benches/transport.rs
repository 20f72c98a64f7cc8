//! Transport costs that can be measured on any host:
//!
//! * `memory_pair/{same_task,two_tasks}/{1KiB,64KiB}`: one end of
//!   [`qsafe_e2::transport::memory::pair`] sends E2AP frames, the other
//!   receives them (throughput in frames/s). `same_task` sends and receives
//!   one frame at a time in one task (the channel's own cost, no wake-ups);
//!   `two_tasks` streams 1000 frames from a spawned sender task to the
//!   receiver through a 64-frame channel on a current-thread runtime (what a
//!   driver's reader/writer split pays, with wake-ups). Payloads are
//!   [`bytes::Bytes`] and move by reference count, so the frame size should
//!   not matter; the two sizes show that it does not.
//! * `sctp_wire/*`: parsing one kernel notification record
//!   (`SCTP_ASSOC_CHANGE`, `SCTP_SHUTDOWN_EVENT`,
//!   `SCTP_PARTIAL_DELIVERY_EVENT`) and walking one `recvmsg` control buffer
//!   for its `SCTP_RCVINFO` (alone, and behind an unrelated control
//!   message), through `qsafe_e2::fuzzing` (ns per parse).
//!
//! **The kernel SCTP path is not measured here**: this host has no kernel
//! SCTP (creating the socket fails with `SctpUnavailable`). Its throughput
//! and latency are measured in a user-mode-Linux guest by the kernel tier,
//! `tests/kernel/cases/30-*.sh` and `31-*.sh`.
//!
//! ```text
//! cargo bench -p qsafe-e2 --bench transport
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use qsafe_e2::fuzzing;
use qsafe_e2::transport::memory;
use qsafe_e2::transport::{E2Frame, E2Receiver, E2Sender, E2Transport, TransportEvent};

const SIZES: [(&str, usize); 2] = [("1KiB", 1024), ("64KiB", 64 * 1024)];
/// Frames per `two_tasks` batch.
const BATCH: u64 = 1000;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime")
}

/// Receives until the next frame; panics on anything else.
async fn next_frame<R: E2Receiver>(rx: &mut R) -> E2Frame {
    match rx.recv().await {
        Ok(Some(TransportEvent::Frame(f))) => f,
        other => panic!("expected a frame, got {other:?}"),
    }
}

fn memory_pair(c: &mut Criterion) {
    let rt = runtime();

    let mut group = c.benchmark_group("memory_pair/same_task");
    group.throughput(Throughput::Elements(1));
    for (label, size) in SIZES {
        let payload = Bytes::from(vec![0xA5u8; size]);
        group.bench_function(BenchmarkId::from_parameter(label), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let (a, z) = memory::pair(1);
                    let (mut tx, _a_rx) = a.into_split();
                    let (_z_tx, mut rx) = z.into_split();
                    assert!(matches!(rx.recv().await, Ok(Some(TransportEvent::Up { .. }))));
                    let start = Instant::now();
                    for _ in 0..iters {
                        tx.send(0, payload.clone()).await.expect("send");
                        black_box(next_frame(&mut rx).await);
                    }
                    start.elapsed()
                })
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("memory_pair/two_tasks");
    group.throughput(Throughput::Elements(BATCH));
    for (label, size) in SIZES {
        let payload = Bytes::from(vec![0x5Au8; size]);
        group.bench_function(BenchmarkId::from_parameter(label), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let (a, z) = memory::pair(64);
                        let (mut tx, _a_rx) = a.into_split();
                        let (_z_tx, mut rx) = z.into_split();
                        assert!(matches!(rx.recv().await, Ok(Some(TransportEvent::Up { .. }))));
                        let payload = payload.clone();
                        let start = Instant::now();
                        let sender = tokio::spawn(async move {
                            for i in 0..BATCH {
                                tx.send((i % 4) as u16, payload.clone()).await.expect("send");
                            }
                        });
                        for _ in 0..BATCH {
                            black_box(next_frame(&mut rx).await);
                        }
                        total += start.elapsed();
                        sender.await.expect("sender task");
                    }
                    total
                })
            })
        });
    }
    group.finish();
}

fn sctp_wire(c: &mut Criterion) {
    let mut group = c.benchmark_group("sctp_wire");
    group.throughput(Throughput::Elements(1));
    let notifications = [
        ("assoc_change", fuzzing::assoc_change(fuzzing::sac_state::COMM_UP, 0, 4, 4)),
        ("shutdown_event", fuzzing::shutdown_event()),
        ("partial_delivery", fuzzing::partial_delivery_event(0, 1, 7)),
    ];
    for (label, record) in &notifications {
        assert!(fuzzing::parse_notification(record).is_ok(), "{label} does not parse");
        group.bench_function(BenchmarkId::new("notification", label), |b| {
            b.iter(|| fuzzing::parse_notification(black_box(record)))
        });
    }

    let alone = fuzzing::rcvinfo_cmsg(3, 70);
    let hdr = fuzzing::cmsg_header_len();
    let mut behind = vec![0u8; hdr + fuzzing::cmsg_align(4)];
    behind[..size_of::<usize>()].copy_from_slice(&(hdr + 4).to_ne_bytes());
    behind.extend_from_slice(&alone);
    for (label, control) in [("rcvinfo", &alone), ("rcvinfo_behind_other", &behind)] {
        assert_eq!(fuzzing::parse_rcvinfo(control), Some((3, 70)), "{label}");
        group
            .bench_function(BenchmarkId::new("cmsg", label), |b| b.iter(|| fuzzing::parse_rcvinfo(black_box(control))));
    }
    group.finish();
}

criterion_group!(benches, memory_pair, sctp_wire);
criterion_main!(benches);
