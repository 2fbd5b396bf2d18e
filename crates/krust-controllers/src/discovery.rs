//! API discovery for the controllers that act on every resource type the server serves
//! (the garbage collector and namespace deletion), custom resources included.
//!
//! It reads the legacy discovery documents one group version at a time, as upstream's
//! discovery client does, so that one broken group (an aggregated API that is down) costs
//! only that group: what failed is reported beside what was found instead of failing all.

use futures_util::future::join_all;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::APIResourceList;
use kube::discovery::ApiResource;

/// One resource type served at one version.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Served {
    /// Group, version, kind and plural, for dynamic `Api`s.
    pub resource: ApiResource,
    /// Whether objects live in namespaces.
    pub namespaced: bool,
    /// Verbs the server allows on it (`list`, `watch`, `delete`, ...).
    pub verbs: Vec<String>,
}

impl Served {
    /// Whether the server allows `verb`.
    pub fn supports(&self, verb: &str) -> bool {
        self.verbs.iter().any(|v| v == verb)
    }

    /// `plural.group`, the name upstream uses in messages (`pods.` for the core group).
    pub fn group_resource(&self) -> String {
        format!("{}.{}", self.resource.plural, self.resource.group)
    }
}

/// What discovery found.
#[derive(Debug, Default, Clone)]
pub struct Discovered {
    /// Every resource of every served version (subresources left out).
    pub all: Vec<Served>,
    /// The resources of each group's preferred version.
    pub preferred: Vec<Served>,
    /// Group versions whose resources could not be read, with the error.
    pub failed: Vec<(String, String)>,
    /// Group version strings that do not parse.
    pub unparsable: Vec<String>,
}

/// Failures of discovery as a whole (the group lists themselves).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `/api` or `/apis` could not be read.
    #[error("listing api groups: {0}")]
    Groups(#[source] kube::Error),
}

/// Splits `group/version` (or `version` for the core group).
pub fn parse_group_version(gv: &str) -> Option<(&str, &str)> {
    let (group, version) = match gv.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", gv),
    };
    if version.is_empty() || version.contains('/') || (gv.contains('/') && group.is_empty()) {
        return None;
    }
    Some((group, version))
}

/// Turns one discovery document into resources (subresources dropped).
fn resources_of(group: &str, version: &str, list: &APIResourceList) -> Vec<Served> {
    let api_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    list.resources
        .iter()
        .filter(|r| !r.name.contains('/'))
        .map(|r| Served {
            resource: ApiResource {
                group: group.to_string(),
                version: version.to_string(),
                api_version: api_version.clone(),
                kind: r.kind.clone(),
                plural: r.name.clone(),
            },
            namespaced: r.namespaced,
            verbs: r.verbs.clone(),
        })
        .collect()
}

/// Reads every group version the server serves.
pub async fn discover(client: &kube::Client) -> Result<Discovered, Error> {
    let core = client.list_core_api_versions().await.map_err(Error::Groups)?;
    let groups = client.list_api_groups().await.map_err(Error::Groups)?;
    // (group version string, preferred?)
    let mut wanted: Vec<(String, bool)> = core
        .versions
        .iter()
        .enumerate()
        .map(|(i, v)| (v.clone(), i == 0))
        .collect();
    for g in &groups.groups {
        let preferred = g
            .preferred_version
            .as_ref()
            .map(|p| p.group_version.clone())
            .or_else(|| g.versions.first().map(|v| v.group_version.clone()));
        for v in &g.versions {
            wanted.push((
                v.group_version.clone(),
                Some(&v.group_version) == preferred.as_ref(),
            ));
        }
    }
    let mut out = Discovered::default();
    let mut fetches = Vec::new();
    for (gv, preferred) in wanted {
        let Some((group, version)) = parse_group_version(&gv) else {
            out.unparsable.push(gv);
            continue;
        };
        let (group, version) = (group.to_string(), version.to_string());
        fetches.push(async move {
            let list = if group.is_empty() {
                client.list_core_api_resources(&version).await
            } else {
                client.list_api_group_resources(&gv).await
            };
            (gv, group, version, preferred, list)
        });
    }
    for (gv, group, version, preferred, list) in join_all(fetches).await {
        match list {
            Ok(list) => {
                let found = resources_of(&group, &version, &list);
                if preferred {
                    out.preferred.extend(found.iter().cloned());
                }
                out.all.extend(found);
            }
            Err(e) => out.failed.push((gv, e.to_string())),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::APIResource;

    #[test]
    fn group_versions() {
        assert_eq!(parse_group_version("v1"), Some(("", "v1")));
        assert_eq!(parse_group_version("apps/v1"), Some(("apps", "v1")));
        assert_eq!(parse_group_version("a/b/c"), None);
        assert_eq!(parse_group_version("/v1"), None);
        assert_eq!(parse_group_version("apps/"), None);
        assert_eq!(parse_group_version(""), None);
    }

    #[test]
    fn subresources_are_dropped() {
        let r = |name: &str| APIResource {
            name: name.into(),
            kind: "Pod".into(),
            namespaced: true,
            verbs: vec!["list".into()],
            ..Default::default()
        };
        let list = APIResourceList {
            group_version: "v1".into(),
            resources: vec![r("pods"), r("pods/status")],
        };
        let found = resources_of("", "v1", &list);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].resource.api_version, "v1");
        assert_eq!(found[0].group_resource(), "pods.");
        assert!(found[0].supports("list") && !found[0].supports("delete"));
    }
}
