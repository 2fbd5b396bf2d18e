//! Starting and stopping a krust server process, and reading its memory use.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::BenchError;

/// A krust server child process.
pub struct Server {
    child: Child,
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> Result<u16, BenchError> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Server {
    /// Starts `krust server` with extra flags (which components run, simulated nodes),
    /// without a node agent.
    pub fn start_with(binary: &Path, data_dir: &Path, port: u16, extra: &[&str]) -> Result<Self, BenchError> {
        let log = std::fs::File::create(data_dir.with_extension("log"))?;
        let child = Command::new(binary)
            .args(["server", "--bind-address", "127.0.0.1", "--disable-agent"])
            .args(extra)
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--https-listen-port")
            .arg(port.to_string())
            .env("KRUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| BenchError::Server(format!("cannot start {}: {e}", binary.display())))?;
        Ok(Self { child })
    }

    /// Resident memory of the server process, in MiB.
    pub fn rss_mb(&self) -> f64 {
        rss_mb_of(self.child.id())
    }

    /// Stops with SIGTERM and waits.
    pub fn stop(mut self) -> Result<(), BenchError> {
        terminate(&mut self.child)
    }
}

/// A `krust agent` child process.
pub struct Agent {
    child: Child,
}

impl Agent {
    /// Starts `krust agent` joining the server on `port` with `token`.
    pub fn start(
        binary: &Path,
        data_dir: &Path,
        port: u16,
        token: &str,
        node: &str,
    ) -> Result<Self, BenchError> {
        std::fs::create_dir_all(data_dir)?;
        let log = std::fs::File::create(data_dir.with_extension("log"))?;
        let child = Command::new(binary)
            .arg("agent")
            .arg("--server")
            .arg(format!("https://127.0.0.1:{port}"))
            .arg("--token")
            .arg(token)
            .arg("--node-name")
            .arg(node)
            .arg("--data-dir")
            .arg(data_dir)
            .env("KRUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| BenchError::Server(format!("cannot start the agent: {e}")))?;
        Ok(Self { child })
    }

    /// Resident memory of the agent process (containerd not counted), in MiB.
    pub fn rss_mb(&self) -> f64 {
        rss_mb_of(self.child.id())
    }

    /// Stops with SIGTERM and waits.
    pub fn stop(mut self) -> Result<(), BenchError> {
        terminate(&mut self.child)
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// SIGTERM, then up to 30 s for the process to exit, then SIGKILL.
fn terminate(child: &mut Child) -> Result<(), BenchError> {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if child.try_wait()?.is_some() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill()?;
    child.wait()?;
    Ok(())
}

/// VmRSS in MiB of a process `pid`.
fn rss_mb_of(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| (kb / 1024.0 * 10.0).round() / 10.0)
        .unwrap_or(0.0)
}

/// The RSS in MiB of the process named `name` whose command line mentions `dir` (the
/// containerd a node agent started for that data directory); 0 when there is none.
pub fn rss_mb_of_command(name: &str, dir: &Path) -> f64 {
    let dir = dir.display().to_string();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        let exe = cmd.split(' ').next().unwrap_or_default();
        if (exe == name || exe.ends_with(&format!("/{name}"))) && cmd.contains(&dir) {
            return rss_mb_of(pid);
        }
    }
    0.0
}

/// Waits for a just-started server's certificates and `/readyz`; returns the admin TLS
/// settings.
pub async fn wait_started(
    data: &Path,
    port: u16,
    started: Instant,
) -> Result<std::sync::Arc<rustls::ClientConfig>, BenchError> {
    while !data.join("tls").join("client-admin.key").exists() || !data.join("kubeconfig.yaml").exists() {
        if started.elapsed() > Duration::from_secs(60) {
            return Err(BenchError::Server("certificates never appeared".into()));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let tls = crate::client::tls_config(&data.join("tls"))?;
    crate::client::wait_ready(port, tls.clone(), started, Duration::from_secs(60)).await?;
    Ok(tls)
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
