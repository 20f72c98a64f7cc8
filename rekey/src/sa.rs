//! What the rekey machines ask the data plane (the kernel, through the XFRM broker) to do, and
//! the SPI allocator.

use std::collections::BTreeSet;
use std::fmt;

use qsafe_asn1::e2sm_qkd::KeySource;
use rand::Rng;
use zeroize::Zeroizing;

/// Direction of an ESP SA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    /// RIC → E2 node (the RIC's outbound, the node's inbound).
    RicToNode,
    /// E2 node → RIC (the node's outbound, the RIC's inbound).
    NodeToRic,
}

/// One ESP SA to install: `rfc4106(gcm(aes))`, 256-bit key and 32-bit salt.
pub struct SaSpec {
    /// The rekey epoch it belongs to.
    pub epoch: u32,
    /// Its SPI (>= 256).
    pub spi: u32,
    /// Its direction.
    pub direction: Direction,
    /// AES-256 key (32 bytes) then salt (4 bytes), as XFRM takes it.
    pub keymat: Zeroizing<[u8; 36]>,
    /// Where its key came from.
    pub key_source: KeySource,
}

impl fmt::Debug for SaSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SaSpec")
            .field("epoch", &self.epoch)
            .field("spi", &format_args!("{:#010x}", self.spi))
            .field("direction", &self.direction)
            .field("keymat", &"<redacted>")
            .field("key_source", &self.key_source)
            .finish()
    }
}

/// A data-plane operation, in the order the machine emits them (drivers execute them in order
/// and must finish one before the next: the ordering *is* make-before-break).
#[derive(Debug)]
pub enum DataPlaneOp {
    /// Install an inbound SA (decrypt only; nothing is sent with it).
    InstallInbound(SaSpec),
    /// Install an outbound SA. The kernel uses the newest outbound SA of a template, so this
    /// is the switch to the new epoch.
    InstallOutbound(SaSpec),
    /// Delete an SA. Idempotent: deleting an SA that is not installed succeeds. The driver
    /// returns the SPI to the [`SpiAllocator`] (RIC side).
    Delete {
        /// Direction of the SA.
        direction: Direction,
        /// Its SPI.
        spi: u32,
        /// Its epoch.
        epoch: u32,
    },
    /// Install the ESP-required policy (in and out, SCTP between the two addresses): from now
    /// on traffic without an SA is dropped (fail closed).
    RequireEsp,
    /// Remove the ESP-required policy (only on recovery from isolation, before re-bootstrap).
    ReleaseEsp,
    /// Delete every SA of the link (the policy stays: traffic stops).
    DeleteAll,
}

/// No SPI left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no free SPI (all {0} in use)")]
pub struct SpiExhausted(pub u64);

/// Hands out SPIs that are unique on this host (>= 256, RFC 4303 §2.1), starting at a random
/// point and counting up, skipping SPIs in use; [`Self::release`] returns one. One allocator
/// serves every link of a process (sharing it across threads is the caller's business).
#[derive(Debug, Clone)]
pub struct SpiAllocator {
    next: u32,
    in_use: BTreeSet<u32>,
}

impl Default for SpiAllocator {
    fn default() -> Self {
        Self::new()
    }
}

impl SpiAllocator {
    /// Lowest SPI handed out.
    pub const MIN: u32 = 256;

    /// An allocator starting at a random SPI.
    pub fn new() -> Self {
        Self::starting_at(rand::rng().random_range(Self::MIN..=u32::MAX))
    }

    /// An allocator starting at `start` (clamped to >= 256; for tests).
    pub fn starting_at(start: u32) -> Self {
        SpiAllocator { next: start.max(Self::MIN), in_use: BTreeSet::new() }
    }

    /// A fresh SPI.
    pub fn allocate(&mut self) -> Result<u32, SpiExhausted> {
        let space = u64::from(u32::MAX - Self::MIN) + 1;
        if self.in_use.len() as u64 >= space {
            return Err(SpiExhausted(space));
        }
        loop {
            let spi = self.next;
            self.next = if spi == u32::MAX { Self::MIN } else { spi + 1 };
            if self.in_use.insert(spi) {
                return Ok(spi);
            }
        }
    }

    /// Two fresh SPIs: (RIC → node, node → RIC).
    pub fn allocate_pair(&mut self) -> Result<(u32, u32), SpiExhausted> {
        let a = self.allocate()?;
        match self.allocate() {
            Ok(b) => Ok((a, b)),
            Err(e) => {
                self.release(a);
                Err(e)
            }
        }
    }

    /// Returns an SPI (after its SA was deleted).
    pub fn release(&mut self, spi: u32) {
        self.in_use.remove(&spi);
    }

    /// Whether `spi` is handed out.
    pub fn is_in_use(&self, spi: u32) -> bool {
        self.in_use.contains(&spi)
    }

    /// How many SPIs are handed out.
    pub fn len(&self) -> usize {
        self.in_use.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.in_use.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spis_are_unique_wrap_and_skip_reserved() {
        let mut a = SpiAllocator::starting_at(u32::MAX - 1);
        let x = a.allocate().unwrap();
        let y = a.allocate().unwrap();
        let z = a.allocate().unwrap();
        assert_eq!((x, y, z), (u32::MAX - 1, u32::MAX, SpiAllocator::MIN));
        a.release(y);
        assert!(!a.is_in_use(y) && a.is_in_use(x));
        let mut b = SpiAllocator::starting_at(0);
        assert_eq!(b.allocate_pair().unwrap(), (256, 257));
    }

    #[test]
    fn sa_spec_debug_redacts_the_key() {
        let s = SaSpec {
            epoch: 1,
            spi: 300,
            direction: Direction::RicToNode,
            keymat: Zeroizing::new([0xab; 36]),
            key_source: KeySource::Hybrid,
        };
        let d = format!("{s:?}");
        assert!(d.contains("<redacted>") && !d.contains("171") && !d.contains("ab, "));
    }
}
