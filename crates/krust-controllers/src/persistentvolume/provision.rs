//! The built-in local-path provisioner, named `rancher.io/local-path` as k3s's so that
//! manifests written for k3s work unchanged: a claim gets a `hostPath` volume in its own
//! directory `<root>/pvc-<uid>_<namespace>_<name>`, pinned to the node it was provisioned
//! for, and the directory goes away with the volume when the policy is Delete.
//!
//! Building the volume is pure; the directories are behind [`VolumeDirs`] so tests can
//! record them instead of touching the disk.

use std::collections::BTreeMap;
use std::io;
use std::path::{Component, Path, PathBuf};

use k8s_openapi::api::core::v1::{
    HostPathVolumeSource, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, ObjectReference,
    PersistentVolume, PersistentVolumeClaim, PersistentVolumeSpec, VolumeNodeAffinity,
};
use k8s_openapi::api::storage::v1::StorageClass;

use super::{ANN_PROVISIONED_BY, LOCAL_PATH_PROVISIONER};

/// k3s's provisioner records the node it provisioned for under this annotation.
const ANN_LOCAL_PATH_NODE: &str = "local.path.provisioner/selected-node";

/// The name of a claim's volume, as upstream's provisioners name them.
pub(crate) fn volume_name(claim: &PersistentVolumeClaim) -> String {
    format!("pvc-{}", claim.metadata.uid.as_deref().unwrap_or(""))
}

/// The directory of a claim's volume under `root`.
pub(crate) fn volume_dir(root: &Path, claim: &PersistentVolumeClaim) -> PathBuf {
    root.join(format!(
        "{}_{}_{}",
        volume_name(claim),
        claim.metadata.namespace.as_deref().unwrap_or(""),
        claim.metadata.name.as_deref().unwrap_or("")
    ))
}

/// Why the provisioner cannot serve a claim, or `Ok`.
pub(crate) fn check(claim: &PersistentVolumeClaim) -> Result<(), String> {
    let spec = claim.spec.as_ref();
    if spec.and_then(|s| s.volume_mode.as_deref()) == Some("Block") {
        return Err("the local-path provisioner cannot provision block volumes".into());
    }
    let modes = spec.and_then(|s| s.access_modes.as_deref()).unwrap_or_default();
    if let Some(m) = modes
        .iter()
        .find(|m| !matches!(m.as_str(), "ReadWriteOnce" | "ReadWriteOncePod"))
    {
        return Err(format!(
            "the local-path provisioner only supports ReadWriteOnce and ReadWriteOncePod access modes, not {m}"
        ));
    }
    Ok(())
}

/// The volume for `claim` of `class`, pre-bound to the claim, pinned to `node` if known.
pub(crate) fn local_path_volume(
    claim: &PersistentVolumeClaim,
    class: &StorageClass,
    node: Option<&str>,
    root: &Path,
) -> PersistentVolume {
    let spec = claim.spec.clone().unwrap_or_default();
    let storage = spec
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"))
        .cloned()
        .unwrap_or_default();
    let mut annotations =
        BTreeMap::from([(ANN_PROVISIONED_BY.to_string(), LOCAL_PATH_PROVISIONER.to_string())]);
    if let Some(n) = node {
        annotations.insert(ANN_LOCAL_PATH_NODE.into(), n.into());
    }
    let node_affinity = node.map(|n| VolumeNodeAffinity {
        required: Some(NodeSelector {
            node_selector_terms: vec![NodeSelectorTerm {
                match_expressions: Some(vec![NodeSelectorRequirement {
                    key: "kubernetes.io/hostname".into(),
                    operator: "In".into(),
                    values: Some(vec![n.into()]),
                }]),
                ..Default::default()
            }],
        }),
    });
    PersistentVolume {
        metadata: kube::api::ObjectMeta {
            name: Some(volume_name(claim)),
            annotations: Some(annotations),
            ..Default::default()
        },
        spec: Some(PersistentVolumeSpec {
            access_modes: spec.access_modes.clone(),
            capacity: Some(BTreeMap::from([("storage".to_string(), storage)])),
            claim_ref: Some(claim_reference(claim)),
            host_path: Some(HostPathVolumeSource {
                path: volume_dir(root, claim).to_string_lossy().into_owned(),
                type_: Some("DirectoryOrCreate".into()),
            }),
            mount_options: class.mount_options.clone(),
            node_affinity,
            persistent_volume_reclaim_policy: Some(
                class.reclaim_policy.clone().unwrap_or_else(|| "Delete".into()),
            ),
            storage_class_name: class.metadata.name.clone(),
            volume_mode: spec.volume_mode.clone(),
            ..Default::default()
        }),
        status: None,
    }
}

/// The reference a volume keeps to its claim.
pub(crate) fn claim_reference(claim: &PersistentVolumeClaim) -> ObjectReference {
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

/// The directory of a local-path volume that this provisioner may remove: its `hostPath`
/// when that is a `pvc-…` directory directly under `root`. Anything else (a volume
/// edited to point elsewhere, a path with `..`) is left alone, so a crafted volume cannot
/// make the controller delete an arbitrary directory.
pub(crate) fn owned_dir(pv: &PersistentVolume, root: &Path) -> Option<PathBuf> {
    let path = PathBuf::from(&pv.spec.as_ref()?.host_path.as_ref()?.path);
    let name = path.strip_prefix(root).ok()?;
    let mut parts = name.components();
    match (parts.next(), parts.next()) {
        (Some(Component::Normal(n)), None) if n.to_str().is_some_and(|s| s.starts_with("pvc-")) => Some(path),
        _ => None,
    }
}

/// Where volumes' directories are made and removed.
pub(crate) trait VolumeDirs: Send + Sync {
    /// Creates the directory (and its parents), open to every user as k3s's are, since
    /// any container user may write to a volume.
    fn create(&self, path: &Path) -> io::Result<()>;
    /// Removes the directory and everything in it (gone already is fine).
    fn remove(&self, path: &Path) -> io::Result<()>;
}

/// Directories on this host's filesystem.
pub(crate) struct HostDirs;

impl VolumeDirs for HostDirs {
    fn create(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir_all(path)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // Set explicitly: the process umask would otherwise narrow 0777.
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o777))?;
        }
        Ok(())
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        match std::fs::remove_dir_all(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::matching::tests::claim;
    use super::*;
    use parking_lot::Mutex;

    /// Records what would have been done to the disk.
    #[derive(Default)]
    pub(crate) struct FakeDirs {
        pub(crate) existing: Mutex<Vec<PathBuf>>,
    }

    impl VolumeDirs for FakeDirs {
        fn create(&self, path: &Path) -> io::Result<()> {
            self.existing.lock().push(path.to_path_buf());
            Ok(())
        }
        fn remove(&self, path: &Path) -> io::Result<()> {
            self.existing.lock().retain(|p| p != path);
            Ok(())
        }
    }

    fn class(reclaim: Option<&str>) -> StorageClass {
        StorageClass {
            metadata: kube::api::ObjectMeta {
                name: Some("local-path".into()),
                ..Default::default()
            },
            provisioner: LOCAL_PATH_PROVISIONER.into(),
            reclaim_policy: reclaim.map(str::to_string),
            ..Default::default()
        }
    }

    #[test]
    fn the_volume_for_a_claim() {
        let c = claim("data", Some("local-path"), "2Gi", &["ReadWriteOnce"]);
        let root = Path::new("/var/lib/krust/storage");
        let pv = local_path_volume(&c, &class(Some("Retain")), Some("sim-1"), root);
        assert_eq!(pv.metadata.name.as_deref(), Some("pvc-uid-data"));
        let spec = pv.spec.as_ref().unwrap();
        let hp = spec.host_path.as_ref().unwrap();
        assert_eq!(hp.path, "/var/lib/krust/storage/pvc-uid-data_ns_data");
        assert_eq!(hp.type_.as_deref(), Some("DirectoryOrCreate"));
        assert_eq!(spec.capacity.as_ref().unwrap()["storage"].0, "2Gi");
        assert_eq!(
            spec.access_modes.as_deref(),
            Some(&["ReadWriteOnce".to_string()][..])
        );
        assert_eq!(spec.persistent_volume_reclaim_policy.as_deref(), Some("Retain"));
        assert_eq!(spec.storage_class_name.as_deref(), Some("local-path"));
        let r = spec.claim_ref.as_ref().unwrap();
        assert_eq!(
            (r.namespace.as_deref(), r.name.as_deref(), r.uid.as_deref()),
            (Some("ns"), Some("data"), Some("uid-data"))
        );
        let term = &spec
            .node_affinity
            .as_ref()
            .unwrap()
            .required
            .as_ref()
            .unwrap()
            .node_selector_terms[0];
        let req = &term.match_expressions.as_ref().unwrap()[0];
        assert_eq!(
            (req.key.as_str(), req.operator.as_str(), req.values.as_deref()),
            ("kubernetes.io/hostname", "In", Some(&["sim-1".to_string()][..]))
        );
        assert_eq!(
            pv.metadata.annotations.as_ref().unwrap()[ANN_PROVISIONED_BY],
            LOCAL_PATH_PROVISIONER
        );
        let anywhere = local_path_volume(&c, &class(None), None, root);
        let spec = anywhere.spec.as_ref().unwrap();
        assert!(spec.node_affinity.is_none());
        assert_eq!(spec.persistent_volume_reclaim_policy.as_deref(), Some("Delete"));
    }

    #[test]
    fn only_single_node_filesystem_claims() {
        assert!(check(&claim("c", None, "1Gi", &["ReadWriteOnce"])).is_ok());
        assert!(check(&claim("c", None, "1Gi", &["ReadWriteMany"])).is_err());
        let mut block = claim("c", None, "1Gi", &["ReadWriteOnce"]);
        if let Some(s) = block.spec.as_mut() {
            s.volume_mode = Some("Block".into());
        }
        assert!(check(&block).is_err());
    }

    #[test]
    fn only_own_directories_are_removed() {
        let root = Path::new("/data/storage");
        let c = claim("data", None, "1Gi", &["ReadWriteOnce"]);
        let pv = local_path_volume(&c, &class(None), None, root);
        assert_eq!(
            owned_dir(&pv, root),
            Some(PathBuf::from("/data/storage/pvc-uid-data_ns_data"))
        );
        for evil in [
            "/etc",
            "/data/storage",
            "/data/storage/../x",
            "/data/storage/pvc-1/../../etc",
            "/data/storage/other",
        ] {
            let mut p = pv.clone();
            if let Some(hp) = p.spec.as_mut().and_then(|s| s.host_path.as_mut()) {
                hp.path = evil.into();
            }
            assert_eq!(owned_dir(&p, root), None, "{evil}");
        }
    }

    #[test]
    fn host_dirs_are_open_to_all_and_removed_once() {
        use std::os::unix::fs::PermissionsExt;
        let root = std::env::temp_dir().join(format!("krust-pv-test-{}", std::process::id()));
        let dir = root.join("pvc-x_ns_c");
        HostDirs.create(&dir).unwrap();
        std::fs::write(dir.join("file"), b"data").unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o777);
        HostDirs.remove(&dir).unwrap();
        assert!(!dir.exists());
        HostDirs.remove(&dir).unwrap();
        std::fs::remove_dir(&root).unwrap();
    }

    #[test]
    fn fake_dirs_record() {
        let d = FakeDirs::default();
        d.create(Path::new("/a")).unwrap();
        d.create(Path::new("/b")).unwrap();
        d.remove(Path::new("/a")).unwrap();
        assert_eq!(*d.existing.lock(), vec![PathBuf::from("/b")]);
    }
}
