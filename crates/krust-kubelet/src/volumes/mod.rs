//! Volumes whose content the node agent writes: configMap, secret, downwardAPI and
//! projected. They are materialised under the pod's directory before its containers
//! start and refreshed at every sync of the pod, so edits to a ConfigMap or Secret reach
//! running containers (atomically, through `..data`). Secret and projected volumes live
//! on a tmpfs of their own so that secrets are never written to disk.

mod content;
mod objects;
mod writer;

use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::Pod;

pub(crate) use content::{in_memory, kind_dir};
pub(crate) use objects::{Fetched, fetch};
pub use objects::{KubeObjects, ObjectSource};

/// The host directory of content volume `volume` of pod `uid` under `pods`.
pub(crate) fn volume_dir(pods: &Path, uid: &str, kind: &str, volume: &str) -> PathBuf {
    pods.join(uid).join("volumes").join(kind).join(volume)
}

fn is_mountpoint(dir: &Path) -> bool {
    let Ok(mounts) = std::fs::read_to_string("/proc/self/mounts") else {
        return false;
    };
    let d = dir.display().to_string();
    mounts.lines().any(|l| l.split(' ').nth(1) == Some(d.as_str()))
}

/// Mounts a tmpfs at `dir` unless one is there already; `size` is a quantity (default:
/// 64 MiB for secrets, else the kernel's half of memory).
pub(crate) fn mount_tmpfs(dir: &Path, size: Option<&str>) -> Result<(), String> {
    if is_mountpoint(dir) {
        return Ok(());
    }
    let mut options = "mode=0777".to_string();
    if let Some(q) = size {
        let bytes = krust_api::quantity::Quantity::parse(q)
            .map_err(|e| format!("sizeLimit {q:?}: {e}"))?
            .milli_value()
            / 1000;
        options.push_str(&format!(",size={bytes}"));
    }
    let ok = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", &options, "tmpfs"])
        .arg(dir)
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        Ok(())
    } else {
        Err(format!("cannot mount a tmpfs at {}", dir.display()))
    }
}

/// Writes every content volume of `pod` under `pods` from `fetched`. A volume that
/// cannot be made (a missing ConfigMap, say) fails with upstream's wording.
pub(crate) fn materialise(pods: &Path, pod: &Pod, fetched: &Fetched) -> Result<(), String> {
    let uid = pod.metadata.uid.as_deref().unwrap_or_default();
    let version = u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    )
    .unwrap_or(0);
    for v in pod.spec.iter().flat_map(|s| s.volumes.iter().flatten()) {
        let Some(kind) = kind_dir(v) else { continue };
        let files = content::files(pod, v, fetched)
            .map_err(|e| format!("MountVolume.SetUp failed for volume {:?} : {e}", v.name))?
            .unwrap_or_default();
        let dir = volume_dir(pods, uid, kind, &v.name);
        let io = |e: std::io::Error| format!("MountVolume.SetUp failed for volume {:?} : {e}", v.name);
        if in_memory(v) {
            std::fs::create_dir_all(&dir).map_err(io)?;
            mount_tmpfs(&dir, Some("64Mi"))
                .map_err(|e| format!("MountVolume.SetUp failed for volume {:?} : {e}", v.name))?;
        }
        writer::write_atomic(&dir, &files, version).map_err(io)?;
    }
    Ok(())
}

/// Unmounts the tmpfs volumes of pod `uid` so its directory can be removed.
pub(crate) fn unmount_all(pods: &Path, uid: &str) {
    let root = pods.join(uid).join("volumes");
    for kind in [
        "kubernetes.io~secret",
        "kubernetes.io~projected",
        "kubernetes.io~empty-dir",
    ] {
        for e in std::fs::read_dir(root.join(kind)).into_iter().flatten().flatten() {
            if is_mountpoint(&e.path()) {
                let _ = std::process::Command::new("umount").arg(e.path()).status();
            }
        }
    }
}
