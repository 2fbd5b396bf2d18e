//! The cluster CIDR cut into node subnets, as upstream's `cidrset`: a bitmap of which
//! subnets are taken, and a cursor so that allocation goes round the range (a released
//! subnet is handed out again only after every other free one, which keeps a CIDR that a
//! just-deleted node's pods may still be using out of circulation for as long as possible).
//!
//! Pure: no IO, no clock.

use std::fmt;
use std::net::Ipv4Addr;
use std::ops::RangeInclusive;
use std::str::FromStr;

/// Longest node subnet prefix: a /31 or /32 leaves no address for pods beside the bridge.
pub const MAX_MASK: u8 = 30;

/// Most bits a node subnet may add to the cluster prefix: bounds the bitmap (2^24 subnets
/// take 2 MiB), so a stray `--cluster-cidr 0.0.0.0/0 --node-cidr-mask-size 30` is refused
/// instead of reserving 128 MiB.
pub const MAX_SUBNET_BITS: u8 = 24;

/// An IPv4 network: address with the host bits cleared, and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ipv4Cidr {
    network: Ipv4Addr,
    prefix: u8,
}

impl Ipv4Cidr {
    /// The network of `addr` with this prefix (host bits cleared); `None` if the prefix is
    /// over 32.
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Option<Self> {
        (prefix <= 32).then(|| Self {
            network: Ipv4Addr::from(u32::from(addr) & mask_bits(prefix)),
            prefix,
        })
    }

    /// First address, as a number.
    fn first(&self) -> u64 {
        u64::from(u32::from(self.network))
    }

    /// Last address, as a number.
    fn last(&self) -> u64 {
        self.first() + (1u64 << (32 - u32::from(self.prefix))) - 1
    }
}

fn mask_bits(prefix: u8) -> u32 {
    match prefix {
        0 => 0,
        p => u32::MAX << (32 - u32::from(p.min(32))),
    }
}

impl FromStr for Ipv4Cidr {
    type Err = CidrError;

    /// `a.b.c.d/n`; host bits are cleared, as Go's `net.ParseCIDR` returns the network.
    fn from_str(s: &str) -> Result<Self, CidrError> {
        let bad = || CidrError::Parse(s.to_string());
        let (addr, prefix) = s.split_once('/').ok_or_else(bad)?;
        if prefix.is_empty() || prefix.len() > 2 || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| bad())?;
        Self::new(addr, prefix).ok_or_else(bad)
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// What can go wrong with node CIDRs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    /// Not an IPv4 CIDR.
    #[error("{0:?} is not an IPv4 CIDR such as 10.42.0.0/16")]
    Parse(String),
    /// The node mask does not fit the cluster CIDR.
    #[error(
        "node CIDR mask size {mask} must be at least the cluster CIDR's prefix length {prefix} and at most {MAX_MASK}"
    )]
    MaskSize {
        /// The node subnet prefix length asked for.
        mask: u8,
        /// The cluster CIDR's prefix length.
        prefix: u8,
    },
    /// The node mask would cut the cluster CIDR into too many subnets.
    #[error(
        "node CIDR mask size {mask} cuts cluster CIDR {cluster} into more than 2^{MAX_SUBNET_BITS} subnets"
    )]
    TooManySubnets {
        /// The cluster CIDR.
        cluster: Ipv4Cidr,
        /// The node subnet prefix length asked for.
        mask: u8,
    },
    /// The CIDR does not overlap the cluster CIDR.
    #[error("{cidr} is outside the cluster CIDR {cluster}")]
    OutOfRange {
        /// The CIDR asked about.
        cidr: Ipv4Cidr,
        /// The cluster CIDR.
        cluster: Ipv4Cidr,
    },
    /// Every subnet is taken.
    #[error("no node CIDR left in the cluster CIDR {0}")]
    Full(Ipv4Cidr),
}

/// The node subnets of one cluster CIDR and which of them are taken.
#[derive(Debug, Clone)]
pub struct CidrSet {
    cluster: Ipv4Cidr,
    mask: u8,
    /// One bit per subnet, set when taken.
    used: Vec<u64>,
    /// Subnets taken.
    allocated: usize,
    /// Subnets in all.
    max: usize,
    /// Where the next allocation starts looking (upstream's `nextCandidate`).
    next: usize,
}

impl CidrSet {
    /// The subnets of prefix length `mask` in `cluster`, all free.
    pub fn new(cluster: Ipv4Cidr, mask: u8) -> Result<Self, CidrError> {
        if mask < cluster.prefix || mask > MAX_MASK {
            return Err(CidrError::MaskSize {
                mask,
                prefix: cluster.prefix,
            });
        }
        let bits = mask - cluster.prefix;
        if bits > MAX_SUBNET_BITS {
            return Err(CidrError::TooManySubnets { cluster, mask });
        }
        let max = 1usize << bits;
        Ok(Self {
            cluster,
            mask,
            used: vec![0; max.div_ceil(64)],
            allocated: 0,
            max,
            next: 0,
        })
    }

    /// [`CidrSet::new`] from the cluster CIDR's text (as the flag gives it).
    pub fn parse(cluster: &str, mask: u8) -> Result<Self, CidrError> {
        Self::new(cluster.parse()?, mask)
    }

    /// The cluster CIDR.
    pub fn cluster(&self) -> Ipv4Cidr {
        self.cluster
    }

    /// Subnets in all.
    pub fn capacity(&self) -> usize {
        self.max
    }

    /// Subnets taken.
    pub fn allocated(&self) -> usize {
        self.allocated
    }

    /// Whether every subnet is taken.
    pub fn is_full(&self) -> bool {
        self.allocated >= self.max
    }

    /// Takes the first free subnet at or after the cursor (going round), and moves the
    /// cursor past it.
    pub fn allocate_next(&mut self) -> Result<Ipv4Cidr, CidrError> {
        if self.is_full() {
            return Err(CidrError::Full(self.cluster));
        }
        let found = (0..self.max)
            .map(|i| (self.next + i) % self.max)
            .find(|&i| !self.is_set(i))
            .ok_or(CidrError::Full(self.cluster))?;
        self.set(found);
        self.next = (found + 1) % self.max;
        Ok(self.subnet(found))
    }

    /// Marks every subnet `cidr` overlaps as taken (a node that already has a CIDR). The
    /// cursor does not move.
    pub fn occupy(&mut self, cidr: Ipv4Cidr) -> Result<(), CidrError> {
        for i in self.indices(cidr)? {
            self.set(i);
        }
        Ok(())
    }

    /// Marks every subnet `cidr` overlaps as free. The cursor does not move, so the subnet
    /// comes round again only after the others.
    pub fn release(&mut self, cidr: Ipv4Cidr) -> Result<(), CidrError> {
        for i in self.indices(cidr)? {
            self.clear(i);
        }
        Ok(())
    }

    /// Whether `cidr` overlaps the cluster CIDR.
    pub fn overlaps(&self, cidr: Ipv4Cidr) -> bool {
        self.indices(cidr).is_ok()
    }

    /// The subnets `cidr` overlaps: all of those inside it when it is larger than a subnet,
    /// the one containing it when smaller.
    fn indices(&self, cidr: Ipv4Cidr) -> Result<RangeInclusive<usize>, CidrError> {
        let (c, k) = (self.cluster, cidr);
        if k.first() > c.last() || c.first() > k.last() {
            return Err(CidrError::OutOfRange {
                cidr,
                cluster: self.cluster,
            });
        }
        let shift = 32 - u32::from(self.mask);
        let index = |addr: u64| usize::try_from((addr - c.first()) >> shift).unwrap_or(usize::MAX);
        Ok(index(k.first().max(c.first()))..=index(k.last().min(c.last())))
    }

    /// The `i`-th subnet.
    fn subnet(&self, i: usize) -> Ipv4Cidr {
        let offset = (i as u64) << (32 - u32::from(self.mask));
        let addr = u32::try_from(self.cluster.first() + offset).unwrap_or(u32::MAX);
        Ipv4Cidr {
            network: Ipv4Addr::from(addr),
            prefix: self.mask,
        }
    }

    fn is_set(&self, i: usize) -> bool {
        self.used[i / 64] & (1 << (i % 64)) != 0
    }

    fn set(&mut self, i: usize) {
        if !self.is_set(i) {
            self.used[i / 64] |= 1 << (i % 64);
            self.allocated += 1;
        }
    }

    fn clear(&mut self, i: usize) {
        if self.is_set(i) {
            self.used[i / 64] &= !(1 << (i % 64));
            self.allocated -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(s: &str) -> Ipv4Cidr {
        s.parse().unwrap()
    }

    fn set(cluster: &str, mask: u8) -> CidrSet {
        CidrSet::parse(cluster, mask).unwrap()
    }

    #[test]
    fn parsing() {
        assert_eq!(cidr("10.42.0.0/16").to_string(), "10.42.0.0/16");
        // Host bits are cleared, as Go's ParseCIDR does.
        assert_eq!(cidr("10.42.7.9/16").to_string(), "10.42.0.0/16");
        assert_eq!(cidr("0.0.0.0/0").to_string(), "0.0.0.0/0");
        for bad in [
            "",
            "10.42.0.0",
            "10.42.0.0/",
            "10.42.0.0/33",
            "10.42.0.0/+8",
            "10.42.0/16",
            "fd00::/64",
            "10.42.0.0/16/1",
            "x/16",
        ] {
            assert_eq!(
                bad.parse::<Ipv4Cidr>(),
                Err(CidrError::Parse(bad.into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn sequential_allocation() {
        let mut s = set("10.42.0.0/16", 24);
        assert_eq!(s.capacity(), 256);
        let got: Vec<String> = (0..3).map(|_| s.allocate_next().unwrap().to_string()).collect();
        assert_eq!(got, ["10.42.0.0/24", "10.42.1.0/24", "10.42.2.0/24"]);
        assert_eq!(s.allocated(), 3);
    }

    #[test]
    fn occupied_cidrs_are_skipped() {
        let mut s = set("10.42.0.0/16", 24);
        s.occupy(cidr("10.42.0.0/24")).unwrap();
        s.occupy(cidr("10.42.2.0/24")).unwrap();
        // Occupying twice counts once.
        s.occupy(cidr("10.42.2.0/24")).unwrap();
        assert_eq!(s.allocated(), 2);
        assert_eq!(s.allocate_next().unwrap(), cidr("10.42.1.0/24"));
        assert_eq!(s.allocate_next().unwrap(), cidr("10.42.3.0/24"));
    }

    #[test]
    fn larger_and_smaller_cidrs_occupy_what_they_overlap() {
        let mut s = set("10.42.0.0/16", 24);
        // A /23 takes two subnets; a /26 takes the one containing it.
        s.occupy(cidr("10.42.0.0/23")).unwrap();
        s.occupy(cidr("10.42.2.64/26")).unwrap();
        assert_eq!(s.allocated(), 3);
        assert_eq!(s.allocate_next().unwrap(), cidr("10.42.3.0/24"));
        // A CIDR containing the whole cluster CIDR takes everything.
        let mut all = set("10.42.0.0/22", 24);
        all.occupy(cidr("10.0.0.0/8")).unwrap();
        assert!(all.is_full());
    }

    #[test]
    fn cidrs_outside_the_cluster_cidr_are_refused() {
        let mut s = set("10.42.0.0/16", 24);
        let outside = cidr("10.43.0.0/24");
        assert_eq!(
            s.occupy(outside),
            Err(CidrError::OutOfRange {
                cidr: outside,
                cluster: cidr("10.42.0.0/16")
            })
        );
        assert!(s.release(outside).is_err());
        assert!(!s.overlaps(outside));
        assert!(s.overlaps(cidr("10.42.255.0/24")));
        assert_eq!(s.allocated(), 0);
    }

    #[test]
    fn released_cidrs_come_round_again_after_the_others() {
        let mut s = set("10.42.0.0/22", 24);
        let a = s.allocate_next().unwrap();
        let b = s.allocate_next().unwrap();
        s.release(a).unwrap();
        assert_eq!(s.allocated(), 1);
        // Not a again at once: the cursor goes on.
        assert_eq!(s.allocate_next().unwrap(), cidr("10.42.2.0/24"));
        assert_eq!(s.allocate_next().unwrap(), cidr("10.42.3.0/24"));
        // Round again: a is the only free one.
        assert_eq!(s.allocate_next().unwrap(), a);
        assert!(s.is_full());
        s.release(b).unwrap();
        assert_eq!(s.allocate_next().unwrap(), b);
    }

    #[test]
    fn exhaustion() {
        let mut s = set("10.42.0.0/23", 24);
        s.allocate_next().unwrap();
        s.allocate_next().unwrap();
        assert!(s.is_full());
        assert_eq!(s.allocate_next(), Err(CidrError::Full(cidr("10.42.0.0/23"))));
        assert_eq!(
            CidrError::Full(cidr("10.42.0.0/23")).to_string(),
            "no node CIDR left in the cluster CIDR 10.42.0.0/23"
        );
    }

    #[test]
    fn mask_sizes() {
        // The mask may equal the cluster prefix (one subnet) and go up to /30.
        assert_eq!(set("10.42.0.0/24", 24).capacity(), 1);
        assert_eq!(set("10.42.0.0/24", 30).capacity(), 64);
        assert_eq!(set("10.0.0.0/8", 30).capacity(), 1 << 22);
        assert_eq!(
            CidrSet::parse("10.42.0.0/16", 15).unwrap_err(),
            CidrError::MaskSize { mask: 15, prefix: 16 }
        );
        assert_eq!(
            CidrSet::parse("10.42.0.0/16", 31).unwrap_err(),
            CidrError::MaskSize { mask: 31, prefix: 16 }
        );
        assert!(matches!(
            CidrSet::parse("0.0.0.0/0", 30),
            Err(CidrError::TooManySubnets { .. })
        ));
        assert!(matches!(
            CidrSet::parse("10.42.0.0", 24),
            Err(CidrError::Parse(_))
        ));
        let msg = CidrSet::parse("10.42.0.0/16", 8).unwrap_err().to_string();
        assert_eq!(
            msg,
            "node CIDR mask size 8 must be at least the cluster CIDR's prefix length 16 and at most 30"
        );
    }

    #[test]
    fn the_top_of_the_address_space() {
        let mut s = set("255.255.255.0/24", 30);
        let last = (0..64).map(|_| s.allocate_next().unwrap()).last().unwrap();
        assert_eq!(last, cidr("255.255.255.252/30"));
        s.occupy(cidr("0.0.0.0/0")).unwrap();
        s.release(cidr("255.255.255.252/30")).unwrap();
        assert_eq!(s.allocate_next().unwrap(), cidr("255.255.255.252/30"));
    }
}
