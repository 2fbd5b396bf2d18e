//! Reading requests the same way in every backend: which keys, at which revision, how many.

use std::ops::Bound;

use crate::types::{RangeRequest, Revision, StoreError};

/// The keys a [`RangeRequest`] covers.
///
/// As in etcd, an empty `end` means the single key `start`; an `end` at or before `start`
/// covers nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeySpan<'a> {
    /// First key (inclusive).
    pub start: &'a str,
    /// Upper bound: `Included(start)` for a single key, otherwise `Excluded(end)`.
    pub end: Bound<&'a str>,
}

impl<'a> KeySpan<'a> {
    /// The span of `req`, or `None` when it is empty.
    pub(crate) fn of(req: &'a RangeRequest) -> Option<Self> {
        if req.end.is_empty() {
            return Some(Self {
                start: &req.start,
                end: Bound::Included(&req.start),
            });
        }
        if req.end.as_str() <= req.start.as_str() {
            return None;
        }
        Some(Self {
            start: &req.start,
            end: Bound::Excluded(&req.end),
        })
    }
}

/// The revision a read is served at: the latest for `None` or 0, otherwise the one asked
/// for, which must lie between the compaction revision and the current one.
pub(crate) fn read_revision(
    requested: Option<Revision>,
    current: Revision,
    compacted: Revision,
) -> Result<Revision, StoreError> {
    match requested {
        None | Some(0) => Ok(current),
        Some(rev) if rev > current => Err(StoreError::FutureRevision {
            requested: rev,
            current,
        }),
        Some(rev) if rev < compacted => Err(StoreError::Compacted {
            requested: rev,
            compacted,
        }),
        Some(rev) => Ok(rev),
    }
}

/// Checks the `after` of a watch: history after it must still exist and not lie in the future.
pub(crate) fn watch_start(after: Revision, current: Revision, compacted: Revision) -> Result<(), StoreError> {
    if after < compacted {
        return Err(StoreError::Compacted {
            requested: after,
            compacted,
        });
    }
    if after > current {
        return Err(StoreError::FutureRevision {
            requested: after,
            current,
        });
    }
    Ok(())
}

/// Checks a compaction request: `Ok(false)` when it is already done (the same revision),
/// `Ok(true)` when it moves the compaction revision forward.
pub(crate) fn compaction_target(
    revision: Revision,
    current: Revision,
    compacted: Revision,
) -> Result<bool, StoreError> {
    if revision > current {
        return Err(StoreError::FutureRevision {
            requested: revision,
            current,
        });
    }
    if revision < compacted {
        return Err(StoreError::Compacted {
            requested: revision,
            compacted,
        });
    }
    Ok(revision > compacted)
}

/// The `limit` of a request as a count, with 0 and `None` meaning no limit.
pub(crate) fn limit(req: &RangeRequest) -> usize {
    match req.limit {
        None | Some(0) => usize::MAX,
        Some(n) => n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(start: &str, end: &str) -> RangeRequest {
        RangeRequest {
            start: start.into(),
            end: end.into(),
            ..RangeRequest::default()
        }
    }

    #[test]
    fn spans() {
        let single = req("a", "");
        assert_eq!(KeySpan::of(&single).map(|s| s.end), Some(Bound::Included("a")));
        assert!(KeySpan::of(&req("b", "a")).is_none());
        let span_req = req("a", "c");
        assert_eq!(KeySpan::of(&span_req).map(|s| s.end), Some(Bound::Excluded("c")));
    }

    #[test]
    fn revisions() {
        assert_eq!(read_revision(None, 9, 3), Ok(9));
        assert_eq!(read_revision(Some(3), 9, 3), Ok(3));
        assert!(matches!(
            read_revision(Some(2), 9, 3),
            Err(StoreError::Compacted { .. })
        ));
        assert!(matches!(
            read_revision(Some(10), 9, 3),
            Err(StoreError::FutureRevision { .. })
        ));
        assert!(watch_start(3, 9, 3).is_ok());
        assert!(watch_start(2, 9, 3).is_err());
        assert_eq!(compaction_target(3, 9, 3), Ok(false));
        assert_eq!(compaction_target(5, 9, 3), Ok(true));
    }
}
