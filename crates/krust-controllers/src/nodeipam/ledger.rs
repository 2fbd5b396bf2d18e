//! Which node (by uid) holds which node CIDR, on top of the [`CidrSet`].
//!
//! Upstream's range allocator keeps only the bitmap and releases a deleted node's CIDRs
//! blindly. Remembering the holders as well means that:
//! - a CIDR promised to a node whose write has not reached the cache yet is still known to
//!   be that node's (asking again gives the same CIDR, not a second one);
//! - releasing a CIDR that another node also carries (two nodes created by hand with the
//!   same podCIDR) keeps it taken;
//! - a node deleted right after its CIDR was written releases that CIDR even if the last
//!   state seen of it did not carry it yet.
//!
//! Pure: no IO.

use std::collections::HashMap;

use super::cidrset::{CidrError, CidrSet, Ipv4Cidr};

/// The allocation state of the node IPAM controller (rebuilt from the Nodes at start).
#[derive(Debug)]
pub struct Ledger {
    set: CidrSet,
    /// Node uid → the CIDRs of the cluster range it holds.
    held: HashMap<String, Vec<Ipv4Cidr>>,
}

impl Ledger {
    /// An empty ledger over `set`.
    pub fn new(set: CidrSet) -> Self {
        Self {
            set,
            held: HashMap::new(),
        }
    }

    /// The cluster CIDR.
    pub fn cluster(&self) -> Ipv4Cidr {
        self.set.cluster()
    }

    /// Subnets taken, and subnets in all.
    pub fn usage(&self) -> (usize, usize) {
        (self.set.allocated(), self.set.capacity())
    }

    /// Records that node `uid` carries `cidrs`: those inside the cluster CIDR become taken,
    /// and what it held before and no longer carries is released. Returns the CIDRs outside
    /// the cluster CIDR (not the controller's to manage).
    pub fn hold(&mut self, uid: &str, cidrs: &[Ipv4Cidr]) -> Vec<Ipv4Cidr> {
        let (inside, outside): (Vec<Ipv4Cidr>, Vec<Ipv4Cidr>) =
            cidrs.iter().partition(|c| self.set.overlaps(**c));
        let before = self.held.get(uid).cloned().unwrap_or_default();
        if !inside.is_empty() {
            self.held.insert(uid.to_string(), inside.clone());
        } else {
            self.held.remove(uid);
        }
        for c in &inside {
            // Inside by the partition, so this cannot fail.
            let _ = self.set.occupy(*c);
        }
        let dropped: Vec<Ipv4Cidr> = before.into_iter().filter(|c| !inside.contains(c)).collect();
        self.release_unless_held(&dropped);
        outside
    }

    /// The CIDR for node `uid`, which has none: the one already promised to it, else the
    /// next free one (then promised to it).
    pub fn allocate(&mut self, uid: &str) -> Result<Ipv4Cidr, CidrError> {
        if let Some(c) = self.held.get(uid).and_then(|h| h.first()) {
            return Ok(*c);
        }
        let c = self.set.allocate_next()?;
        self.held.insert(uid.to_string(), vec![c]);
        Ok(c)
    }

    /// Forgets node `uid` (deleted, or the write of its CIDR refused): releases what it held
    /// and `last_seen` (the CIDRs its last known state carried), except what another node
    /// holds. Returns whether anything became free.
    pub fn forget(&mut self, uid: &str, last_seen: &[Ipv4Cidr]) -> bool {
        let mut gone = self.held.remove(uid).unwrap_or_default();
        for c in last_seen {
            if self.set.overlaps(*c) && !gone.contains(c) {
                gone.push(*c);
            }
        }
        let before = self.set.allocated();
        self.release_unless_held(&gone);
        self.set.allocated() < before
    }

    /// Releases `cidrs`, then takes again whatever other holders still carry there.
    fn release_unless_held(&mut self, cidrs: &[Ipv4Cidr]) {
        if cidrs.is_empty() {
            return;
        }
        for c in cidrs {
            let _ = self.set.release(*c);
        }
        for c in self.held.values().flatten() {
            let _ = self.set.occupy(*c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(s: &str) -> Ipv4Cidr {
        s.parse().unwrap()
    }

    fn full(l: &Ledger) -> bool {
        let (taken, all) = l.usage();
        taken == all
    }

    fn ledger(cluster: &str) -> Ledger {
        Ledger::new(CidrSet::parse(cluster, 24).unwrap())
    }

    #[test]
    fn a_promise_is_kept_until_the_node_carries_it() {
        let mut l = ledger("10.42.0.0/16");
        let a = l.allocate("uid-a").unwrap();
        assert_eq!(l.allocate("uid-a").unwrap(), a, "asking again gives the same");
        assert_ne!(l.allocate("uid-b").unwrap(), a);
        // The node is seen carrying it: nothing changes.
        assert!(l.hold("uid-a", &[a]).is_empty());
        assert_eq!(l.allocate("uid-c").unwrap(), cidr("10.42.2.0/24"));
    }

    #[test]
    fn held_cidrs_are_not_handed_out() {
        let mut l = ledger("10.42.0.0/16");
        l.hold("pre", &[cidr("10.42.0.0/24")]);
        assert_eq!(l.allocate("new").unwrap(), cidr("10.42.1.0/24"));
    }

    #[test]
    fn cidrs_outside_the_range_are_left_alone() {
        let mut l = ledger("10.42.0.0/16");
        let outside = cidr("192.168.5.0/24");
        assert_eq!(l.hold("odd", &[outside]), [outside]);
        assert_eq!(l.allocate("new").unwrap(), cidr("10.42.0.0/24"));
        assert!(!l.forget("odd", &[outside]));
    }

    #[test]
    fn a_node_carrying_another_cidr_than_promised_frees_the_promise() {
        let mut l = ledger("10.42.0.0/23");
        let promised = l.allocate("a").unwrap();
        // Someone else wrote another CIDR first.
        l.hold("a", &[cidr("10.42.1.0/24")]);
        assert!(!full(&l));
        assert_eq!(l.allocate("b").unwrap(), promised);
    }

    #[test]
    fn forgetting_releases_unless_another_node_holds_it() {
        let mut l = ledger("10.42.0.0/23");
        let shared = cidr("10.42.0.0/24");
        l.hold("one", &[shared]);
        l.hold("two", &[shared]);
        assert!(!l.forget("one", &[shared]), "two still carries it");
        assert_eq!(l.allocate("x").unwrap(), cidr("10.42.1.0/24"));
        assert!(full(&l));
        assert!(l.forget("two", &[shared]));
        assert_eq!(l.allocate("y").unwrap(), shared);
    }

    #[test]
    fn a_deleted_node_frees_its_promise_even_if_never_seen_with_it() {
        let mut l = ledger("10.42.0.0/24");
        let c = l.allocate("a").unwrap();
        assert!(full(&l));
        assert!(l.forget("a", &[]));
        assert_eq!(l.allocate("b").unwrap(), c);
    }
}
