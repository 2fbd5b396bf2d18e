//! Fake addresses of simulated nodes and their pods.
//!
//! Node `i` has InternalIP `10.200.0.0 + i + 1` and gives its pods addresses from its own
//! /24 in `10.64.0.0/10` (`10.(64 + i / 256).(i % 256).0/24`), so a pod IP is unique in the
//! pool and tells which node the pod is on. `.1` is left for a bridge and `.255` for
//! broadcast, as on a real node, so each node has 253 pod addresses.

use std::net::Ipv4Addr;

/// The most nodes the address plan has room for (`10.64.0.0/10` in /24s).
pub(crate) const MAX_NODES: u32 = 64 * 256;

/// The InternalIP of node `index`.
pub(crate) fn node_ip(index: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 200, 0, 0)) + index + 1)
}

/// The network address of node `index`'s pod /24.
pub(crate) fn pod_subnet(index: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 64, 0, 0)) + (index << 8))
}

/// Which host numbers of one /24 are in use: 32 bytes, plus where to look next.
///
/// Allocation goes round the subnet instead of always taking the lowest free number, as
/// host-local IPAM does, so an address just released is not handed out again at once.
#[derive(Debug, Clone, Default)]
pub(crate) struct SubnetAllocator {
    used: [u64; 4],
    next: u8,
}

/// First and last host numbers handed out to pods.
const FIRST_HOST: u8 = 2;
const LAST_HOST: u8 = 254;

impl SubnetAllocator {
    fn is_used(&self, host: u8) -> bool {
        self.used[usize::from(host / 64)] & (1u64 << (host % 64)) != 0
    }

    fn set(&mut self, host: u8, used: bool) {
        let word = &mut self.used[usize::from(host / 64)];
        if used {
            *word |= 1u64 << (host % 64);
        } else {
            *word &= !(1u64 << (host % 64));
        }
    }

    /// Takes a free host number, or `None` when the subnet is full.
    pub fn allocate(&mut self) -> Option<u8> {
        let span = u16::from(LAST_HOST - FIRST_HOST) + 1;
        let start = u16::from(self.next.clamp(FIRST_HOST, LAST_HOST) - FIRST_HOST);
        for step in 0..span {
            let Ok(host) = u8::try_from(u16::from(FIRST_HOST) + (start + step) % span) else {
                continue;
            };
            if !self.is_used(host) {
                self.set(host, true);
                self.next = if host == LAST_HOST { FIRST_HOST } else { host + 1 };
                return Some(host);
            }
        }
        None
    }

    /// Gives a host number back.
    pub fn release(&mut self, host: u8) {
        self.set(host, false);
    }
}

/// The address of host number `host` in node `index`'s pod subnet.
pub(crate) fn pod_ip(index: u32, host: u8) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(pod_subnet(index)) + u32::from(host))
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn address_plan() {
        assert_eq!(node_ip(0), Ipv4Addr::new(10, 200, 0, 1));
        assert_eq!(node_ip(300), Ipv4Addr::new(10, 200, 1, 45));
        assert_eq!(pod_subnet(0), Ipv4Addr::new(10, 64, 0, 0));
        assert_eq!(pod_subnet(257), Ipv4Addr::new(10, 65, 1, 0));
        assert_eq!(pod_subnet(MAX_NODES - 1), Ipv4Addr::new(10, 127, 255, 0));
        assert_eq!(pod_ip(1, 2), Ipv4Addr::new(10, 64, 1, 2));
    }

    #[test]
    fn allocation_is_unique_until_full() {
        let mut a = SubnetAllocator::default();
        let mut seen = HashSet::new();
        while let Some(h) = a.allocate() {
            assert!((FIRST_HOST..=LAST_HOST).contains(&h));
            assert!(seen.insert(h), "{h} handed out twice");
        }
        assert_eq!(seen.len(), 253);
        a.release(7);
        assert_eq!(a.allocate(), Some(7));
        assert_eq!(a.allocate(), None);
    }

    #[test]
    fn released_addresses_are_not_reused_at_once() {
        let mut a = SubnetAllocator::default();
        let first = a.allocate().unwrap();
        a.release(first);
        let second = a.allocate().unwrap();
        assert_ne!(first, second);
    }
}
