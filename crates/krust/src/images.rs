//! `krust images`: what a node without a registry needs: build the busybox test image
//! (sh, httpd, nc, tar, ...) from the host's busybox-static, and import a tarball into the
//! running node agent's containerd.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum ImagesCommand {
    /// Import an OCI or docker-archive tarball into this machine's node agent (tarballs
    /// in <data-dir>/agent/images/ are imported at every start anyway).
    Import {
        /// The tarball.
        file: PathBuf,
        /// The agent's data directory.
        #[arg(long, default_value = "/var/lib/krust")]
        data_dir: PathBuf,
    },
    /// Write an OCI image tarball built from the host's static busybox: `krust.io/busybox:1.35`
    /// by default, with sh, httpd, nc, wget, tar and the other busybox tools.
    BuildBusybox {
        /// Where to write the tarball.
        out: PathBuf,
        /// The image name (with a tag; a `:latest` tag makes kubelets always pull it).
        #[arg(long, default_value = krust_oci::TEST_IMAGE)]
        name: String,
        /// The static busybox binary (Debian's busybox-static).
        #[arg(long, default_value = krust_oci::DEFAULT_BUSYBOX)]
        busybox: PathBuf,
    },
}

pub async fn run(cmd: ImagesCommand) -> anyhow::Result<()> {
    match cmd {
        ImagesCommand::Import { file, data_dir } => {
            krust_kubelet::import_image(&data_dir, &file)
                .await
                .with_context(|| format!("importing {}", file.display()))?;
            println!("imported {}", file.display());
        }
        ImagesCommand::BuildBusybox { out, name, busybox } => {
            let spec = krust_oci::ImageSpec {
                name,
                ..krust_oci::test_image()
            };
            let d = krust_oci::write_image(&spec, &busybox, &out)
                .with_context(|| format!("building {}", out.display()))?;
            println!(
                "{} written to {} (manifest {})",
                d.name,
                out.display(),
                d.manifest
            );
        }
    }
    Ok(())
}
