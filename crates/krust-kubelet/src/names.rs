//! Node names of a pool: `<prefix><index>`, and back.
//!
//! Nodes are identified by their index everywhere inside the pool, so per-node state is a
//! slot in a vector and a name is only built when talking to the API.

/// The names of a pool's nodes.
#[derive(Debug, Clone)]
pub(crate) struct NodeNames {
    prefix: String,
    count: u32,
}

impl NodeNames {
    /// Nodes `<prefix>0` … `<prefix><count-1>`.
    pub fn new(prefix: &str, count: u32) -> Self {
        Self {
            prefix: prefix.to_string(),
            count,
        }
    }

    /// How many nodes the pool has.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The name of node `index`.
    pub fn name(&self, index: u32) -> String {
        format!("{}{index}", self.prefix)
    }

    /// The index of `name` if it is one of this pool's nodes. `sim-01` is not `sim-1`.
    pub fn index(&self, name: &str) -> Option<u32> {
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
}
