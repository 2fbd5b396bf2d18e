//! One sync of a claim or a volume: read the caches, decide ([`super::decide`]), write
//! through the API in upstream's order — the volume's claimRef, its phase, the claim's
//! volumeName and annotations, then the claim's status — so that a sync interrupted
//! anywhere is finished by the next one.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{ObjectReference, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::jiff::Timestamp;
use kube::{
    Api, ResourceExt,
    api::{DeleteParams, Patch, PatchParams, PostParams, Preconditions},
    runtime::reflector::{ObjectRef, Store},
};
use serde_json::{Value, json};

use super::decide::{self, ClaimStep, ClaimView, Reclaim, VolumeStep};
use super::provision::{self, VolumeDirs};
use super::{
    ANN_BIND_COMPLETED, ANN_BOUND_BY_CONTROLLER, ANN_SELECTED_NODE, ANN_STORAGE_PROVISIONER,
    ANN_STORAGE_PROVISIONER_BETA, CLAIM_PREFIX, VOLUME_PREFIX,
};
use crate::apierror;
use crate::keyed::{self, Next};
use crate::replicaset::Events;

/// How often an unbound claim is looked at again without any change (upstream's
/// `--pvclaimbinder-sync-period`).
pub(super) const RESYNC: Duration = Duration::from_secs(15);

/// Failures of a sync (the key is retried with back-off).
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// An API call failed.
    #[error("{what}: {source}")]
    Api {
        /// What was being done.
        what: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// A volume directory could not be made or removed.
    #[error("{what} {path}: {source}")]
    Dir {
        /// Creating or removing.
        what: &'static str,
        /// The directory.
        path: String,
        /// The filesystem error.
        #[source]
        source: std::io::Error,
    },
}

fn api(what: impl Into<String>) -> impl FnOnce(kube::Error) -> Error {
    let what = what.into();
    move |source| Error::Api { what, source }
}

/// The controller's shared state.
pub(crate) struct State {
    pub client: kube::Client,
    pub claims: Store<PersistentVolumeClaim>,
    pub volumes: Store<PersistentVolume>,
    pub classes: Store<StorageClass>,
    pub pods: Store<Pod>,
    pub events: Events,
    pub dirs: Arc<dyn VolumeDirs>,
    /// Where local-path volumes live.
    pub root: PathBuf,
}

/// The claims a pod uses (its `persistentVolumeClaim` volumes and the claims of its
/// generic ephemeral volumes, named `<pod>-<volume>`).
pub(crate) fn claims_of(pod: &Pod) -> Vec<String> {
    let name = pod.metadata.name.as_deref().unwrap_or("");
    pod.spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten())
        .filter_map(|v| {
            if let Some(c) = &v.persistent_volume_claim {
                Some(c.claim_name.clone())
            } else {
                v.ephemeral.as_ref().map(|_| format!("{name}-{}", v.name))
            }
        })
        .collect()
}

fn reference(claim: &PersistentVolumeClaim) -> ObjectReference {
    ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("PersistentVolumeClaim".into()),
        name: claim.metadata.name.clone(),
        namespace: claim.metadata.namespace.clone(),
        uid: claim.metadata.uid.clone(),
        resource_version: claim.metadata.resource_version.clone(),
        ..Default::default()
    }
}

fn volume_reference(pv: &PersistentVolume) -> ObjectReference {
    ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("PersistentVolume".into()),
        name: pv.metadata.name.clone(),
        uid: pv.metadata.uid.clone(),
        resource_version: pv.metadata.resource_version.clone(),
        ..Default::default()
    }
}

fn phase_of(pv: &PersistentVolume) -> &str {
    pv.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("")
}

impl State {
    /// Syncs the object a queue key names.
    pub(crate) async fn sync(&self, key: &str) -> Result<Next, Error> {
        if let Some(k) = key.strip_prefix(CLAIM_PREFIX) {
            return self.sync_claim(k).await;
        }
        if let Some(k) = key.strip_prefix(VOLUME_PREFIX) {
            return self.sync_volume(k).await;
        }
        Ok(Next::Done)
    }

    fn claim_api(&self, claim: &PersistentVolumeClaim) -> Api<PersistentVolumeClaim> {
        Api::namespaced(
            self.client.clone(),
            claim.metadata.namespace.as_deref().unwrap_or(""),
        )
    }

    fn volume_api(&self) -> Api<PersistentVolume> {
        Api::all(self.client.clone())
    }

    /// Pods of the claim's namespace that use it and are not finished: the node of a
    /// scheduled one, and the names of the unscheduled ones.
    fn consumers(&self, claim: &PersistentVolumeClaim) -> (Option<String>, Vec<String>) {
        let ns = claim.metadata.namespace.as_deref();
        let name = claim.metadata.name.clone().unwrap_or_default();
        let mut node = None;
        let mut waiting = Vec::new();
        for pod in self.pods.state() {
            let finished = matches!(
                pod.status.as_ref().and_then(|s| s.phase.as_deref()),
                Some("Succeeded" | "Failed")
            );
            if pod.metadata.namespace.as_deref() != ns || finished || !claims_of(&pod).contains(&name) {
                continue;
            }
            match pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) {
                Some(n) if !n.is_empty() => {
                    node.get_or_insert_with(|| n.to_string());
                }
                _ => waiting.push(pod.name_any()),
            }
        }
        waiting.sort();
        (node, waiting)
    }

    async fn sync_claim(&self, key: &str) -> Result<Next, Error> {
        let Some(claim) = keyed::cached(&self.claims, key) else {
            return Ok(Next::Done);
        };
        let volumes = self.volumes.state();
        let class_name = super::matching::claim_class(&claim);
        let class = (!class_name.is_empty())
            .then(|| self.classes.get(&ObjectRef::new(class_name)))
            .flatten();
        let (consumer_node, unscheduled) = self.consumers(&claim);
        let step = decide::claim_step(&ClaimView {
            claim: &claim,
            volumes: &volumes,
            class: class.as_deref(),
            consumer_node,
            unscheduled,
        });
        let r = reference(&claim);
        match step {
            ClaimStep::Bind(name) => {
                let Some(pv) = volumes
                    .iter()
                    .find(|p| p.metadata.name.as_deref() == Some(name.as_str()))
                else {
                    return Ok(Next::After(RESYNC));
                };
                self.bind(pv, &claim).await?;
                Ok(Next::Done)
            }
            ClaimStep::SelectNode(node) => {
                let patch = json!({"metadata": {"annotations": {ANN_SELECTED_NODE: node}}});
                self.patch_claim(&claim, &patch).await?;
                Ok(Next::Done)
            }
            ClaimStep::Provision(node) => {
                let Some(class) = class else {
                    return Ok(Next::After(RESYNC));
                };
                self.provision(&claim, &class, node.as_deref()).await
            }
            ClaimStep::External(provisioner) => {
                self.annotate_provisioner(&claim, &provisioner).await?;
                self.events.normal(
                    r,
                    "ExternalProvisioning",
                    "Provisioning",
                    format!("Waiting for a volume to be created either by the external provisioner '{provisioner}' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered."),
                );
                self.claim_phase(&claim, "Pending").await?;
                Ok(Next::After(RESYNC))
            }
            ClaimStep::Pending(event) => {
                if let Some((warning, reason, message)) = event {
                    if warning {
                        self.events.warning(r, reason, "Binding", message);
                    } else {
                        self.events.normal(r, reason, "Binding", message);
                    }
                }
                self.claim_phase(&claim, "Pending").await?;
                Ok(Next::After(RESYNC))
            }
            ClaimStep::Lost(reason, message) => {
                if claim.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Lost") {
                    self.events.warning(r, reason, "Binding", message.into());
                }
                self.claim_phase(&claim, "Lost").await?;
                Ok(Next::Done)
            }
        }
    }

    async fn patch_claim(
        &self,
        claim: &PersistentVolumeClaim,
        patch: &Value,
    ) -> Result<PersistentVolumeClaim, Error> {
        self.claim_api(claim)
            .patch(&claim.name_any(), &PatchParams::default(), &Patch::Merge(patch))
            .await
            .map_err(api(format!("updating claim {}", keyed::key_of(claim))))
    }

    async fn claim_phase(&self, claim: &PersistentVolumeClaim, phase: &str) -> Result<(), Error> {
        if claim.status.as_ref().and_then(|s| s.phase.as_deref()) == Some(phase) {
            return Ok(());
        }
        self.claim_api(claim)
            .patch_status(
                &claim.name_any(),
                &PatchParams::default(),
                &Patch::Merge(json!({"status": {"phase": phase}})),
            )
            .await
            .map_err(api("updating claim status"))?;
        Ok(())
    }

    async fn annotate_provisioner(
        &self,
        claim: &PersistentVolumeClaim,
        provisioner: &str,
    ) -> Result<(), Error> {
        let has = |k: &str| {
            claim
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(k))
                .is_some_and(|v| v == provisioner)
        };
        if has(ANN_STORAGE_PROVISIONER) && has(ANN_STORAGE_PROVISIONER_BETA) {
            return Ok(());
        }
        let patch = json!({"metadata": {"annotations": {
            ANN_STORAGE_PROVISIONER: provisioner,
            ANN_STORAGE_PROVISIONER_BETA: provisioner,
        }}});
        self.patch_claim(claim, &patch).await?;
        Ok(())
    }

    async fn provision(
        &self,
        claim: &PersistentVolumeClaim,
        class: &StorageClass,
        node: Option<&str>,
    ) -> Result<Next, Error> {
        let r = reference(claim);
        self.annotate_provisioner(claim, super::LOCAL_PATH_PROVISIONER)
            .await?;
        if let Err(why) = provision::check(claim) {
            self.events.warning(r, "ProvisioningFailed", "Provisioning", why);
            return Ok(Next::After(RESYNC));
        }
        self.events.normal(
            r.clone(),
            "Provisioning",
            "Provisioning",
            format!(
                "External provisioner is provisioning volume for claim \"{}\"",
                keyed::key_of(claim)
            ),
        );
        let pv = provision::local_path_volume(claim, class, node, &self.root);
        let dir = provision::volume_dir(&self.root, claim);
        let dirs = self.dirs.clone();
        let made = {
            let dir = dir.clone();
            tokio::task::spawn_blocking(move || dirs.create(&dir)).await
        };
        match made {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                self.events.warning(
                    r,
                    "ProvisioningFailed",
                    "Provisioning",
                    format!("failed to create directory {}: {e}", dir.display()),
                );
                return Err(Error::Dir {
                    what: "creating",
                    path: dir.display().to_string(),
                    source: e,
                });
            }
            Err(_) => return Ok(Next::After(RESYNC)),
        }
        let name = provision::volume_name(claim);
        let created = match self.volume_api().create(&PostParams::default(), &pv).await {
            Ok(created) => created,
            Err(e) if apierror::is_already_exists(&e) => {
                // An earlier sync created it; the cache has not shown it yet.
                return Ok(Next::After(Duration::from_secs(1)));
            }
            Err(e) => {
                self.events.warning(
                    r,
                    "ProvisioningFailed",
                    "Provisioning",
                    format!("failed to create volume {name}: {e}"),
                );
                return Err(api("creating the provisioned volume")(e));
            }
        };
        tracing::info!(claim = %keyed::key_of(claim), volume = %name, "provisioned local-path volume");
        self.events.normal(
            r,
            "ProvisioningSucceeded",
            "Provisioning",
            format!("Successfully provisioned volume {name}"),
        );
        self.bind(&created, claim).await?;
        Ok(Next::Done)
    }

    /// Binds (or finishes binding) a volume and a claim: upstream's `bind`.
    async fn bind(&self, pv: &PersistentVolume, claim: &PersistentVolumeClaim) -> Result<(), Error> {
        let pv_name = pv.name_any();
        let spec = pv.spec.clone().unwrap_or_default();
        let wanted_ref = provision::claim_reference(claim);
        let ref_ok = spec.claim_ref.as_ref().is_some_and(|r| {
            r.uid == wanted_ref.uid && r.name == wanted_ref.name && r.namespace == wanted_ref.namespace
        });
        let mut pv = pv.clone();
        if !ref_ok {
            let mut meta = json!({"resourceVersion": pv.metadata.resource_version});
            if spec.claim_ref.is_none() {
                meta["annotations"] = json!({ANN_BOUND_BY_CONTROLLER: "yes"});
            }
            let patch = json!({"metadata": meta, "spec": {"claimRef": wanted_ref}});
            pv = self
                .volume_api()
                .patch(&pv_name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map_err(api(format!("binding volume {pv_name}")))?;
        }
        self.volume_phase(&pv, "Bound", None).await?;

        let volume_name = claim
            .spec
            .as_ref()
            .and_then(|s| s.volume_name.clone())
            .unwrap_or_default();
        let annotations = claim.metadata.annotations.clone().unwrap_or_default();
        let mut claim = claim.clone();
        if volume_name != pv_name || !annotations.contains_key(ANN_BIND_COMPLETED) {
            let mut ann = json!({ANN_BIND_COMPLETED: "yes"});
            if volume_name.is_empty() {
                ann[ANN_BOUND_BY_CONTROLLER] = json!("yes");
            }
            let patch = json!({"metadata": {"annotations": ann, "resourceVersion": claim.metadata.resource_version},
                "spec": {"volumeName": pv_name}});
            claim = self.patch_claim(&claim, &patch).await?;
        }
        let pv_spec = pv.spec.clone().unwrap_or_default();
        let status =
            json!({"phase": "Bound", "accessModes": pv_spec.access_modes, "capacity": pv_spec.capacity});
        let current = serde_json::to_value(&claim.status).unwrap_or_default();
        if ["phase", "accessModes", "capacity"]
            .iter()
            .any(|k| current.get(*k) != status.get(*k))
        {
            self.claim_api(&claim)
                .patch_status(
                    &claim.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(json!({"status": status})),
                )
                .await
                .map_err(api("updating claim status"))?;
            tracing::info!(claim = %keyed::key_of(&claim), volume = %pv_name, "bound claim");
        }
        Ok(())
    }

    async fn volume_phase(
        &self,
        pv: &PersistentVolume,
        phase: &str,
        message: Option<&str>,
    ) -> Result<(), Error> {
        if phase_of(pv) == phase {
            return Ok(());
        }
        let status = json!({"phase": phase, "message": message,
            "lastPhaseTransitionTime": Timestamp::now().to_string()});
        self.volume_api()
            .patch_status(
                &pv.name_any(),
                &PatchParams::default(),
                &Patch::Merge(json!({"status": status})),
            )
            .await
            .map_err(api(format!("updating volume {} status", pv.name_any())))?;
        Ok(())
    }

    /// The claim a volume's claimRef names, from the cache, confirmed with the API when
    /// the cache says it is gone (a claim the cache has not caught up with must not
    /// release its volume).
    async fn claim_of(&self, pv: &PersistentVolume) -> Result<Option<PersistentVolumeClaim>, Error> {
        let Some(r) = pv.spec.as_ref().and_then(|s| s.claim_ref.as_ref()) else {
            return Ok(None);
        };
        let (ns, name) = (
            r.namespace.as_deref().unwrap_or(""),
            r.name.as_deref().unwrap_or(""),
        );
        let cached = keyed::cached(&self.claims, &format!("{ns}/{name}"));
        if let Some(c) = cached.filter(|c| c.metadata.uid == r.uid) {
            return Ok(Some((*c).clone()));
        }
        let api: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), ns);
        api.get_opt(name).await.map_err(self::api("reading claim"))
    }

    async fn sync_volume(&self, name: &str) -> Result<Next, Error> {
        let Some(pv) = keyed::cached(&self.volumes, name) else {
            return Ok(Next::Done);
        };
        let claim = self.claim_of(&pv).await?;
        match decide::volume_step(&pv, claim.as_ref()) {
            VolumeStep::Nothing => Ok(Next::Done),
            VolumeStep::Phase(p) => {
                self.volume_phase(&pv, p, None).await?;
                Ok(Next::Done)
            }
            VolumeStep::Unbind { keep_ref } => {
                let patch = if keep_ref {
                    json!({"metadata": {"resourceVersion": pv.metadata.resource_version},
                        "spec": {"claimRef": {"uid": null, "resourceVersion": null}}})
                } else {
                    json!({"metadata": {"resourceVersion": pv.metadata.resource_version,
                        "annotations": {ANN_BOUND_BY_CONTROLLER: null}}, "spec": {"claimRef": null}})
                };
                let pv = self
                    .volume_api()
                    .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                    .map_err(api(format!("unbinding volume {name}")))?;
                self.volume_phase(&pv, "Available", None).await?;
                Ok(Next::Done)
            }
            VolumeStep::Reclaim => self.reclaim(&pv).await,
        }
    }

    async fn reclaim(&self, pv: &PersistentVolume) -> Result<Next, Error> {
        let name = pv.name_any();
        if !matches!(phase_of(pv), "Released" | "Failed") {
            self.volume_phase(pv, "Released", None).await?;
        }
        match decide::reclaim(pv) {
            Reclaim::Retain | Reclaim::External => Ok(Next::Done),
            Reclaim::Fail(reason, message) => {
                if phase_of(pv) != "Failed" {
                    self.events
                        .warning(volume_reference(pv), reason, "Reclaim", message.clone());
                    self.volume_phase(pv, "Failed", Some(&message)).await?;
                }
                Ok(Next::Done)
            }
            Reclaim::DeleteLocal => {
                if let Some(dir) = provision::owned_dir(pv, &self.root) {
                    let dirs = self.dirs.clone();
                    let removed = {
                        let dir = dir.clone();
                        tokio::task::spawn_blocking(move || dirs.remove(&dir)).await
                    };
                    if let Ok(Err(e)) = removed {
                        self.events.warning(
                            volume_reference(pv),
                            "VolumeFailedDelete",
                            "Reclaim",
                            format!("failed to remove {}: {e}", dir.display()),
                        );
                        return Err(Error::Dir {
                            what: "removing",
                            path: dir.display().to_string(),
                            source: e,
                        });
                    }
                }
                let params = DeleteParams {
                    preconditions: Some(Preconditions {
                        uid: pv.metadata.uid.clone(),
                        resource_version: None,
                    }),
                    ..Default::default()
                };
                match self.volume_api().delete(&name, &params).await {
                    Ok(_) => {
                        tracing::info!(volume = %name, "deleted released local-path volume");
                        Ok(Next::Done)
                    }
                    Err(e) if apierror::is_not_found(&e) => Ok(Next::Done),
                    Err(e) => Err(api(format!("deleting volume {name}"))(e)),
                }
            }
        }
    }
}
