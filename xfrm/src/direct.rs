//! [`DirectNetlink`]: the data plane over a NETLINK_XFRM socket. Needs
//! `CAP_NET_ADMIN` in the network namespace; the broker is its only user.
//!
//! It only touches what it installed itself: it remembers every SA and
//! policy pair it created, refuses to delete or read any other SA
//! ([`DataPlaneError::NotFound`]), and [`DirectNetlink::cleanup`] removes
//! everything it created (the broker calls it on exit).
//!
//! Requests are synchronous (send, then read until the kernel's answer with
//! the same sequence number; 5 s receive timeout). Buffers that held key
//! material are zeroized after sending.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use zeroize::Zeroizing;

use crate::netlink::{self, NewSa, Reply};
use crate::{DataPlane, DataPlaneError, Direction, Link, SaCounters, SaRequest, check_link, check_sa};

const EEXIST: i32 = 17;
const ESRCH: i32 = 3;
const ENOENT: i32 = 2;

/// Default policy priority (lower value = higher precedence in the kernel).
pub const DEFAULT_POLICY_PRIORITY: u32 = 1000;

#[derive(Debug)]
struct Inner {
    sock: Socket,
    seq: u32,
    sas: BTreeMap<u32, (Link, Direction)>,
    policies: BTreeSet<Link>,
}

/// What [`DirectNetlink::cleanup`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cleanup {
    /// SAs deleted.
    pub sas: u32,
    /// Policy pairs deleted.
    pub policies: u32,
    /// Deletions that failed (logged).
    pub failures: u32,
}

/// The netlink data plane.
#[derive(Debug)]
pub struct DirectNetlink {
    inner: Mutex<Inner>,
    priority: u32,
}

impl DirectNetlink {
    /// Opens a NETLINK_XFRM socket; policies get `priority`.
    pub fn open(priority: u32) -> std::io::Result<Self> {
        let sock = Socket::new(Domain::from(libc::AF_NETLINK), Type::RAW, Some(Protocol::from(netlink::NETLINK_XFRM)))?;
        sock.set_read_timeout(Some(Duration::from_secs(5)))?;
        Ok(DirectNetlink {
            inner: Mutex::new(Inner { sock, seq: 1, sas: BTreeMap::new(), policies: BTreeSet::new() }),
            priority,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Number of SAs and policy pairs this instance created and still holds.
    pub fn installed(&self) -> (usize, usize) {
        let i = self.lock();
        (i.sas.len(), i.policies.len())
    }

    /// Sends `msg` (then zeroizes it) and waits for the answer to it.
    fn request(
        inner: &mut Inner,
        op: &str,
        build: impl FnOnce(u32) -> Zeroizing<Vec<u8>>,
    ) -> Result<Option<SaCounters>, DataPlaneError> {
        inner.seq = inner.seq.wrapping_add(1).max(1);
        let seq = inner.seq;
        let msg = build(seq);
        let sent = inner.sock.send(&msg).map_err(|e| DataPlaneError::Io(format!("netlink send ({op}): {e}")))?;
        drop(msg);
        if sent == 0 {
            return Err(DataPlaneError::Io(format!("netlink send ({op}): nothing sent")));
        }
        let mut buf = Zeroizing::new(vec![0u8; 32 * 1024]);
        loop {
            let n = (&inner.sock)
                .read(&mut buf[..])
                .map_err(|e| DataPlaneError::Io(format!("netlink receive ({op}): {e}")))?;
            let replies =
                netlink::parse_replies(&buf[..n]).map_err(|e| DataPlaneError::Protocol(format!("{op}: {e}")))?;
            for r in replies {
                match r {
                    Reply::Ack { seq: s } if s == seq => return Ok(None),
                    Reply::Error { seq: s, errno } if s == seq => return Err(DataPlaneError::kernel(op, errno)),
                    Reply::Sa { seq: s, counters, .. } if s == seq => return Ok(Some(counters)),
                    _ => {} // stale answers to earlier requests
                }
            }
        }
    }

    fn install_sync(&self, req: &SaRequest) -> Result<(), DataPlaneError> {
        check_sa(req)?;
        let mut inner = self.lock();
        if inner.sas.contains_key(&req.spi) {
            return Err(DataPlaneError::Exists { spi: req.spi });
        }
        let sa = NewSa {
            link: &req.link,
            direction: req.direction,
            spi: req.spi,
            keymat: &req.keymat,
            replay_window: req.replay_window,
            lifetime: &req.lifetime,
        };
        match Self::request(&mut inner, "NEWSA", |seq| netlink::new_sa(seq, &sa)) {
            Ok(_) => {
                inner.sas.insert(req.spi, (req.link, req.direction));
                Ok(())
            }
            Err(DataPlaneError::Kernel { errno: EEXIST, .. }) => Err(DataPlaneError::Exists { spi: req.spi }),
            Err(e) => Err(e),
        }
    }

    fn owned(inner: &Inner, link: &Link, direction: Direction, spi: u32) -> Result<(), DataPlaneError> {
        match inner.sas.get(&spi) {
            Some((l, d)) if l == link && *d == direction => Ok(()),
            _ => Err(DataPlaneError::NotFound { link: *link, direction, spi }),
        }
    }

    fn delete_sync(&self, link: &Link, direction: Direction, spi: u32) -> Result<(), DataPlaneError> {
        let mut inner = self.lock();
        Self::owned(&inner, link, direction, spi)?;
        match Self::request(&mut inner, "DELSA", |seq| netlink::del_sa(seq, link, direction, spi)) {
            Ok(_) => {
                inner.sas.remove(&spi);
                Ok(())
            }
            Err(DataPlaneError::Kernel { errno: ESRCH, .. }) => {
                // gone already (hard lifetime expiry): forget it
                inner.sas.remove(&spi);
                Err(DataPlaneError::NotFound { link: *link, direction, spi })
            }
            Err(e) => Err(e),
        }
    }

    fn counters_sync(&self, link: &Link, direction: Direction, spi: u32) -> Result<SaCounters, DataPlaneError> {
        let mut inner = self.lock();
        Self::owned(&inner, link, direction, spi)?;
        match Self::request(&mut inner, "GETSA", |seq| netlink::get_sa(seq, link, direction, spi)) {
            Ok(Some(c)) => Ok(c),
            Ok(None) => Err(DataPlaneError::Protocol("GETSA answered with a bare ACK".into())),
            Err(DataPlaneError::Kernel { errno: ESRCH, .. }) => {
                inner.sas.remove(&spi);
                Err(DataPlaneError::NotFound { link: *link, direction, spi })
            }
            Err(e) => Err(e),
        }
    }

    fn require_sync(&self, link: &Link) -> Result<(), DataPlaneError> {
        check_link(link)?;
        let mut inner = self.lock();
        if inner.policies.contains(link) {
            return Ok(());
        }
        let p = self.priority;
        // Inbound first: if outbound then fails, the inbound one is removed again.
        Self::request(&mut inner, "UPDPOLICY in", |seq| netlink::update_policy(seq, link, Direction::Inbound, p))?;
        if let Err(e) =
            Self::request(&mut inner, "UPDPOLICY out", |seq| netlink::update_policy(seq, link, Direction::Outbound, p))
        {
            let _ = Self::request(&mut inner, "DELPOLICY in", |seq| netlink::del_policy(seq, link, Direction::Inbound));
            return Err(e);
        }
        inner.policies.insert(*link);
        Ok(())
    }

    fn release_locked(inner: &mut Inner, link: &Link) -> Result<(), DataPlaneError> {
        for d in [Direction::Outbound, Direction::Inbound] {
            let op = if d == Direction::Inbound { "DELPOLICY in" } else { "DELPOLICY out" };
            match Self::request(inner, op, |seq| netlink::del_policy(seq, link, d)) {
                Ok(_) | Err(DataPlaneError::Kernel { errno: ENOENT, .. }) => {}
                Err(e) => return Err(e),
            }
        }
        inner.policies.remove(link);
        Ok(())
    }

    fn release_sync(&self, link: &Link) -> Result<(), DataPlaneError> {
        let mut inner = self.lock();
        if !inner.policies.contains(link) {
            return Ok(());
        }
        Self::release_locked(&mut inner, link)
    }

    fn delete_all_locked(inner: &mut Inner, link: Option<&Link>) -> (u32, u32) {
        let victims: Vec<(u32, Link, Direction)> = inner
            .sas
            .iter()
            .filter(|(_, (l, _))| link.is_none_or(|x| x == l))
            .map(|(spi, (l, d))| (*spi, *l, *d))
            .collect();
        let (mut n, mut failed) = (0, 0);
        for (spi, l, d) in victims {
            match Self::request(inner, "DELSA", |seq| netlink::del_sa(seq, &l, d, spi)) {
                Ok(_) | Err(DataPlaneError::Kernel { errno: ESRCH, .. }) => {
                    inner.sas.remove(&spi);
                    n += 1;
                }
                Err(e) => {
                    tracing::warn!(spi = format_args!("{spi:#x}"), link = %l, "cannot delete SA: {e}");
                    failed += 1;
                }
            }
        }
        (n, failed)
    }

    fn delete_all_sync(&self, link: &Link) -> Result<u32, DataPlaneError> {
        let mut inner = self.lock();
        let (n, failed) = Self::delete_all_locked(&mut inner, Some(link));
        if failed > 0 {
            return Err(DataPlaneError::Io(format!("{failed} SAs of {link} could not be deleted ({n} were)")));
        }
        Ok(n)
    }

    /// Deletes every SA and policy this instance created.
    pub fn cleanup(&self) -> Cleanup {
        let mut inner = self.lock();
        let (sas, mut failures) = Self::delete_all_locked(&mut inner, None);
        let links: Vec<Link> = inner.policies.iter().copied().collect();
        let mut policies = 0;
        for l in links {
            match Self::release_locked(&mut inner, &l) {
                Ok(()) => policies += 1,
                Err(e) => {
                    tracing::warn!(link = %l, "cannot delete policy: {e}");
                    failures += 1;
                }
            }
        }
        Cleanup { sas, policies, failures }
    }
}

impl DataPlane for DirectNetlink {
    async fn install_sa(&self, req: SaRequest) -> Result<(), DataPlaneError> {
        self.install_sync(&req)
    }
    async fn delete_sa(&self, link: Link, direction: Direction, spi: u32) -> Result<(), DataPlaneError> {
        self.delete_sync(&link, direction, spi)
    }
    async fn sa_counters(&self, link: Link, direction: Direction, spi: u32) -> Result<SaCounters, DataPlaneError> {
        self.counters_sync(&link, direction, spi)
    }
    async fn require_esp(&self, link: Link) -> Result<(), DataPlaneError> {
        self.require_sync(&link)
    }
    async fn release_esp(&self, link: Link) -> Result<(), DataPlaneError> {
        self.release_sync(&link)
    }
    async fn delete_all(&self, link: Link) -> Result<u32, DataPlaneError> {
        self.delete_all_sync(&link)
    }
}
