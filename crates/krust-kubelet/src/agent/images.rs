//! Images a node has without a registry: every OCI or docker-archive tarball in
//! `<data-dir>/agent/images/` is imported into containerd at start (as k3s's air-gap
//! images), and the pod sandbox image is built from the host's busybox-static when
//! containerd lacks it. Imports go through containerd's own `ctr`, since CRI has no
//! import call.

use std::path::{Path, PathBuf};

use krust_cri::{Cri, v1};

use crate::Error;

/// How to reach containerd's native API.
#[derive(Debug, Clone)]
pub(crate) struct Importer {
    /// containerd's socket.
    pub socket: PathBuf,
    /// The snapshotter the CRI plugin uses (images must be unpacked for it).
    pub snapshotter: String,
}

impl Importer {
    /// Imports the tarball `file` into the `k8s.io` namespace, unpacked.
    pub async fn import(&self, file: &Path) -> Result<(), Error> {
        let out = tokio::process::Command::new("ctr")
            .arg("--address")
            .arg(&self.socket)
            .args([
                "-n",
                "k8s.io",
                "images",
                "import",
                "--snapshotter",
                &self.snapshotter,
            ])
            .arg(file)
            .output()
            .await
            .map_err(|e| Error::Config(format!("running ctr to import {}: {e}", file.display())))?;
        if !out.status.success() {
            return Err(Error::Config(format!(
                "importing {}: {}",
                file.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(())
    }
}

/// The snapshotter a containerd config names (`snapshotter = "..."`).
pub(crate) fn configured_snapshotter(config: &str) -> Option<String> {
    config.lines().find_map(|l| {
        let v = l
            .trim()
            .strip_prefix("snapshotter")?
            .trim_start()
            .strip_prefix('=')?;
        Some(v.trim().trim_matches('"').to_string())
    })
}

/// Whether containerd has `image`.
pub(crate) async fn present(cri: &Cri, image: &str) -> Result<bool, Error> {
    let reply = cri
        .images
        .clone()
        .image_status(v1::ImageStatusRequest {
            image: Some(v1::ImageSpec {
                image: image.to_string(),
                ..Default::default()
            }),
            verbose: false,
        })
        .await
        .map_err(|e| Error::Config(format!("asking containerd for image {image}: {}", e.message())))?;
    Ok(reply.into_inner().image.is_some())
}

/// The tarballs in `dir` (`.tar`), in name order; none when it does not exist.
pub(crate) fn tarballs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "tar"))
        .collect();
    files.sort();
    files
}

/// Imports `dir`'s tarballs, then makes sure the sandbox image exists, building it from
/// `busybox` (a static busybox) under `scratch` if not.
pub(crate) async fn prepare(
    cri: &Cri,
    importer: &Importer,
    dir: &Path,
    busybox: &Path,
    scratch: &Path,
) -> Result<(), Error> {
    for file in tarballs(dir) {
        match importer.import(&file).await {
            Ok(()) => tracing::info!(file = %file.display(), "image imported"),
            Err(e) => tracing::warn!(error = %e, "image not imported"),
        }
    }
    let sandbox = super::containerd::SANDBOX_IMAGE;
    if present(cri, sandbox).await? {
        return Ok(());
    }
    std::fs::create_dir_all(scratch)
        .map_err(|e| Error::Config(format!("creating {}: {e}", scratch.display())))?;
    let tar = scratch.join("pause.tar");
    krust_oci::write_image(&krust_oci::pause_image(), busybox, &tar).map_err(|e| {
        Error::Config(format!(
            "building the pod sandbox image {sandbox} from {}: {e} (install busybox-static)",
            busybox.display()
        ))
    })?;
    importer.import(&tar).await?;
    let _ = std::fs::remove_file(&tar);
    tracing::info!(image = sandbox, "pod sandbox image built and imported");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_snapshotter_is_read_from_the_config() {
        let text = super::super::containerd::config(
            &super::super::containerd::Layout::under(Path::new("/d"), "/usr/lib/cni".into()),
            "native",
        );
        assert_eq!(configured_snapshotter(&text).as_deref(), Some("native"));
        assert_eq!(configured_snapshotter("version = 2"), None);
    }

    #[test]
    fn only_tarballs_in_name_order() {
        let dir = std::env::temp_dir().join(format!("krust-images-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for f in ["b.tar", "a.tar", "notes.txt"] {
            std::fs::write(dir.join(f), b"x").unwrap();
        }
        let got: Vec<_> = tarballs(&dir)
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(got, vec!["a.tar", "b.tar"]);
        assert!(tarballs(Path::new("/nonexistent/krust")).is_empty());
    }
}
