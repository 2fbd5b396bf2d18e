//! Test harness for end-to-end tests: starts the real `krust` binary on a free port with
//! its own data directory, and runs the real kubectl and the official Python client
//! against it. Every process and directory is cleaned up when the harness is dropped.

#![allow(clippy::unwrap_used)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub mod node;

/// The krust binary under test: `$KRUST_BIN`, else the workspace's debug build.
pub fn krust_bin() -> PathBuf {
    if let Ok(p) = std::env::var("KRUST_BIN") {
        return PathBuf::from(p);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target"));
    target.join("debug/krust")
}

/// The directory of the versioned kubectl binaries (beside the `kubectl` on PATH).
pub fn kubectl_dir() -> Option<PathBuf> {
    let out = Command::new("sh")
        .arg("-c")
        .arg("readlink -f \"$(command -v kubectl)\"")
        .output()
        .ok()?;
    let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    p.parent().map(Path::to_path_buf)
}

/// A versioned kubectl (`kubectl.1.27`) if installed.
pub fn versioned_kubectl(version: &str) -> Option<PathBuf> {
    let p = kubectl_dir()?.join(format!("kubectl.{version}"));
    p.exists().then_some(p)
}

/// The Python with the official client: `$KRUST_PYTHON`, else the virtualenv that
/// `make test` creates under `target/pyvenv`, else `python3`.
pub fn python() -> PathBuf {
    if let Ok(p) = std::env::var("KRUST_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/pyvenv/bin/python");
    if venv.exists() {
        venv
    } else {
        PathBuf::from("python3")
    }
}

/// How many times a server is started before a port conflict fails the test.
const START_ATTEMPTS: u32 = 5;

/// How long [`Cluster::wait_settled`] waits.
const SETTLE_PATIENCE: Duration = Duration::from_secs(120);

/// Why a server did not become ready.
struct StartError {
    /// It exited because its port was in use.
    port_taken: bool,
    /// What to report.
    message: String,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Puts the busybox test image `krust.io/busybox:1.35` in the air-gap image directory
/// of the agent whose data directory is `data_dir`, to be imported at its start.
pub fn write_test_image(data_dir: &Path) {
    let images = data_dir.join("agent/images");
    std::fs::create_dir_all(&images).unwrap();
    krust_oci::write_image(
        &krust_oci::test_image(),
        Path::new(krust_oci::DEFAULT_BUSYBOX),
        &images.join("busybox.tar"),
    )
    .unwrap();
}

/// The resolver configuration node tests give agents: the cluster DNS forwards other
/// names to this machine's loopback only, so no query leaves the machine.
pub const TEST_RESOLV_CONF: &str = "nameserver 127.0.0.1\nsearch krust-test.invalid\n";

/// A running krust server.
pub struct Cluster {
    child: Option<Child>,
    /// Data directory (removed on drop).
    pub dir: tempfile::TempDir,
    /// HTTPS port.
    pub port: u16,
    /// Extra server flags.
    pub extra_args: Vec<String>,
    /// Whether the server runs its node agent (real containers): see
    /// [`Cluster::start_node`].
    pub agent: bool,
}

impl Cluster {
    /// Starts a server and waits until it is ready.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts a server with extra flags.
    ///
    /// The port is picked by binding to port 0 and releasing it, so another process may
    /// take it before the server binds it: if the server then exits because the address
    /// is in use, it is started again (in a fresh directory) on another port.
    pub fn start_with(extra: &[&str]) -> Self {
        Self::start_opts(extra, false)
    }

    /// Whether this machine can run a node agent with real containers: root, containerd,
    /// runc, the CNI plugins and busybox-static. Node tests skip (saying why) otherwise;
    /// `make test` installs all of them.
    pub fn node_prerequisites() -> Result<(), String> {
        let uid = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| stdout(&o))
            .unwrap_or_default();
        if uid.trim() != "0" {
            return Err("not root".into());
        }
        for path in [
            "/usr/bin/containerd",
            "/usr/sbin/runc",
            "/usr/lib/cni/bridge",
            "/bin/busybox",
            "/usr/bin/ctr",
        ] {
            if !Path::new(path).exists() {
                return Err(format!("{path} is missing"));
            }
        }
        Ok(())
    }

    /// Starts a server with its node agent (containerd, CNI) and `extra` flags, with the
    /// test image `krust.io/busybox:1.35` in its air-gap image directory, and waits until
    /// its node is Ready with a pod CIDR and its pod network (no `network-unavailable` taint left). On drop, its pods are deleted and everything the
    /// runtime left (containers, shims, mounts, the bridge) is removed.
    pub fn start_node(extra: &[&str]) -> Self {
        let c = Self::start_opts(extra, true);
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let node = c.get_json(&["nodes"]);
            let ready = node["items"].as_array().into_iter().flatten().any(|n| {
                let condition = |t: &str, s: &str| {
                    n["status"]["conditions"]
                        .as_array()
                        .is_some_and(|cs| cs.iter().any(|c| c["type"] == t && c["status"] == s))
                };
                let tainted = n["spec"]["taints"].as_array().is_some_and(|ts| {
                    ts.iter()
                        .any(|t| t["key"] == "node.kubernetes.io/network-unavailable")
                });
                n["spec"]["podCIDR"].is_string()
                    && condition("Ready", "True")
                    && condition("NetworkUnavailable", "False")
                    && !tainted
            });
            let sa = c.kubectl(&["get", "serviceaccount", "default", "-o", "name"]);
            if ready && sa.status.success() {
                return c;
            }
            assert!(
                Instant::now() < deadline,
                "the node did not become Ready with a pod CIDR; log:\n{}",
                c.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn start_opts(extra: &[&str], agent: bool) -> Self {
        let mut attempt = 1;
        loop {
            let mut c = Self {
                child: None,
                dir: tempfile::tempdir().unwrap(),
                port: free_port(),
                extra_args: extra.iter().map(|s| s.to_string()).collect(),
                agent,
            };
            if agent && !extra.contains(&"--resolv-conf") {
                // Names outside the cluster go to a resolver on this machine only.
                let resolv = c.dir.path().join("resolv.conf");
                std::fs::write(&resolv, TEST_RESOLV_CONF).unwrap();
                c.extra_args.push("--resolv-conf".into());
                c.extra_args.push(resolv.display().to_string());
            }
            if agent {
                write_test_image(&c.data_dir());
            }
            c.spawn();
            match c.try_wait_ready(0) {
                Ok(()) => return c,
                Err(e) if attempt < START_ATTEMPTS && e.port_taken => {
                    eprintln!(
                        "krust could not bind port {} (attempt {attempt}); retrying on another port",
                        c.port
                    );
                    attempt += 1;
                }
                Err(e) => panic!("{}", e.message),
            }
        }
    }

    /// Starts a server with `--simulated-nodes <nodes>` and `extra` flags (the controller
    /// manager must run) and waits until it has settled: see [`Cluster::wait_settled`].
    pub fn start_with_nodes(nodes: usize, extra: &[&str]) -> Self {
        let count = nodes.to_string();
        let mut args = vec!["--simulated-nodes", count.as_str()];
        args.extend_from_slice(extra);
        let c = Self::start_with(&args);
        c.wait_settled(nodes);
        c
    }

    /// Waits (up to two minutes) until what a server with simulated nodes starts after
    /// `/readyz` answers is there: every simulated node `sim-0`..`sim-<nodes-1>` is
    /// registered and Ready, and the `default` ServiceAccount of namespace `default`
    /// exists (so the controllers run and pods can be admitted).
    pub fn wait_settled(&self, nodes: usize) {
        let deadline = Instant::now() + SETTLE_PATIENCE;
        let missing = loop {
            match self.settled(nodes) {
                Ok(()) => return,
                Err(m) if Instant::now() > deadline => break m,
                Err(_) => std::thread::sleep(Duration::from_millis(250)),
            }
        };
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        panic!(
            "the cluster did not settle within {}s: {missing}; server log tail:\n{}",
            SETTLE_PATIENCE.as_secs(),
            lines[lines.len().saturating_sub(60)..].join("\n")
        );
    }

    /// `Ok` once [`Cluster::wait_settled`] may return, else what is still missing.
    fn settled(&self, nodes: usize) -> Result<(), String> {
        if nodes > 0 {
            let out = self.kubectl(&["get", "nodes", "-o", "json"]);
            if !out.status.success() {
                return Err(format!("cannot list nodes: {}", stderr(&out).trim()));
            }
            let list: Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
            let items = list["items"].as_array().cloned().unwrap_or_default();
            for i in 0..nodes {
                let name = format!("sim-{i}");
                let node = items
                    .iter()
                    .find(|n| n["metadata"]["name"] == name.as_str())
                    .ok_or_else(|| format!("node {name} not registered"))?;
                let ready = node["status"]["conditions"]
                    .as_array()
                    .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"));
                if !ready {
                    return Err(format!("node {name} not Ready"));
                }
            }
        }
        let out = self.kubectl(&["get", "serviceaccount", "default", "-n", "default", "-o", "name"]);
        if !out.status.success() {
            return Err("no ServiceAccount default/default".into());
        }
        Ok(())
    }

    /// The data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The admin kubeconfig the server wrote.
    pub fn kubeconfig(&self) -> PathBuf {
        self.data_dir().join("kubeconfig.yaml")
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("server.log"))
            .unwrap();
        // Loopback only, unless the test asks for another address.
        let bind = (!self.extra_args.iter().any(|a| a == "--bind-address"))
            .then_some(["--bind-address", "127.0.0.1"]);
        let child = Command::new(krust_bin())
            .arg("server")
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(bind.into_iter().flatten())
            .arg("--https-listen-port")
            .arg(self.port.to_string())
            .args((!self.agent).then_some("--disable-agent"))
            .args(&self.extra_args)
            .env("KRUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", krust_bin().display()));
        self.child = Some(child);
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// Waits until `/readyz` answers ok.
    pub fn wait_ready(&mut self) {
        let log_from = self.log().len();
        if let Err(e) = self.try_wait_ready(log_from) {
            panic!("{}", e.message);
        }
    }

    /// Waits until `/readyz` answers ok; fails if the server exits first or is not ready
    /// within a minute. `log_from`: where this start's part of the log begins.
    fn try_wait_ready(&mut self, log_from: usize) -> Result<(), StartError> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                self.child = None;
                let log = self.log();
                let lower = log.get(log_from..).unwrap_or(&log).to_lowercase();
                return Err(StartError {
                    port_taken: lower.contains("address already in use") || lower.contains("addrinuse"),
                    message: format!("krust exited early ({status}); log:\n{log}"),
                });
            }
            if self.kubeconfig().exists() {
                let out = self.kubectl(&["get", "--raw", "/readyz"]);
                if out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "ok" {
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                return Err(StartError {
                    port_taken: false,
                    message: format!("krust not ready after 60s; log:\n{}", self.log()),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server with SIGTERM and waits for it to exit; returns whether it exited 0.
    pub fn stop(&mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return true;
        };
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return status.success();
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the server with SIGKILL.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same data dir and port (the kubeconfig names the
    /// port). Should another process have taken the port meanwhile, tries again a few
    /// times, a second apart, in case it lets it go.
    pub fn restart(&mut self) {
        let mut attempt = 1;
        loop {
            // Only this start's part of the log decides whether the port was taken.
            let log_from = self.log().len();
            self.spawn();
            match self.try_wait_ready(log_from) {
                Ok(()) => return,
                Err(e) if attempt < START_ATTEMPTS && e.port_taken => {
                    eprintln!(
                        "krust could not bind port {} again (attempt {attempt}); retrying",
                        self.port
                    );
                    attempt += 1;
                    std::thread::sleep(Duration::from_secs(1));
                }
                Err(e) => panic!("{}", e.message),
            }
        }
    }

    fn kubectl_cmd(&self, bin: &Path) -> Command {
        let mut c = Command::new(bin);
        c.arg("--kubeconfig")
            .arg(self.kubeconfig())
            .arg("--cache-dir")
            .arg(self.dir.path().join("kubecache"))
            .env("HOME", self.dir.path());
        c
    }

    /// Runs the `kubectl` on PATH (the version dispatcher).
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_cmd(Path::new("kubectl"))
            .args(args)
            .output()
            .unwrap()
    }

    /// Runs kubectl with stdin.
    pub fn kubectl_stdin(&self, args: &[&str], stdin: &str) -> Output {
        run_with_stdin(self.kubectl_cmd(Path::new("kubectl")).args(args), stdin)
    }

    /// Runs a specific kubectl binary.
    pub fn kubectl_with(&self, bin: &Path, args: &[&str]) -> Output {
        self.kubectl_cmd(bin).args(args).output().unwrap()
    }

    /// Runs a specific kubectl binary with stdin.
    pub fn kubectl_with_stdin(&self, bin: &Path, args: &[&str], stdin: &str) -> Output {
        run_with_stdin(self.kubectl_cmd(bin).args(args), stdin)
    }

    /// Runs kubectl and returns stdout, failing the test (with stderr) if it fails.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}\n{}",
            stderr(&out),
            stdout(&out)
        );
        stdout(&out)
    }

    /// Runs kubectl with stdin, which must succeed.
    pub fn ok_stdin(&self, args: &[&str], input: &str) -> String {
        let out = self.kubectl_stdin(args, input);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}\n{}",
            stderr(&out),
            stdout(&out)
        );
        stdout(&out)
    }

    /// Runs kubectl, which must fail; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            !out.status.success(),
            "kubectl {args:?} should have failed; stdout: {}",
            stdout(&out)
        );
        stderr(&out)
    }

    /// `kubectl get ... -o json` parsed.
    pub fn get_json(&self, args: &[&str]) -> Value {
        let mut a = vec!["get"];
        a.extend_from_slice(args);
        a.extend_from_slice(&["-o", "json"]);
        serde_json::from_str(&self.ok(&a)).unwrap()
    }

    /// Runs a Python script from `tests/python/` with the kubeconfig as first argument.
    pub fn python(&self, script: &str, args: &[&str]) -> Output {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/python")
            .join(script);
        Command::new(python())
            .arg(path)
            .arg(self.kubeconfig())
            .args(args)
            .output()
            .unwrap()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.agent && self.child.is_some() {
            // Pods first, so the agent stops their containers and tears their network down.
            let _ = self.kubectl(&[
                "delete",
                "pods",
                "--all",
                "--all-namespaces",
                "--grace-period=1",
                "--timeout=60s",
            ]);
            self.stop();
        }
        self.kill9();
        if self.agent {
            node_cleanup(&self.data_dir());
        }
    }
}

/// Removes whatever a node agent under `data_dir` left behind: containers still known to
/// its runc, containerd and shims, mounts below the data directory, the pod bridge, the
/// cluster DNS address's link, the NAT and service proxy tables.
pub fn node_cleanup(data_dir: &Path) {
    node_processes_cleanup(data_dir);
    for link in ["krust0", "krust-dns"] {
        let _ = Command::new("ip").args(["link", "del", link]).output();
    }
    for table in ["krust-node", "krust-proxy"] {
        let _ = Command::new("nft")
            .args(["delete", "table", "ip", table])
            .output();
    }
}

/// Removes the containers, runtime processes and mounts of a node agent under
/// `data_dir`, leaving network links and tables alone (for an agent that ran in a network
/// namespace of its own, which goes with them).
pub fn node_processes_cleanup(data_dir: &Path) {
    let runc_root = data_dir.join("agent/run/containerd/runc/k8s.io");
    let list = Command::new("runc")
        .arg("--root")
        .arg(&runc_root)
        .args(["list", "-q"])
        .output();
    for id in list.map(|o| stdout(&o)).unwrap_or_default().lines() {
        let _ = Command::new("runc")
            .arg("--root")
            .arg(&runc_root)
            .args(["delete", "--force", id])
            .output();
    }
    let _ = Command::new("pkill")
        .arg("-KILL")
        .arg("-f")
        .arg(data_dir.join("agent/run"))
        .status();
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let prefix = data_dir.display().to_string();
    let mut ours: Vec<&str> = mounts
        .lines()
        .filter_map(|l| l.split(' ').nth(1))
        .filter(|m| m.starts_with(&prefix))
        .collect();
    ours.sort_by_key(|m| std::cmp::Reverse(m.len()));
    for m in ours {
        let _ = Command::new("umount").arg("-l").arg(m).status();
    }
}

fn run_with_stdin(cmd: &mut Command, input: &str) -> Output {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

/// Stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Writes a self-signed ECDSA certificate and key (`<stem>.crt`, `<stem>.key`) into `dir`,
/// for `cn` with one subject alternative name (`IP:127.0.0.1`, `DNS:api.ns.svc`), as test
/// servers that krust calls (webhooks, extension API servers) need.
pub fn self_signed_cert(dir: &Path, stem: &str, cn: &str, san: &str) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join(format!("{stem}.crt")), dir.join(format!("{stem}.key")));
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
        ])
        .args([
            "-subj",
            &format!("/CN={cn}"),
            "-addext",
            &format!("subjectAltName={san}"),
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cert, key)
}

/// Starts one of the Python test servers in `tests/python` with `args` and waits for the
/// `ready` line it prints once listening.
pub fn spawn_python_server(script: &str, args: &[&std::ffi::OsStr]) -> Child {
    use std::io::BufRead;
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python")
        .join(script);
    let mut child = Command::new(python())
        .arg(path)
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready", "{script} did not start");
    child
}

/// A free TCP port on 127.0.0.1 for a test server.
pub fn free_local_port() -> u16 {
    free_port()
}
