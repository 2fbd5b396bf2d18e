//! Static pods: Pod manifests in `<data-dir>/agent/pod-manifests/` (YAML or JSON files)
//! that this node runs without anyone creating them through the API, as the kubelet's
//! `--pod-manifest-path`. Each becomes a mirror pod `<name>-<node>` bound to this node,
//! owned by the Node and annotated as upstream marks mirror pods
//! (`kubernetes.io/config.source: file`, `kubernetes.io/config.hash`,
//! `kubernetes.io/config.mirror`); a changed manifest replaces it, a removed one deletes
//! it, a deleted mirror pod comes back.
//!
//! Unlike upstream, the pod runs from its mirror in the API: the agent's pod workers only
//! run what the API shows, so a static pod does not start while the API server is down.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use tokio_util::sync::CancellationToken;

/// Annotations of mirror pods (upstream's names).
pub(crate) const SOURCE: &str = "kubernetes.io/config.source";
pub(crate) const HASH: &str = "kubernetes.io/config.hash";
pub(crate) const MIRROR: &str = "kubernetes.io/config.mirror";

/// How often the directory is read (upstream's file check frequency is 20 s).
const CHECK_EVERY: Duration = Duration::from_secs(5);

/// The manifests of `dir`: file, and the pod or why it could not be read.
pub(crate) fn read_manifests(dir: &Path) -> Vec<(PathBuf, Result<Pod, String>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .is_some_and(|x| x == "yaml" || x == "yml" || x == "json")
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|f| {
            let parsed = std::fs::read_to_string(&f)
                .map_err(|e| e.to_string())
                .and_then(|text| parse(&text));
            (f, parsed)
        })
        .collect()
}

/// One Pod manifest (YAML or JSON).
pub(crate) fn parse(text: &str) -> Result<Pod, String> {
    let value: serde_json::Value =
        serde_saphyr::from_str(text).map_err(|e| format!("not YAML or JSON: {e}"))?;
    if value.get("kind").and_then(|k| k.as_str()) != Some("Pod") {
        return Err("a static pod manifest must be one object of kind Pod".into());
    }
    let pod: Pod = serde_json::from_value(value).map_err(|e| format!("not a valid Pod: {e}"))?;
    if pod.metadata.name.as_deref().is_none_or(str::is_empty) {
        return Err("the Pod has no metadata.name".into());
    }
    Ok(pod)
}

/// A stable digest of `manifest` (hex).
fn digest(manifest: &Pod) -> String {
    let bytes = serde_json::to_vec(manifest).unwrap_or_default();
    let d = ring::digest::digest(&ring::digest::SHA256, &bytes);
    d.as_ref()[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// The mirror pod of `manifest` on node `node` (uid `node_uid`).
pub(crate) fn mirror_pod(manifest: &Pod, node: &str, node_uid: &str) -> Pod {
    let hash = digest(manifest);
    let mut pod = manifest.clone();
    let m = &mut pod.metadata;
    m.name = Some(format!("{}-{node}", m.name.clone().unwrap_or_default()));
    if m.namespace.as_deref().is_none_or(str::is_empty) {
        m.namespace = Some("default".into());
    }
    m.uid = None;
    m.resource_version = None;
    let annotations = m.annotations.get_or_insert_with(BTreeMap::new);
    annotations.insert(SOURCE.into(), "file".into());
    annotations.insert(HASH.into(), hash.clone());
    annotations.insert(MIRROR.into(), hash);
    m.owner_references = Some(vec![OwnerReference {
        api_version: "v1".into(),
        kind: "Node".into(),
        name: node.into(),
        uid: node_uid.into(),
        controller: Some(true),
        ..Default::default()
    }]);
    let spec = pod.spec.get_or_insert_with(Default::default);
    spec.node_name = Some(node.into());
    pod.status = None;
    pod
}

/// What to do with the mirror pods: create these, delete those (namespace, name).
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Changes {
    pub create: Vec<Pod>,
    pub delete: Vec<(String, String)>,
}

fn key(p: &Pod) -> (String, String) {
    (
        p.metadata.namespace.clone().unwrap_or_default(),
        p.metadata.name.clone().unwrap_or_default(),
    )
}

fn hash_of(p: &Pod) -> Option<&str> {
    p.metadata.annotations.as_ref()?.get(MIRROR).map(String::as_str)
}

/// Compares the wanted mirror pods with the existing ones (mirror pods of this node):
/// missing ones are created, changed ones replaced, ones without a manifest deleted.
pub(crate) fn reconcile(wanted: &[Pod], existing: &[Pod]) -> Changes {
    let mut c = Changes::default();
    for w in wanted {
        match existing.iter().find(|e| key(e) == key(w)) {
            None => c.create.push(w.clone()),
            Some(e) if hash_of(e) != hash_of(w) => {
                c.delete.push(key(e));
                c.create.push(w.clone());
            }
            Some(_) => {}
        }
    }
    for e in existing {
        if !wanted.iter().any(|w| key(w) == key(e)) {
            c.delete.push(key(e));
        }
    }
    c
}

/// Keeps the mirror pods of `dir` in line until `shutdown`.
pub(crate) async fn run(client: kube::Client, node: String, dir: PathBuf, shutdown: CancellationToken) {
    let nodes: Api<Node> = Api::all(client.clone());
    let all: Api<Pod> = Api::all(client.clone());
    loop {
        if let Err(e) = pass(&client, &nodes, &all, &node, &dir).await {
            tracing::debug!(error = %e, "static pods pass failed");
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(CHECK_EVERY) => {}
        }
    }
}

async fn pass(
    client: &kube::Client,
    nodes: &Api<Node>,
    all: &Api<Pod>,
    node: &str,
    dir: &Path,
) -> Result<(), kube::Error> {
    let manifests = read_manifests(dir);
    let node_uid = match nodes.get_opt(node).await? {
        Some(n) => n.metadata.uid.unwrap_or_default(),
        None => return Ok(()),
    };
    let mut wanted = Vec::new();
    for (file, parsed) in manifests {
        match parsed {
            Ok(p) => wanted.push(mirror_pod(&p, node, &node_uid)),
            Err(e) => tracing::warn!(file = %file.display(), error = %e, "static pod manifest ignored"),
        }
    }
    let existing: Vec<Pod> = all
        .list(&ListParams::default().fields(&format!("spec.nodeName={node}")))
        .await?
        .items
        .into_iter()
        .filter(|p| {
            p.metadata
                .annotations
                .as_ref()
                .is_some_and(|a| a.get(SOURCE).map(String::as_str) == Some("file"))
                && p.metadata.deletion_timestamp.is_none()
        })
        .collect();
    let changes = reconcile(&wanted, &existing);
    for (ns, name) in changes.delete {
        let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
        match api.delete(&name, &DeleteParams::default()).await {
            Ok(_) => tracing::info!(pod = %format!("{ns}/{name}"), "static pod removed"),
            Err(e) => {
                tracing::warn!(pod = %format!("{ns}/{name}"), error = %e, "removing a static pod failed")
            }
        }
    }
    for pod in changes.create {
        let (ns, name) = key(&pod);
        let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
        match api.create(&PostParams::default(), &pod).await {
            Ok(_) => tracing::info!(pod = %format!("{ns}/{name}"), "static pod mirrored"),
            // Still terminating after a replace: the next pass creates it.
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) => {
                tracing::warn!(pod = %format!("{ns}/{name}"), error = %e, "creating a mirror pod failed")
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  - name: c\n    image: krust.io/busybox:1.35\n";

    #[test]
    fn manifests_parse_and_become_mirror_pods() {
        let p = parse(MANIFEST).unwrap();
        let m = mirror_pod(&p, "n1", "node-uid");
        assert_eq!(m.metadata.name.as_deref(), Some("web-n1"));
        assert_eq!(m.metadata.namespace.as_deref(), Some("default"));
        assert_eq!(m.spec.as_ref().unwrap().node_name.as_deref(), Some("n1"));
        let a = m.metadata.annotations.as_ref().unwrap();
        assert_eq!(a[SOURCE], "file");
        assert_eq!(a[HASH], a[MIRROR]);
        assert_eq!(m.metadata.owner_references.as_ref().unwrap()[0].uid, "node-uid");
        assert_eq!(mirror_pod(&p, "n1", "node-uid"), m, "stable");
        assert!(parse("kind: Service\nmetadata: {name: x}").is_err());
        assert!(parse("kind: Pod\nmetadata: {}").is_err());
        assert!(parse(": not yaml [").is_err());
    }

    #[test]
    fn reconcile_creates_replaces_and_deletes() {
        let a = mirror_pod(&parse(MANIFEST).unwrap(), "n1", "u");
        let changed = mirror_pod(&parse(&MANIFEST.replace("1.35", "1.36")).unwrap(), "n1", "u");
        let mut orphan = a.clone();
        orphan.metadata.name = Some("gone-n1".into());
        assert_eq!(reconcile(std::slice::from_ref(&a), &[]).create.len(), 1);
        assert_eq!(
            reconcile(std::slice::from_ref(&a), std::slice::from_ref(&a)),
            Changes::default()
        );
        let c = reconcile(std::slice::from_ref(&changed), std::slice::from_ref(&a));
        assert_eq!(c.delete, vec![("default".to_string(), "web-n1".to_string())]);
        assert_eq!(c.create.len(), 1);
        let c = reconcile(&[], &[orphan]);
        assert_eq!(c.delete, vec![("default".to_string(), "gone-n1".to_string())]);
    }
}
