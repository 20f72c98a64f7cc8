//! Deadlines of outstanding procedures and E2AP transaction ids.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use qsafe_asn1::e2ap::build;
use qsafe_asn1::e2ap_asn as asn;

/// Every armed deadline, ordered by time. A procedure stores its own
/// deadline so it can disarm exactly its entry; `earliest` is what
/// `poll_timeout` reports and `expired` is what `handle_timeout` fires.
#[derive(Debug)]
pub(crate) struct Timers<K: Ord + Copy> {
    armed: BTreeSet<(Instant, K)>,
}

impl<K: Ord + Copy> Default for Timers<K> {
    fn default() -> Self {
        Self { armed: BTreeSet::new() }
    }
}

impl<K: Ord + Copy> Timers<K> {
    pub fn arm(&mut self, deadline: Instant, key: K) {
        self.armed.insert((deadline, key));
    }

    pub fn disarm(&mut self, deadline: Instant, key: K) {
        self.armed.remove(&(deadline, key));
    }

    pub fn earliest(&self) -> Option<Instant> {
        self.armed.first().map(|(at, _)| *at)
    }

    /// Removes and returns the next timer due at `now`.
    pub fn pop_expired(&mut self, now: Instant) -> Option<K> {
        match self.armed.first() {
            Some((at, _)) if *at <= now => self.armed.pop_first().map(|(_, k)| k),
            _ => None,
        }
    }

    pub fn clear(&mut self) {
        self.armed.clear();
    }
}

/// `now + timeout`, saturating far in the future instead of panicking on
/// an absurd timeout.
pub(crate) fn deadline(now: Instant, timeout: Duration) -> Instant {
    const FAR: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
    now.checked_add(timeout).or_else(|| now.checked_add(FAR)).unwrap_or(now)
}

/// Allocation of E2AP `TransactionID`s (0..255) for the procedures one side
/// of one association initiates: unique among its outstanding procedures,
/// handed out round-robin so a late answer to a finished procedure is
/// unlikely to match a new one.
#[derive(Debug, Clone)]
pub(crate) struct TransactionIds {
    next: u8,
    in_use: [bool; 256],
}

impl Default for TransactionIds {
    fn default() -> Self {
        Self { next: 0, in_use: [false; 256] }
    }
}

impl TransactionIds {
    /// A free id, or `None` when 256 procedures are outstanding.
    pub fn allocate(&mut self) -> Option<u8> {
        for _ in 0..256 {
            let id = self.next;
            self.next = self.next.wrapping_add(1);
            if !self.in_use[usize::from(id)] {
                self.in_use[usize::from(id)] = true;
                return Some(id);
            }
        }
        None
    }

    /// An id for a procedure without a response (class 2): the next one in
    /// turn that is not in use, not reserved.
    pub fn next_unreserved(&mut self) -> u8 {
        for _ in 0..256 {
            let id = self.next;
            self.next = self.next.wrapping_add(1);
            if !self.in_use[usize::from(id)] {
                return id;
            }
        }
        self.next
    }

    pub fn release(&mut self, id: u8) {
        self.in_use[usize::from(id)] = false;
    }

    pub fn clear(&mut self) {
        self.in_use = [false; 256];
    }
}

/// The value of a received transaction id when it is in the root range
/// (0..255); the extension range never matches an outstanding procedure.
pub(crate) fn transaction_value(t: &asn::TransactionID) -> Option<u8> {
    u8::try_from(&t.0).ok()
}

pub(crate) fn transaction(id: u8) -> asn::TransactionID {
    build::transaction_id(id)
}
