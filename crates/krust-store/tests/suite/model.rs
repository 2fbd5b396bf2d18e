//! An independent, obviously-correct model of the store: a full copy of the key space per
//! revision. Backends are checked against it on random transactions.

use std::collections::{BTreeMap, HashSet};

use bytes::Bytes;
use krust_store::{Compare, Event, EventKind, KeyValue, Op, OpResult, Revision, Txn, TxnResponse};

/// The prefix all model keys live under.
pub const PREFIX: &str = "/m/";
const KEYS: u64 = 6;

/// A small deterministic generator (xorshift64*), so failures reproduce.
pub struct Rng(pub u64);

impl Rng {
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

/// Every revision's complete state, and every event.
pub struct Model {
    states: Vec<BTreeMap<String, KeyValue>>,
    events: Vec<Event>,
}

impl Default for Model {
    fn default() -> Self {
        Self {
            states: vec![BTreeMap::new()],
            events: Vec::new(),
        }
    }
}

impl Model {
    pub fn current(&self) -> Revision {
        (self.states.len() - 1) as Revision
    }

    pub fn state_at(&self, revision: Revision) -> Vec<KeyValue> {
        self.states[revision as usize].values().cloned().collect()
    }

    pub fn events(&self) -> Vec<Event> {
        self.events.clone()
    }

    fn key(rng: &mut Rng) -> String {
        format!("{PREFIX}k{}", rng.below(KEYS))
    }

    fn branch(&self, rng: &mut Rng, max_ops: u64) -> Vec<Op> {
        let mut written = HashSet::new();
        let mut ops = Vec::new();
        for _ in 0..rng.below(max_ops + 1) {
            let key = Self::key(rng);
            match rng.below(5) {
                0 => ops.push(Op::Get(key)),
                1 if written.insert(key.clone()) => ops.push(Op::Delete(key)),
                _ if written.insert(key.clone()) => {
                    let value = format!("v{}", rng.below(1000));
                    ops.push(Op::Put(key, Bytes::from(value)));
                }
                _ => {}
            }
        }
        ops
    }

    /// A random transaction whose compare (if any) usually holds.
    pub fn random_txn(&self, rng: &mut Rng) -> Txn {
        let latest = &self.states[self.states.len() - 1];
        let mut compares = Vec::new();
        if rng.below(2) == 0 {
            let key = Self::key(rng);
            let actual = latest.get(&key).map_or(0, |kv| kv.mod_revision);
            let expected = match rng.below(3) {
                0 => actual + 1,
                _ => actual,
            };
            compares.push(Compare::ModRevision(key, expected));
        }
        Txn {
            compares,
            success: self.branch(rng, 3),
            failure: self.branch(rng, 2),
        }
    }

    /// What the store must answer to `txn`, recording its effect.
    pub fn apply(&mut self, txn: &Txn) -> TxnResponse {
        let current = self.current();
        let next = current + 1;
        let mut state = self.states[current as usize].clone();
        let succeeded = txn.compares.iter().all(|Compare::ModRevision(key, expected)| {
            state.get(key).map_or(0, |kv| kv.mod_revision) == *expected
        });
        let mut results = Vec::new();
        let mut events = Vec::new();
        for op in if succeeded { &txn.success } else { &txn.failure } {
            match op {
                Op::Get(key) => results.push(OpResult::Get(state.get(key).cloned())),
                Op::Put(key, value) => {
                    let prev = state.get(key).cloned();
                    let kv = KeyValue {
                        key: key.clone(),
                        value: value.clone(),
                        create_revision: prev.as_ref().map_or(next, |p| p.create_revision),
                        mod_revision: next,
                        version: prev.as_ref().map_or(0, |p| p.version) + 1,
                    };
                    state.insert(key.clone(), kv.clone());
                    events.push(Event {
                        kind: EventKind::Put,
                        kv: kv.clone(),
                        prev: prev.clone(),
                    });
                    results.push(OpResult::Put { prev, kv });
                }
                Op::Delete(key) => {
                    let prev = state.remove(key);
                    if prev.is_some() {
                        let kv = KeyValue {
                            key: key.clone(),
                            value: Bytes::new(),
                            create_revision: 0,
                            mod_revision: next,
                            version: 0,
                        };
                        events.push(Event {
                            kind: EventKind::Delete,
                            kv,
                            prev: prev.clone(),
                        });
                    }
                    results.push(OpResult::Delete { prev });
                }
            }
        }
        let revision = if events.is_empty() {
            current
        } else {
            self.states.push(state);
            self.events.extend(events);
            next
        };
        TxnResponse {
            succeeded,
            revision,
            results,
        }
    }
}
