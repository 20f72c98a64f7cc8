//! [`MemoryDataPlane`]: the kernel modelled in memory, for tests and for
//! running the rekey drivers without privileges.
//!
//! It keeps what the kernel would: an SA table keyed by SPI (a duplicate SPI
//! is refused, as `NEWSA` with `NLM_F_EXCL` is), the ESP-required flag per
//! link (keyed by the whole [`Link`], ports included: links that share an
//! address pair but differ in a port are independent, as their kernel
//! selectors are), and per-SA counters that tests advance with [`MemoryDataPlane::bump`]
//! or [`MemoryDataPlane::carry`] (which, like the kernel, uses the newest
//! outbound SA of the link and fails closed without one when ESP is required).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::{DataPlane, DataPlaneError, Direction, Link, SaCounters, SaRequest, check_link, check_sa};

/// One modelled SA (no key material is kept beyond a fingerprint-free flag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemorySa {
    /// The link.
    pub link: Link,
    /// Direction.
    pub direction: Direction,
    /// Replay window.
    pub replay_window: u32,
    /// Counters.
    pub counters: SaCounters,
    /// Installation order (higher = newer).
    pub serial: u64,
}

#[derive(Debug, Default)]
struct State {
    sas: BTreeMap<u32, MemorySa>,
    policies: BTreeSet<Link>,
    serial: u64,
    ops: u64,
}

/// The in-memory data plane (cheap to share behind an `Arc`).
#[derive(Debug, Default)]
pub struct MemoryDataPlane {
    state: Mutex<State>,
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl MemoryDataPlane {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds `bytes` and `packets` to the SA `spi`'s counters.
    pub fn bump(&self, spi: u32, bytes: u64, packets: u64) -> Result<(), DataPlaneError> {
        let mut s = self.lock();
        let sa = s.sas.get_mut(&spi).ok_or_else(|| DataPlaneError::Invalid(format!("no SA {spi:#x}")))?;
        sa.counters.bytes += bytes;
        sa.counters.packets += packets;
        Ok(())
    }

    /// Sends one packet of `bytes` over `link` in `direction` the way the
    /// kernel would: on the newest SA of that direction (counted), in clear
    /// if there is none and ESP is not required, dropped otherwise. Returns
    /// the SPI used (`Some`), `Ok(None)` for clear text, or an error if dropped.
    pub fn carry(&self, link: &Link, direction: Direction, bytes: u64) -> Result<Option<u32>, DataPlaneError> {
        let mut s = self.lock();
        let required = s.policies.contains(link);
        let newest = s
            .sas
            .iter()
            .filter(|(_, sa)| sa.link == *link && sa.direction == direction)
            .max_by_key(|(_, sa)| sa.serial)
            .map(|(spi, _)| *spi);
        match newest {
            Some(spi) => {
                if let Some(sa) = s.sas.get_mut(&spi) {
                    sa.counters.bytes += bytes;
                    sa.counters.packets += 1;
                }
                Ok(Some(spi))
            }
            None if required => Err(DataPlaneError::Refused(format!("no SA for {link} ({direction}): dropped"))),
            None => Ok(None),
        }
    }

    /// Is the ESP-required policy installed for `link`?
    pub fn esp_required(&self, link: &Link) -> bool {
        self.lock().policies.contains(link)
    }

    /// The SA `spi`, if installed.
    pub fn sa(&self, spi: u32) -> Option<MemorySa> {
        self.lock().sas.get(&spi).cloned()
    }

    /// SPIs of `link`'s SAs in `direction`, oldest first.
    pub fn spis(&self, link: &Link, direction: Direction) -> Vec<u32> {
        let s = self.lock();
        let mut v: Vec<(u64, u32)> = s
            .sas
            .iter()
            .filter(|(_, sa)| sa.link == *link && sa.direction == direction)
            .map(|(spi, sa)| (sa.serial, *spi))
            .collect();
        v.sort_unstable();
        v.into_iter().map(|(_, spi)| spi).collect()
    }

    /// Number of SAs installed.
    pub fn sa_count(&self) -> usize {
        self.lock().sas.len()
    }

    /// Number of operations that changed state.
    pub fn changes(&self) -> u64 {
        self.lock().ops
    }

    fn find(s: &State, link: &Link, direction: Direction, spi: u32) -> Result<(), DataPlaneError> {
        match s.sas.get(&spi) {
            Some(sa) if sa.link == *link && sa.direction == direction => Ok(()),
            _ => Err(DataPlaneError::NotFound { link: *link, direction, spi }),
        }
    }
}

impl DataPlane for MemoryDataPlane {
    async fn install_sa(&self, req: SaRequest) -> Result<(), DataPlaneError> {
        check_sa(&req)?;
        let mut s = self.lock();
        if s.sas.contains_key(&req.spi) {
            return Err(DataPlaneError::Exists { spi: req.spi });
        }
        s.serial += 1;
        s.ops += 1;
        let serial = s.serial;
        s.sas.insert(
            req.spi,
            MemorySa {
                link: req.link,
                direction: req.direction,
                replay_window: req.replay_window,
                counters: SaCounters { bytes: 0, packets: 0, add_time: now_secs() },
                serial,
            },
        );
        Ok(())
    }

    async fn delete_sa(&self, link: Link, direction: Direction, spi: u32) -> Result<(), DataPlaneError> {
        let mut s = self.lock();
        Self::find(&s, &link, direction, spi)?;
        s.sas.remove(&spi);
        s.ops += 1;
        Ok(())
    }

    async fn sa_counters(&self, link: Link, direction: Direction, spi: u32) -> Result<SaCounters, DataPlaneError> {
        let s = self.lock();
        Self::find(&s, &link, direction, spi)?;
        Ok(s.sas[&spi].counters)
    }

    async fn require_esp(&self, link: Link) -> Result<(), DataPlaneError> {
        check_link(&link)?;
        let mut s = self.lock();
        if s.policies.insert(link) {
            s.ops += 1;
        }
        Ok(())
    }

    async fn release_esp(&self, link: Link) -> Result<(), DataPlaneError> {
        let mut s = self.lock();
        if s.policies.remove(&link) {
            s.ops += 1;
        }
        Ok(())
    }

    async fn delete_all(&self, link: Link) -> Result<u32, DataPlaneError> {
        let mut s = self.lock();
        let before = s.sas.len();
        s.sas.retain(|_, sa| sa.link != link);
        let n = (before - s.sas.len()) as u32;
        if n > 0 {
            s.ops += 1;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zeroize::Zeroizing;

    fn link() -> Link {
        Link::host("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap(), 1)
    }
    fn sa(dir: Direction, spi: u32) -> SaRequest {
        SaRequest::new(link(), dir, spi, Zeroizing::new([7; 36]))
    }

    #[tokio::test]
    async fn table_semantics() {
        let m = MemoryDataPlane::new();
        let l = link();
        m.install_sa(sa(Direction::Inbound, 0x1000)).await.unwrap();
        assert_eq!(m.install_sa(sa(Direction::Outbound, 0x1000)).await, Err(DataPlaneError::Exists { spi: 0x1000 }));
        m.install_sa(sa(Direction::Outbound, 0x2000)).await.unwrap();
        // wrong direction / link → NotFound, nothing changes
        assert!(matches!(m.delete_sa(l, Direction::Outbound, 0x1000).await, Err(DataPlaneError::NotFound { .. })));
        let other = Link { reqid: 2, ..l };
        assert!(matches!(m.sa_counters(other, Direction::Inbound, 0x1000).await, Err(DataPlaneError::NotFound { .. })));
        assert_eq!(m.sa_count(), 2);
        m.bump(0x1000, 100, 2).unwrap();
        let c = m.sa_counters(l, Direction::Inbound, 0x1000).await.unwrap();
        assert_eq!((c.bytes, c.packets), (100, 2));
        assert!(c.add_time > 0);
        // invalid requests change nothing
        assert!(matches!(m.install_sa(sa(Direction::Inbound, 255)).await, Err(DataPlaneError::Invalid(_))));
        let mut bad = sa(Direction::Inbound, 0x3000);
        bad.link.peer = "fd00::2".parse().unwrap();
        assert!(matches!(m.install_sa(bad).await, Err(DataPlaneError::Invalid(_))));
        assert_eq!(m.sa_count(), 2);
        m.delete_sa(l, Direction::Inbound, 0x1000).await.unwrap();
        assert_eq!(m.delete_all(l).await.unwrap(), 1);
        assert_eq!(m.sa_count(), 0);
    }

    #[tokio::test]
    async fn fail_closed_and_make_before_break() {
        let m = MemoryDataPlane::new();
        let l = link();
        assert_eq!(m.carry(&l, Direction::Outbound, 10).unwrap(), None, "clear before RequireEsp");
        m.install_sa(sa(Direction::Outbound, 0x100)).await.unwrap();
        m.require_esp(l).await.unwrap();
        m.require_esp(l).await.unwrap(); // idempotent
        assert!(m.esp_required(&l));
        assert_eq!(m.carry(&l, Direction::Outbound, 10).unwrap(), Some(0x100));
        m.install_sa(sa(Direction::Outbound, 0x101)).await.unwrap();
        assert_eq!(m.carry(&l, Direction::Outbound, 10).unwrap(), Some(0x101), "newest SA wins");
        assert_eq!(m.spis(&l, Direction::Outbound), vec![0x100, 0x101]);
        m.delete_sa(l, Direction::Outbound, 0x100).await.unwrap();
        assert_eq!(m.carry(&l, Direction::Outbound, 10).unwrap(), Some(0x101));
        m.delete_all(l).await.unwrap();
        assert!(m.carry(&l, Direction::Outbound, 10).is_err(), "fail-closed without SA");
        m.release_esp(l).await.unwrap();
        assert!(!m.esp_required(&l));
        assert_eq!(m.carry(&l, Direction::Outbound, 10).unwrap(), None);
    }

    /// Two associations between the same two addresses (one gNB simulator
    /// address, two local ports, the RIC's 36421): each has its own SAs and
    /// policy; deleting one link's SAs fails only that link closed.
    #[tokio::test]
    async fn two_links_on_one_address_pair() {
        let m = MemoryDataPlane::new();
        let one = link().with_ports(40001, 36421);
        let two = Link { reqid: 2, ..link().with_ports(40002, 36421) };
        assert_ne!(one, two);
        assert_ne!(one, Link { reqid: 1, ..two }, "same reqid, other port: still distinct");
        for (l, spi) in [(one, 0x1000), (two, 0x2000)] {
            m.install_sa(SaRequest::new(l, Direction::Outbound, spi, Zeroizing::new([7; 36]))).await.unwrap();
            m.install_sa(SaRequest::new(l, Direction::Inbound, spi + 1, Zeroizing::new([8; 36]))).await.unwrap();
            m.require_esp(l).await.unwrap();
        }
        assert!(m.esp_required(&one) && m.esp_required(&two));
        assert!(!m.esp_required(&link()), "the host-wide link is another link");
        assert_eq!(m.carry(&one, Direction::Outbound, 10).unwrap(), Some(0x1000));
        assert_eq!(m.carry(&two, Direction::Outbound, 10).unwrap(), Some(0x2000));
        // an SA is found only under its own link
        assert!(matches!(m.sa_counters(two, Direction::Outbound, 0x1000).await, Err(DataPlaneError::NotFound { .. })));
        assert!(matches!(m.delete_sa(one, Direction::Inbound, 0x2001).await, Err(DataPlaneError::NotFound { .. })));
        // fail-closed per link
        assert_eq!(m.delete_all(one).await.unwrap(), 2);
        assert!(m.carry(&one, Direction::Outbound, 10).is_err());
        assert_eq!(m.carry(&two, Direction::Inbound, 10).unwrap(), Some(0x2001));
        assert_eq!(m.spis(&two, Direction::Outbound), vec![0x2000]);
        // releasing one policy leaves the other
        m.release_esp(one).await.unwrap();
        assert!(!m.esp_required(&one) && m.esp_required(&two));
    }
}
