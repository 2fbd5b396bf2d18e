//! The meaning of a transaction, written once for every backend.
//!
//! A backend supplies a [`WriteState`] (its view of the latest key-values, including the
//! writes of transactions earlier in the same batch) and [`apply`] decides the branch,
//! assigns revisions and versions, and produces the response and the watch events. Keeping
//! this in one place is what makes the memory and embedded backends agree exactly.

use std::collections::HashSet;

use bytes::Bytes;

use crate::types::{
    Compare, Event, EventKind, KeyValue, Op, OpResult, Revision, StoreError, Txn, TxnResponse,
};

/// The latest state of keys as a transaction sees it, and the two ways to change it.
pub(crate) trait WriteState {
    /// The latest live value of `key`, if it exists.
    fn latest(&mut self, key: &str) -> Result<Option<KeyValue>, StoreError>;

    /// Records `kv` as the new latest value of its key (at `kv.mod_revision`).
    fn put(&mut self, kv: &KeyValue) -> Result<(), StoreError>;

    /// Records that `key` was deleted at `revision`; only called for a key that exists.
    fn delete(&mut self, key: &str, revision: Revision) -> Result<(), StoreError>;
}

/// What one transaction did: the reply for the caller and the events for watchers.
#[derive(Debug)]
pub(crate) struct Applied {
    /// The caller's answer.
    pub response: TxnResponse,
    /// One event per changed key, in op order; empty when nothing changed.
    pub events: Vec<Event>,
}

/// Rejects transactions whose meaning would be ambiguous, before they reach a backend.
///
/// Like etcd, a branch may not write the same key twice (the history keeps one record per
/// key and revision, so a second write in the same revision could not be replayed
/// faithfully), and keys may not be empty.
pub(crate) fn validate(txn: &Txn) -> Result<(), StoreError> {
    for branch in [&txn.success, &txn.failure] {
        let mut written = HashSet::new();
        for op in branch {
            let key = match op {
                Op::Get(key) => {
                    check_key(key)?;
                    continue;
                }
                Op::Put(key, _) | Op::Delete(key) => key,
            };
            check_key(key)?;
            if !written.insert(key.as_str()) {
                return Err(StoreError::Backend(format!(
                    "invalid transaction: key {key:?} is written more than once in one branch"
                )));
            }
        }
    }
    for Compare::ModRevision(key, _) in &txn.compares {
        check_key(key)?;
    }
    Ok(())
}

fn check_key(key: &str) -> Result<(), StoreError> {
    if key.is_empty() {
        return Err(StoreError::Backend("invalid transaction: empty key".to_string()));
    }
    Ok(())
}

/// Runs `txn` against `state`, where `current` is the store revision before it.
///
/// The chosen branch's writes all carry revision `current + 1`; if the branch changed
/// nothing (only reads, or deletes of absent keys) the revision stays `current`, as in etcd.
pub(crate) fn apply(
    state: &mut impl WriteState,
    txn: &Txn,
    current: Revision,
) -> Result<Applied, StoreError> {
    let mut succeeded = true;
    for Compare::ModRevision(key, expected) in &txn.compares {
        let actual = state.latest(key)?.map_or(0, |kv| kv.mod_revision);
        if actual != *expected {
            succeeded = false;
            break;
        }
    }
    let ops = if succeeded { &txn.success } else { &txn.failure };
    let next = current + 1;
    let mut results = Vec::with_capacity(ops.len());
    let mut events = Vec::new();
    for op in ops {
        match op {
            Op::Get(key) => results.push(OpResult::Get(state.latest(key)?)),
            Op::Put(key, value) => {
                let prev = state.latest(key)?;
                let kv = KeyValue {
                    key: key.clone(),
                    value: value.clone(),
                    create_revision: prev.as_ref().map_or(next, |p| p.create_revision),
                    mod_revision: next,
                    version: prev.as_ref().map_or(1, |p| p.version + 1),
                };
                state.put(&kv)?;
                events.push(Event {
                    kind: EventKind::Put,
                    kv: kv.clone(),
                    prev: prev.clone(),
                });
                results.push(OpResult::Put { prev, kv });
            }
            Op::Delete(key) => {
                let prev = state.latest(key)?;
                if prev.is_some() {
                    state.delete(key, next)?;
                    events.push(delete_event(key, next, prev.clone()));
                }
                results.push(OpResult::Delete { prev });
            }
        }
    }
    let revision = if events.is_empty() { current } else { next };
    Ok(Applied {
        response: TxnResponse {
            succeeded,
            revision,
            results,
        },
        events,
    })
}

/// The event of a delete: the key, the delete's revision and nothing else, as etcd sends it.
pub(crate) fn delete_event(key: &str, revision: Revision, prev: Option<KeyValue>) -> Event {
    Event {
        kind: EventKind::Delete,
        kv: KeyValue {
            key: key.to_string(),
            value: Bytes::new(),
            create_revision: 0,
            mod_revision: revision,
            version: 0,
        },
        prev,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[derive(Default)]
    struct MapState(BTreeMap<String, KeyValue>);

    impl WriteState for MapState {
        fn latest(&mut self, key: &str) -> Result<Option<KeyValue>, StoreError> {
            Ok(self.0.get(key).cloned())
        }
        fn put(&mut self, kv: &KeyValue) -> Result<(), StoreError> {
            self.0.insert(kv.key.clone(), kv.clone());
            Ok(())
        }
        fn delete(&mut self, key: &str, _revision: Revision) -> Result<(), StoreError> {
            self.0.remove(key);
            Ok(())
        }
    }

    fn put(key: &str, value: &'static str) -> Op {
        Op::Put(key.to_string(), Bytes::from_static(value.as_bytes()))
    }

    #[test]
    fn put_then_update_counts_versions() {
        let mut state = MapState::default();
        let txn = Txn {
            success: vec![put("a", "1")],
            ..Txn::default()
        };
        let first = apply(&mut state, &txn, 0).expect("apply");
        assert_eq!(first.response.revision, 1);
        let second = apply(&mut state, &txn, 1).expect("apply");
        let OpResult::Put { prev, kv } = &second.response.results[0] else {
            panic!("not a put")
        };
        assert_eq!(prev.as_ref().map(|p| p.version), Some(1));
        assert_eq!((kv.create_revision, kv.mod_revision, kv.version), (1, 2, 2));
    }

    #[test]
    fn failed_compare_runs_failure_branch_without_revision() {
        let mut state = MapState::default();
        let txn = Txn {
            compares: vec![Compare::ModRevision("a".into(), 5)],
            success: vec![put("a", "1")],
            failure: vec![Op::Get("a".into())],
        };
        let applied = apply(&mut state, &txn, 3).expect("apply");
        assert!(!applied.response.succeeded);
        assert_eq!(applied.response.revision, 3);
        assert!(applied.events.is_empty());
    }

    #[test]
    fn delete_of_absent_key_changes_nothing() {
        let mut state = MapState::default();
        let txn = Txn {
            success: vec![Op::Delete("a".into())],
            ..Txn::default()
        };
        let applied = apply(&mut state, &txn, 7).expect("apply");
        assert_eq!(applied.response.revision, 7);
        assert_eq!(applied.response.results, vec![OpResult::Delete { prev: None }]);
    }

    #[test]
    fn validate_rejects_double_write_and_empty_key() {
        let twice = Txn {
            success: vec![put("a", "1"), Op::Delete("a".into())],
            ..Txn::default()
        };
        assert!(validate(&twice).is_err());
        let empty = Txn {
            failure: vec![put("", "1")],
            ..Txn::default()
        };
        assert!(validate(&empty).is_err());
        let fine = Txn {
            success: vec![put("a", "1"), Op::Get("a".into())],
            ..Txn::default()
        };
        assert!(validate(&fine).is_ok());
    }
}
