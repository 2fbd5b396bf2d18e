//! Deletes everything in a terminating namespace, of every namespaced resource type
//! discovery lists (built-in and custom), as upstream's namespaced-resources deleter:
//!
//! - pods first, and nothing else until they are gone (upstream's ordered namespace
//!   deletion), so the objects pods depend on (service accounts, secrets, config maps,
//!   network policies) outlive them;
//! - a deletecollection per type where allowed, else list and delete one by one, always
//!   with Background propagation;
//! - then a listing to see what remains: objects still terminating within a pod's grace
//!   period, or held by finalizers, make the pass report an estimate of how long to wait.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::{
    Api,
    api::{DeleteParams, DynamicObject, ListParams},
};

use super::conditions::Report;
use crate::apierror;
use crate::discovery::{self, Served};

/// How long to wait for objects held by finalizers before looking again (upstream's guess).
pub const FINALIZER_ESTIMATE_SECONDS: i64 = 15;

/// The result of one deletion pass over a namespace.
#[derive(Debug, Default)]
pub struct Outcome {
    /// What to show in the namespace's conditions.
    pub report: Report,
    /// Seconds until remaining content should be gone (0: none expected to remain).
    pub estimate: i64,
}

/// The result for one resource type.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TypeOutcome {
    /// Seconds until remaining objects should be gone.
    pub estimate: i64,
    /// Objects left.
    pub remaining: usize,
    /// Finalizer → objects left carrying it.
    pub finalizers: BTreeMap<String, usize>,
    /// What went wrong.
    pub error: Option<String>,
}

/// Sums up what is left of one type after its deletion (`left` = the finalizers of each
/// object still listed; `estimate` = the pods' grace estimate).
pub fn summarize(served: &Served, namespace: &str, left: &[Vec<String>], estimate: i64) -> TypeOutcome {
    if left.is_empty() {
        return TypeOutcome::default();
    }
    let mut finalizers = BTreeMap::new();
    for f in left.iter().flatten() {
        *finalizers.entry(f.clone()).or_insert(0) += 1;
    }
    let mut out = TypeOutcome {
        estimate,
        remaining: left.len(),
        finalizers,
        error: None,
    };
    if estimate == 0 {
        if out.finalizers.is_empty() {
            out.error = Some(format!(
                "unexpected items still remain in namespace: {namespace} for gvr: {}/{}, Resource={}",
                served.resource.group, served.resource.version, served.resource.plural
            ));
        } else {
            out.estimate = FINALIZER_ESTIMATE_SECONDS;
        }
    }
    out
}

/// The longest grace period of the namespace's running pods, unless it has already passed
/// since the namespace's deletion began.
pub fn pods_estimate(pods: &[Pod], deleted_at: Timestamp, now: Timestamp) -> i64 {
    let longest = pods
        .iter()
        .filter(|p| {
            !matches!(
                p.status.as_ref().and_then(|s| s.phase.as_deref()),
                Some("Succeeded" | "Failed")
            )
        })
        .filter_map(|p| p.spec.as_ref().and_then(|s| s.termination_grace_period_seconds))
        .max()
        .unwrap_or(0);
    let elapsed = now.duration_since(deleted_at).as_secs();
    if elapsed >= longest { 0 } else { longest }
}

fn is_pods(s: &Served) -> bool {
    s.resource.group.is_empty() && s.resource.plural == "pods"
}

/// Runs one deletion pass over `ns` (which must be terminating).
pub async fn delete_all_content(client: &kube::Client, ns: &Namespace) -> Outcome {
    let name = ns.metadata.name.clone().unwrap_or_default();
    let now = Timestamp::now();
    let deleted_at = ns.metadata.deletion_timestamp.as_ref().map_or(now, |t| t.0);
    let mut out = Outcome::default();
    let types: Vec<Served> = match discovery::discover(client).await {
        Ok(found) => {
            if !found.failed.is_empty() {
                let detail: Vec<String> = found.failed.iter().map(|(gv, e)| format!("{gv}: {e}")).collect();
                out.report.discovery_failure = Some(format!(
                    "Discovery failed for some groups, {} failing: unable to retrieve the complete list of server APIs: {}",
                    found.failed.len(),
                    detail.join(", ")
                ));
            }
            if !found.unparsable.is_empty() {
                out.report.gv_parsing_failure = Some(format!(
                    "unable to parse group versions: {}",
                    found.unparsable.join(", ")
                ));
            }
            found
                .preferred
                .into_iter()
                .filter(|s| s.namespaced && s.supports("delete"))
                .collect()
        }
        Err(e) => {
            out.report.discovery_failure = Some(e.to_string());
            Vec::new()
        }
    };
    let (pods, rest): (Vec<Served>, Vec<Served>) = types.into_iter().partition(is_pods);
    for p in &pods {
        let r = delete_type(client, p, &name, deleted_at, now).await;
        record(&mut out, p, r);
    }
    if out.report.content_remains() {
        // Everything else waits for the pods.
        return out;
    }
    for s in &rest {
        let r = delete_type(client, s, &name, deleted_at, now).await;
        record(&mut out, s, r);
    }
    out
}

fn record(out: &mut Outcome, served: &Served, r: TypeOutcome) {
    out.estimate = out.estimate.max(r.estimate);
    if let Some(e) = r.error {
        out.report.content_errors.push(e);
    }
    if r.remaining > 0 {
        *out.report.remaining.entry(served.group_resource()).or_insert(0) += r.remaining;
        for (f, n) in r.finalizers {
            *out.report.finalizers.entry(f).or_insert(0) += n;
        }
    }
}

/// Deletes every object of one type in the namespace and reports what is left.
async fn delete_type(
    client: &kube::Client,
    served: &Served,
    ns: &str,
    deleted_at: Timestamp,
    now: Timestamp,
) -> TypeOutcome {
    let failed = |what: &str, e: kube::Error| TypeOutcome {
        error: Some(format!("{what} {}: {e}", served.group_resource())),
        ..Default::default()
    };
    let estimate = if is_pods(served) {
        match Api::<Pod>::namespaced(client.clone(), ns)
            .list(&ListParams::default())
            .await
        {
            Ok(pods) => pods_estimate(&pods.items, deleted_at, now),
            Err(e) => return failed("estimating grace of", e),
        }
    } else {
        0
    };
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &served.resource);
    let background = DeleteParams::background();
    let mut collection_done = false;
    if served.supports("deletecollection") {
        match api.delete_collection(&background, &ListParams::default()).await {
            Ok(_) => collection_done = true,
            Err(e) if apierror::is_not_found(&e) || apierror::is_method_not_supported(&e) => {}
            Err(e) => {
                return TypeOutcome {
                    estimate,
                    ..failed("deleting", e)
                };
            }
        }
    }
    if !served.supports("list") {
        return TypeOutcome {
            estimate,
            ..Default::default()
        };
    }
    if !collection_done {
        let items = match api.list_metadata(&ListParams::default()).await {
            Ok(l) => l.items,
            Err(e) => {
                return TypeOutcome {
                    estimate,
                    ..failed("listing", e)
                };
            }
        };
        for item in items {
            let Some(name) = item.metadata.name.as_deref() else {
                continue;
            };
            match api.delete(name, &background).await {
                Ok(_) => {}
                Err(e) if apierror::is_not_found(&e) || apierror::is_method_not_supported(&e) => {}
                Err(e) => {
                    return TypeOutcome {
                        estimate,
                        ..failed("deleting", e)
                    };
                }
            }
        }
    }
    match api.list_metadata(&ListParams::default()).await {
        Ok(l) => {
            let left: Vec<Vec<String>> = l
                .items
                .into_iter()
                .map(|i| i.metadata.finalizers.unwrap_or_default())
                .collect();
            summarize(served, ns, &left, estimate)
        }
        Err(e) => TypeOutcome {
            estimate,
            ..failed("listing", e)
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodSpec, PodStatus};
    use kube::discovery::ApiResource;

    fn served(plural: &str) -> Served {
        Served {
            resource: ApiResource {
                group: String::new(),
                version: "v1".into(),
                api_version: "v1".into(),
                kind: "X".into(),
                plural: plural.into(),
            },
            namespaced: true,
            verbs: vec![],
        }
    }

    fn pod(grace: Option<i64>, phase: Option<&str>) -> Pod {
        Pod {
            spec: Some(PodSpec {
                termination_grace_period_seconds: grace,
                ..Default::default()
            }),
            status: Some(PodStatus {
                phase: phase.map(str::to_string),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn nothing_left_is_done() {
        assert_eq!(
            summarize(&served("configmaps"), "ns", &[], 0),
            TypeOutcome::default()
        );
    }

    #[test]
    fn finalizers_get_the_default_estimate() {
        let left = vec![vec!["a".to_string()], vec!["a".to_string(), "b".to_string()]];
        let o = summarize(&served("configmaps"), "ns", &left, 0);
        assert_eq!(o.estimate, FINALIZER_ESTIMATE_SECONDS);
        assert_eq!(o.remaining, 2);
        assert_eq!(o.finalizers.get("a"), Some(&2));
        assert!(o.error.is_none());
    }

    #[test]
    fn pods_in_their_grace_period_keep_the_pod_estimate() {
        let o = summarize(&served("pods"), "ns", &[vec![]], 30);
        assert_eq!((o.estimate, o.remaining, o.error.is_none()), (30, 1, true));
    }

    #[test]
    fn leftovers_without_reason_are_an_error() {
        let o = summarize(&served("configmaps"), "ns", &[vec![]], 0);
        assert!(
            o.error
                .is_some_and(|e| e.contains("unexpected items still remain"))
        );
    }

    #[test]
    fn pod_estimate_is_the_longest_running_grace_until_it_passes() {
        let t0 = Timestamp::UNIX_EPOCH;
        let pods = [
            pod(Some(10), Some("Running")),
            pod(Some(60), Some("Succeeded")),
            pod(Some(30), None),
        ];
        let at = |s: i64| Timestamp::from_second(s).unwrap_or(t0);
        assert_eq!(pods_estimate(&pods, t0, at(5)), 30);
        assert_eq!(pods_estimate(&pods, t0, at(31)), 0);
        assert_eq!(pods_estimate(&[], t0, at(0)), 0);
    }
}
