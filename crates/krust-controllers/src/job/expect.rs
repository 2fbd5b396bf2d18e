//! What a Job's earlier syncs wrote that the pod cache has not shown yet: pods created
//! (by name), pods deleted (by uid, while still live in the cache), and tracking
//! finalizers removed (by uid, while the cache still shows the finalizer). Without this a
//! sync right after another would create pods twice or count a finished pod twice.
//!
//! Checked against the cache at each sync (level-based, no event hooks). Creates and
//! deletes expire after a minute, as upstream's expectations; a finalizer removal is
//! forgotten only once the cache shows it done or the pod gone, since forgetting it
//! early could count the pod again.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use parking_lot::Mutex;

use super::pods;

/// How long unobserved creates and deletes hold a Job back at most.
const TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Default)]
struct Pending {
    creates: HashSet<String>,
    deletes: HashSet<String>,
    since: Option<Instant>,
    removing: HashSet<String>,
}

/// The expectations of every Job, by Job uid.
#[derive(Default)]
pub(crate) struct Expectations {
    jobs: Mutex<HashMap<String, Pending>>,
}

impl Expectations {
    /// Records created pods and deleted pods of a Job.
    pub(crate) fn wrote(&self, job: &str, created: Vec<String>, deleted: Vec<String>, now: Instant) {
        if created.is_empty() && deleted.is_empty() {
            return;
        }
        let mut jobs = self.jobs.lock();
        let p = jobs.entry(job.to_string()).or_default();
        p.creates.extend(created);
        p.deletes.extend(deleted);
        p.since = Some(now);
    }

    /// Records pods whose finalizer was removed.
    pub(crate) fn released(&self, job: &str, uids: impl IntoIterator<Item = String>) {
        let mut jobs = self.jobs.lock();
        jobs.entry(job.to_string()).or_default().removing.extend(uids);
    }

    /// Compares with the cached pods of the Job: whether its creates and deletes are all
    /// observed, and the uids whose finalizer removal the cache does not show yet.
    pub(crate) fn check(&self, job: &str, cached: &[&Pod], now: Instant) -> (bool, HashSet<String>) {
        let mut jobs = self.jobs.lock();
        let Some(p) = jobs.get_mut(job) else {
            return (true, HashSet::new());
        };
        let names: HashSet<&str> = cached.iter().filter_map(|p| p.metadata.name.as_deref()).collect();
        let live: HashSet<&str> = cached
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .filter_map(|p| p.metadata.uid.as_deref())
            .collect();
        let finalized: HashSet<&str> = cached
            .iter()
            .filter(|p| pods::has_finalizer(p))
            .filter_map(|p| p.metadata.uid.as_deref())
            .collect();
        p.creates.retain(|n| !names.contains(n.as_str()));
        p.deletes.retain(|u| live.contains(u.as_str()));
        p.removing.retain(|u| finalized.contains(u.as_str()));
        let expired = p.since.is_some_and(|s| now.duration_since(s) >= TIMEOUT);
        if expired {
            p.creates.clear();
            p.deletes.clear();
        }
        let in_sync = p.creates.is_empty() && p.deletes.is_empty();
        let removing = p.removing.clone();
        if in_sync && removing.is_empty() {
            jobs.remove(job);
        }
        (in_sync, removing)
    }

    /// Forgets a deleted Job.
    pub(crate) fn forget(&self, job: &str) {
        self.jobs.lock().remove(job);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::pods::tests::pod;

    #[test]
    fn writes_wait_for_the_cache() {
        let e = Expectations::default();
        let t0 = Instant::now();
        assert!(e.check("j", &[], t0).0);
        e.wrote("j", vec!["a".into()], vec![], t0);
        assert!(!e.check("j", &[], t0).0);
        let a = pod("a", "Pending");
        assert!(e.check("j", &[&a], t0).0);
        e.wrote("j", vec!["never".into()], vec![], t0);
        assert!(e.check("j", &[], t0 + TIMEOUT).0, "expired");
    }

    #[test]
    fn finalizer_removals_last_until_seen() {
        let e = Expectations::default();
        let t0 = Instant::now();
        let a = pod("a", "Succeeded");
        e.released("j", ["uid-a".to_string()]);
        let (_, removing) = e.check("j", &[&a], t0);
        assert!(removing.contains("uid-a"));
        let mut done = a.clone();
        done.metadata.finalizers = None;
        assert!(e.check("j", &[&done], t0).1.is_empty());
    }
}
