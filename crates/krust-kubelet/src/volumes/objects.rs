//! The ConfigMaps and Secrets a pod refers to (env, envFrom, volumes), fetched once per
//! container start or volume refresh. Reading them is a side effect behind
//! [`ObjectSource`]; what was fetched is plain data the pure parts work from.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use k8s_openapi::api::core::v1::{
    ConfigMap, Container, PersistentVolume, PersistentVolumeClaim, Pod, Secret,
};

/// Reads ConfigMaps and Secrets.
pub trait ObjectSource: Send + Sync + 'static {
    /// ConfigMap `namespace/name`, or `None` when it does not exist.
    fn config_map(
        &self,
        namespace: &str,
        name: &str,
    ) -> impl Future<Output = Result<Option<ConfigMap>, String>> + Send;
    /// Secret `namespace/name`, or `None` when it does not exist.
    fn secret(
        &self,
        namespace: &str,
        name: &str,
    ) -> impl Future<Output = Result<Option<Secret>, String>> + Send;
    /// PersistentVolumeClaim `namespace/name`, or `None` when it does not exist.
    fn claim(
        &self,
        namespace: &str,
        name: &str,
    ) -> impl Future<Output = Result<Option<PersistentVolumeClaim>, String>> + Send;
    /// PersistentVolume `name`, or `None` when it does not exist.
    fn volume(&self, name: &str) -> impl Future<Output = Result<Option<PersistentVolume>, String>> + Send;
}

/// The API server as an [`ObjectSource`].
#[derive(Clone)]
pub struct KubeObjects {
    client: kube::Client,
}

impl KubeObjects {
    /// Objects read through `client`.
    pub fn new(client: kube::Client) -> Self {
        Self { client }
    }
}

fn not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

/// GET of `name` through `api`; `None` when it does not exist.
async fn get_opt<K>(api: kube::Api<K>, kind: &str, name: &str) -> Result<Option<K>, String>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match api.get(name).await {
        Ok(o) => Ok(Some(o)),
        Err(e) if not_found(&e) => Ok(None),
        Err(e) => Err(format!("reading {kind} {name:?}: {e}")),
    }
}

impl ObjectSource for KubeObjects {
    async fn config_map(&self, namespace: &str, name: &str) -> Result<Option<ConfigMap>, String> {
        get_opt(
            kube::Api::namespaced(self.client.clone(), namespace),
            "configmap",
            name,
        )
        .await
    }

    async fn secret(&self, namespace: &str, name: &str) -> Result<Option<Secret>, String> {
        get_opt(
            kube::Api::namespaced(self.client.clone(), namespace),
            "secret",
            name,
        )
        .await
    }

    async fn claim(&self, namespace: &str, name: &str) -> Result<Option<PersistentVolumeClaim>, String> {
        get_opt(
            kube::Api::namespaced(self.client.clone(), namespace),
            "persistentvolumeclaim",
            name,
        )
        .await
    }

    async fn volume(&self, name: &str) -> Result<Option<PersistentVolume>, String> {
        get_opt(kube::Api::all(self.client.clone()), "persistentvolume", name).await
    }
}

/// The host directory behind claim `claim` of `pod`'s namespace: the bound
/// PersistentVolume's hostPath or local path (local-path volumes are either). Errors say
/// what is missing, as upstream's mount errors do.
pub(crate) async fn claim_path<S: ObjectSource>(src: &S, pod: &Pod, claim: &str) -> Result<String, String> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let pvc = src
        .claim(ns, claim)
        .await?
        .ok_or_else(|| format!("persistentvolumeclaim {claim:?} not found"))?;
    let bound = pvc.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound");
    let pv_name = pvc
        .spec
        .as_ref()
        .and_then(|s| s.volume_name.clone())
        .filter(|_| bound)
        .ok_or_else(|| format!("persistentvolumeclaim {claim:?} is not bound yet"))?;
    let pv = src
        .volume(&pv_name)
        .await?
        .ok_or_else(|| format!("persistentvolume {pv_name:?} not found"))?;
    let spec = pv.spec.unwrap_or_default();
    spec.host_path
        .map(|h| h.path)
        .or(spec.local.map(|l| l.path))
        .ok_or_else(|| {
            format!("persistentvolume {pv_name:?} is neither hostPath nor local: this node agent mounts only those")
        })
}

/// The referred objects, by name (`None`: it does not exist).
#[derive(Debug, Clone, Default)]
pub(crate) struct Fetched {
    pub config_maps: BTreeMap<String, Option<ConfigMap>>,
    pub secrets: BTreeMap<String, Option<Secret>>,
    /// Host directories of the pod's persistentVolumeClaim volumes, by claim name.
    pub claims: BTreeMap<String, String>,
}

impl Fetched {
    /// The text values of ConfigMap `name` (data, then binaryData as lossy text).
    pub fn config_map_data(&self, name: &str) -> Option<BTreeMap<String, Vec<u8>>> {
        let cm = self.config_maps.get(name)?.as_ref()?;
        let mut out: BTreeMap<String, Vec<u8>> = cm
            .data
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone().into_bytes()))
            .collect();
        for (k, v) in cm.binary_data.iter().flatten() {
            out.insert(k.clone(), v.0.clone());
        }
        Some(out)
    }

    /// The (decoded) values of Secret `name`.
    pub fn secret_data(&self, name: &str) -> Option<BTreeMap<String, Vec<u8>>> {
        let s = self.secrets.get(name)?.as_ref()?;
        let mut out: BTreeMap<String, Vec<u8>> = s
            .data
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.0.clone()))
            .collect();
        for (k, v) in s.string_data.iter().flatten() {
            out.insert(k.clone(), v.clone().into_bytes());
        }
        Some(out)
    }
}

/// The names a container's env refers to: (config maps, secrets).
fn container_refs(c: &Container, cms: &mut BTreeSet<String>, secrets: &mut BTreeSet<String>) {
    for e in c.env.iter().flatten() {
        let Some(from) = &e.value_from else { continue };
        if let Some(r) = &from.config_map_key_ref {
            cms.insert(r.name.clone());
        }
        if let Some(r) = &from.secret_key_ref {
            secrets.insert(r.name.clone());
        }
    }
    for f in c.env_from.iter().flatten() {
        if let Some(r) = &f.config_map_ref {
            cms.insert(r.name.clone());
        }
        if let Some(r) = &f.secret_ref {
            secrets.insert(r.name.clone());
        }
    }
}

/// The names `pod`'s volumes refer to (and, with `container`, that container's env).
pub(crate) fn references(pod: &Pod, container: Option<&Container>) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut cms = BTreeSet::new();
    let mut secrets = BTreeSet::new();
    if let Some(c) = container {
        container_refs(c, &mut cms, &mut secrets);
        // Credentials for pulling its image.
        for r in pod
            .spec
            .iter()
            .flat_map(|s| s.image_pull_secrets.iter().flatten())
        {
            secrets.insert(r.name.clone());
        }
    }
    for v in pod.spec.iter().flat_map(|s| s.volumes.iter().flatten()) {
        if let Some(cm) = &v.config_map {
            cms.insert(cm.name.clone());
        }
        if let Some(s) = &v.secret
            && let Some(name) = &s.secret_name
        {
            secrets.insert(name.clone());
        }
        for src in v.projected.iter().flat_map(|p| p.sources.iter().flatten()) {
            if let Some(cm) = &src.config_map {
                cms.insert(cm.name.clone());
            }
            if let Some(s) = &src.secret {
                secrets.insert(s.name.clone());
            }
        }
    }
    (cms, secrets)
}

/// Fetches what `pod` (and `container`) refer to.
pub(crate) async fn fetch<S: ObjectSource>(
    src: &S,
    pod: &Pod,
    container: Option<&Container>,
) -> Result<Fetched, String> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let (cms, secrets) = references(pod, container);
    let mut out = Fetched::default();
    for name in cms {
        let o = src.config_map(ns, &name).await?;
        out.config_maps.insert(name, o);
    }
    for name in secrets {
        let o = src.secret(ns, &name).await?;
        out.secrets.insert(name, o);
    }
    for v in pod.spec.iter().flat_map(|s| s.volumes.iter().flatten()) {
        if let Some(c) = &v.persistent_volume_claim {
            let path = claim_path(src, pod, &c.claim_name)
                .await
                .map_err(|e| format!("MountVolume.SetUp failed for volume {:?} : {e}", v.name))?;
            out.claims.insert(c.claim_name.clone(), path);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// Objects held in memory.
    #[derive(Default)]
    struct Fake {
        claims: BTreeMap<String, PersistentVolumeClaim>,
        volumes: BTreeMap<String, PersistentVolume>,
    }

    impl ObjectSource for Fake {
        async fn config_map(&self, _: &str, _: &str) -> Result<Option<ConfigMap>, String> {
            Ok(None)
        }
        async fn secret(&self, _: &str, _: &str) -> Result<Option<Secret>, String> {
            Ok(None)
        }
        async fn claim(&self, _: &str, name: &str) -> Result<Option<PersistentVolumeClaim>, String> {
            Ok(self.claims.get(name).cloned())
        }
        async fn volume(&self, name: &str) -> Result<Option<PersistentVolume>, String> {
            Ok(self.volumes.get(name).cloned())
        }
    }

    #[tokio::test]
    async fn claims_resolve_to_their_bound_volume_path() {
        let mut fake = Fake::default();
        let claim = |volume: Option<&str>, phase: &str| -> PersistentVolumeClaim {
            serde_json::from_value(json!({"spec": {"volumeName": volume}, "status": {"phase": phase}}))
                .unwrap()
        };
        fake.claims.insert("data".into(), claim(Some("pv-1"), "Bound"));
        fake.claims.insert("waiting".into(), claim(None, "Pending"));
        fake.claims
            .insert("orphan".into(), claim(Some("pv-gone"), "Bound"));
        fake.volumes.insert(
            "pv-1".into(),
            serde_json::from_value(json!({"spec": {"hostPath": {"path": "/var/lib/krust/storage/pv-1"}}}))
                .unwrap(),
        );
        let pod: Pod = serde_json::from_value(json!({"metadata": {"namespace": "ns"}})).unwrap();
        assert_eq!(
            claim_path(&fake, &pod, "data").await.unwrap(),
            "/var/lib/krust/storage/pv-1"
        );
        assert!(
            claim_path(&fake, &pod, "waiting")
                .await
                .unwrap_err()
                .contains("not bound yet")
        );
        assert!(
            claim_path(&fake, &pod, "orphan")
                .await
                .unwrap_err()
                .contains("pv-gone")
        );
        assert!(
            claim_path(&fake, &pod, "nope")
                .await
                .unwrap_err()
                .contains("not found")
        );
    }
}
