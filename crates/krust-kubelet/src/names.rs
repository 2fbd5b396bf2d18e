//! Node names of a pool: `<prefix><index>`, and back.
//!
//! Nodes are identified by their index everywhere inside the pool, so per-node state is a
//! slot in a vector and a name is only built when talking to the API.

/// The names of a pool's nodes.
#[derive(Debug, Clone)]
pub(crate) struct NodeNames {
    prefix: String,
    count: u32,
    /// A pool of one real node: its name is `prefix` itself, with no index appended.
    exact: bool,
}

impl NodeNames {
    /// Nodes `<prefix>0` … `<prefix><count-1>`.
    pub fn new(prefix: &str, count: u32) -> Self {
        Self {
            prefix: prefix.to_string(),
            count,
            exact: false,
        }
    }

    /// One node called exactly `name` (a real node agent's pool).
    pub fn single(name: &str) -> Self {
        Self {
            prefix: name.to_string(),
            count: 1,
            exact: true,
        }
    }

    /// The name of the pool's only node when it is a real node's pool.
    pub fn single_name(&self) -> Option<&str> {
        self.exact.then_some(self.prefix.as_str())
    }

    /// How many nodes the pool has.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The name of node `index`.
    pub fn name(&self, index: u32) -> String {
        if self.exact {
            return self.prefix.clone();
        }
        format!("{}{index}", self.prefix)
    }

    /// The index of `name` if it is one of this pool's nodes. `sim-01` is not `sim-1`.
    pub fn index(&self, name: &str) -> Option<u32> {
        if self.exact {
            return (name == self.prefix).then_some(0);
        }
        let digits = name.strip_prefix(self.prefix.as_str())?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if digits.len() > 1 && digits.starts_with('0') {
            return None;
        }
        digits.parse::<u32>().ok().filter(|&i| i < self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let n = NodeNames::new("sim-", 12);
        assert_eq!(n.name(0), "sim-0");
        assert_eq!(n.name(11), "sim-11");
        assert_eq!(n.index("sim-0"), Some(0));
        assert_eq!(n.index("sim-11"), Some(11));
        for other in [
            "sim-12", "sim-01", "sim-", "sim-x", "sim--1", "node-1", "sim-1a", "",
        ] {
            assert_eq!(n.index(other), None, "{other}");
        }
    }

    #[test]
    fn a_single_node_has_exactly_its_name() {
        let n = NodeNames::single("worker-a");
        assert_eq!(n.count(), 1);
        assert_eq!(n.name(0), "worker-a");
        assert_eq!(n.index("worker-a"), Some(0));
        assert_eq!(n.index("worker-a0"), None);
        assert_eq!(n.index("worker-"), None);
    }
}
