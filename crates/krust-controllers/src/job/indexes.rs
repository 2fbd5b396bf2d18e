//! Completion indexes of Indexed Jobs: reading a pod's index and the interval notation of
//! `status.completedIndexes` / `status.failedIndexes` ("1,3-5,7"), as upstream writes it.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::Pod;

/// Annotation (and, since the PodIndexLabel feature, label) holding a pod's index.
pub(crate) const INDEX_KEY: &str = "batch.kubernetes.io/job-completion-index";
/// Annotation counting the earlier failures of a pod's index (backoffLimitPerIndex).
pub(crate) const INDEX_FAILURE_COUNT: &str = "batch.kubernetes.io/job-index-failure-count";

/// A pod's completion index, if it carries a valid one below `completions`. The
/// annotation wins over the label, as upstream reads them.
pub(crate) fn index_of(pod: &Pod, completions: i32) -> Option<i32> {
    let meta = &pod.metadata;
    let raw = meta
        .annotations
        .as_ref()
        .and_then(|a| a.get(INDEX_KEY))
        .or_else(|| meta.labels.as_ref().and_then(|l| l.get(INDEX_KEY)))?;
    let ix: i32 = raw.parse().ok()?;
    (0..completions).contains(&ix).then_some(ix)
}

/// The failures an index had before this pod (from the pod's annotation, 0 if absent).
pub(crate) fn failure_count(pod: &Pod) -> i32 {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(INDEX_FAILURE_COUNT))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Parses interval notation, keeping only indexes below `completions`; malformed parts
/// are skipped (the status is the controller's own, but may have been edited).
pub(crate) fn parse(s: &str, completions: i32) -> BTreeSet<i32> {
    let mut out = BTreeSet::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a.trim().parse::<i32>(), b.trim().parse::<i32>()),
            None => (part.parse::<i32>(), part.parse::<i32>()),
        };
        let (Ok(lo), Ok(hi)) = (lo, hi) else { continue };
        out.extend((lo.max(0)..=hi.min(completions.saturating_sub(1))).filter(|i| *i >= lo));
    }
    out
}

/// Writes a set in interval notation: runs of three or more as `a-b`, pairs as `a,b`.
pub(crate) fn format(set: &BTreeSet<i32>) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut iter = set.iter().copied().peekable();
    while let Some(start) = iter.next() {
        let mut end = start;
        while iter.peek() == Some(&(end + 1)) {
            end += 1;
            iter.next();
        }
        match end - start {
            0 => parts.push(start.to_string()),
            1 => {
                parts.push(start.to_string());
                parts.push(end.to_string());
            }
            _ => parts.push(format!("{start}-{end}")),
        }
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_notation_round_trips() {
        let s: BTreeSet<i32> = [0, 1, 2, 4, 6, 7, 9].into();
        assert_eq!(format(&s), "0-2,4,6,7,9");
        assert_eq!(parse("0-2,4,6,7,9", 10), s);
        assert_eq!(format(&BTreeSet::new()), "");
        assert!(parse("", 3).is_empty());
    }

    #[test]
    fn parsing_drops_out_of_range_and_garbage() {
        assert_eq!(parse("1-5,x,8", 4), [1, 2, 3].into());
        assert_eq!(parse("3-1", 10), BTreeSet::new());
    }

    #[test]
    fn pod_index_from_annotation_or_label() {
        let mut p = Pod::default();
        assert_eq!(index_of(&p, 3), None);
        p.metadata.labels = Some([(INDEX_KEY.to_string(), "2".to_string())].into());
        assert_eq!(index_of(&p, 3), Some(2));
        p.metadata.annotations = Some([(INDEX_KEY.to_string(), "1".to_string())].into());
        assert_eq!(index_of(&p, 3), Some(1));
        assert_eq!(index_of(&p, 1), None, "beyond completions");
        assert_eq!(failure_count(&p), 0);
    }
}
