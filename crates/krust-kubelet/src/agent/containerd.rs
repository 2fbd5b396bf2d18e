//! The containerd the agent runs for itself when no runtime endpoint is given, as k3s
//! does: a config written under the data directory (CRI plugin, runc, the snapshotter
//! this host's filesystem supports, CNI directories), the daemon started as a child, and
//! stopped with SIGTERM when the agent stops. Running containers survive that: their
//! shims are separate processes, and the next containerd finds them again.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::Error;

/// The image every pod sandbox runs (the agent builds it when containerd lacks it).
pub(crate) const SANDBOX_IMAGE: &str = krust_oci::PAUSE_IMAGE;

/// Where a supervised containerd keeps things.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    /// Config file.
    pub config: PathBuf,
    /// Images, snapshots, metadata.
    pub root: PathBuf,
    /// Runtime state (sockets, shim state).
    pub state: PathBuf,
    /// The CRI/gRPC socket.
    pub socket: PathBuf,
    /// The daemon's own log.
    pub log: PathBuf,
    /// Where the CNI network configuration is written.
    pub cni_conf_dir: PathBuf,
    /// Where the CNI plugins are.
    pub cni_bin_dir: PathBuf,
}

impl Layout {
    /// The layout under `<data_dir>/agent`.
    pub fn under(data_dir: &Path, cni_bin_dir: PathBuf) -> Self {
        let agent = data_dir.join("agent");
        Self {
            config: agent.join("etc/containerd/config.toml"),
            root: agent.join("containerd"),
            state: agent.join("run/containerd"),
            socket: agent.join("run/containerd/containerd.sock"),
            log: agent.join("containerd/containerd.log"),
            cni_conf_dir: agent.join("etc/cni/net.d"),
            cni_bin_dir,
        }
    }
}

/// TOML string literal.
fn quoted(p: &Path) -> String {
    format!("{:?}", p.display().to_string())
}

/// The containerd configuration for `layout` with `snapshotter`.
pub(crate) fn config(layout: &Layout, snapshotter: &str) -> String {
    let cri = "plugins.\"io.containerd.grpc.v1.cri\"";
    format!(
        r#"# Written by the krust node agent at every start; edits are lost.
version = 2
root = {root}
state = {state}
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = {socket}

[ttrpc]
  address = {ttrpc}

[plugins."io.containerd.internal.v1.opt"]
  path = {opt}

[{cri}]
  sandbox_image = "{sandbox}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  disable_apparmor = true
  # Sandboxes and containers never get a lower OOM score than containerd itself: a
  # host that runs krust inside a container may forbid lowering it.
  restrict_oom_score_adj = true
  # Pod network namespaces live under the state directory, so they go with the data
  # directory instead of piling up in /run/netns.
  netns_mounts_under_state_dir = true

[{cri}.containerd]
  snapshotter = "{snapshotter}"
  default_runtime_name = "runc"

[{cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[{cri}.containerd.runtimes.runc.options]
  SystemdCgroup = false
  Root = {runc_root}

[{cri}.cni]
  bin_dir = {bin}
  conf_dir = {conf}
"#,
        sandbox = SANDBOX_IMAGE,
        root = quoted(&layout.root),
        state = quoted(&layout.state),
        socket = quoted(&layout.socket),
        ttrpc = quoted(&layout.state.join("containerd.sock.ttrpc")),
        opt = quoted(&layout.root.join("opt")),
        runc_root = quoted(&layout.state.join("runc")),
        bin = quoted(&layout.cni_bin_dir),
        conf = quoted(&layout.cni_conf_dir),
    )
}

/// `overlayfs` when this host can mount an overlay on the data directory's filesystem,
/// else `native` (slower copies, works everywhere), as k3s falls back.
pub(crate) fn pick_snapshotter(root: &Path) -> &'static str {
    let probe = root.join("overlay-probe");
    let _ = std::fs::remove_dir_all(&probe);
    let dirs = ["lower", "upper", "work", "merged"].map(|d| probe.join(d));
    if dirs.iter().any(|d| std::fs::create_dir_all(d).is_err()) {
        return "native";
    }
    let options = format!(
        "lowerdir={},upperdir={},workdir={}",
        dirs[0].display(),
        dirs[1].display(),
        dirs[2].display()
    );
    let mounted = std::process::Command::new("mount")
        .args(["-t", "overlay", "overlay", "-o", &options])
        .arg(&dirs[3])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if mounted {
        let _ = std::process::Command::new("umount").arg(&dirs[3]).status();
    }
    let _ = std::fs::remove_dir_all(&probe);
    if mounted { "overlayfs" } else { "native" }
}

/// A running containerd, stopped when dropped.
pub(crate) struct Containerd {
    child: tokio::process::Child,
    /// The snapshotter it was configured with.
    pub snapshotter: &'static str,
}

impl Containerd {
    /// Writes the config and starts containerd, waiting until its socket answers.
    pub async fn start(binary: &Path, layout: &Layout) -> Result<Self, Error> {
        let io =
            |what: &str, p: &Path, e: std::io::Error| Error::Config(format!("{what} {}: {e}", p.display()));
        for dir in [&layout.root, &layout.state, &layout.cni_conf_dir] {
            std::fs::create_dir_all(dir).map_err(|e| io("creating", dir, e))?;
        }
        if let Some(parent) = layout.config.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io("creating", parent, e))?;
        }
        let snapshotter = pick_snapshotter(&layout.root);
        std::fs::write(&layout.config, config(layout, snapshotter))
            .map_err(|e| io("writing", &layout.config, e))?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&layout.log)
            .map_err(|e| io("opening", &layout.log, e))?;
        let log2 = log.try_clone().map_err(|e| io("opening", &layout.log, e))?;
        let child = tokio::process::Command::new(binary)
            .arg("--config")
            .arg(&layout.config)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                Error::Config(format!(
                    "starting {}: {e} (is containerd installed?)",
                    binary.display()
                ))
            })?;
        let mut me = Self { child, snapshotter };
        tracing::info!(socket = %layout.socket.display(), snapshotter, "containerd starting");
        let started = Instant::now();
        loop {
            if let Ok(cri) = krust_cri::Cri::connect_now(&layout.socket).await
                && cri.version().await.is_ok()
            {
                tracing::info!(ms = started.elapsed().as_millis() as u64, "containerd is up");
                return Ok(me);
            }
            if let Ok(Some(status)) = me.child.try_wait() {
                return Err(Error::Config(format!(
                    "containerd exited at start ({status}); see {}",
                    layout.log.display()
                )));
            }
            if started.elapsed() > Duration::from_secs(60) {
                return Err(Error::Config(format!(
                    "containerd did not answer on {} within 60 s; see {}",
                    layout.socket.display(),
                    layout.log.display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Asks containerd to stop (SIGTERM) and waits up to 10 s before killing it.
    pub async fn stop(mut self) {
        if let Some(pid) = self
            .child
            .id()
            .and_then(|p| rustix::process::Pid::from_raw(p as i32))
        {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
                .await
                .is_ok()
            {
                return;
            }
        }
        let _ = self.child.kill().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_points_everything_under_the_data_dir() {
        let layout = Layout::under(Path::new("/var/lib/krust"), "/usr/lib/cni".into());
        let text = config(&layout, "native");
        assert!(text.contains("root = \"/var/lib/krust/agent/containerd\""));
        assert!(text.contains("address = \"/var/lib/krust/agent/run/containerd/containerd.sock\""));
        assert!(text.contains("snapshotter = \"native\""));
        assert!(text.contains("sandbox_image = \"krust.io/pause:3.10\""));
        assert!(text.contains("conf_dir = \"/var/lib/krust/agent/etc/cni/net.d\""));
        assert!(text.contains("bin_dir = \"/usr/lib/cni\""));
    }
}
