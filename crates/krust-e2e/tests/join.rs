//! A second machine joins: `krust token create` on the server, `krust agent --server URL
//! --token TOKEN` elsewhere (here: another data dir). The agent downloads the CA from
//! `/cacerts`, checks it against the token's hash, gets its client certificate through a
//! CertificateSigningRequest that the controller manager approves and signs, and runs with
//! it.
//!
//! The join tests point the agent at a container runtime that does not exist, so that it
//! exits right after joining (no root or containerd needed). The node test at the end runs
//! the whole agent with containerd, as root, and checks that its Node registers.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use krust_e2e::{Cluster, krust_bin, stderr, stdout};

/// A runtime socket nobody listens on: the agent fails at once after joining.
const NO_RUNTIME: &str = "unix:///nonexistent/krust-join-test.sock";

fn create_token(c: &Cluster, extra: &[&str]) -> String {
    let out = Command::new(krust_bin())
        .args(["token", "create", "--data-dir"])
        .arg(c.data_dir())
        .args(extra)
        .output()
        .unwrap();
    assert!(out.status.success(), "token create failed: {}", stderr(&out));
    let token = stdout(&out).trim().to_string();
    assert!(token.starts_with("K10"), "{token}");
    token
}

fn server_url(c: &Cluster) -> String {
    format!("https://127.0.0.1:{}", c.port)
}

/// A fresh log file for one agent run, beside its data dir (a file, not a pipe: a running
/// agent must never block on a full pipe).
fn new_log(dir: &Path) -> PathBuf {
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let stem = dir.file_name().unwrap().to_string_lossy().into_owned();
    dir.with_file_name(format!("{stem}-agent-{n}.log"))
}

fn spawn_agent(c: &Cluster, dir: &Path, token: Option<&str>, extra: &[&str], log: &Path) -> Child {
    let mut cmd = Command::new(krust_bin());
    cmd.args(["agent", "--server", &server_url(c), "--node-name", "joined"])
        .arg("--data-dir")
        .arg(dir)
        .args(extra)
        .env("KRUST_LOG", "info")
        .env("RUST_BACKTRACE", "0")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap());
    if let Some(t) = token {
        cmd.args(["--token", t]);
    }
    cmd.spawn().unwrap()
}

/// Runs an agent that cannot reach a container runtime: it joins (or fails to) and exits.
/// Returns whether it exited 0, and its log.
fn agent_join_only(c: &Cluster, dir: &Path, token: Option<&str>) -> (bool, String) {
    let log = new_log(dir);
    let extra = ["--container-runtime-endpoint", NO_RUNTIME];
    let mut child = spawn_agent(c, dir, token, &extra, &log);
    let deadline = Instant::now() + Duration::from_secs(90);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let ok = child.wait().unwrap().success();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    (ok, text)
}

fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn kubectl_as(kubeconfig: &Path, args: &[&str]) -> Output {
    let kubectl = krust_e2e::kubectl_dir()
        .map(|d| d.join("kubectl"))
        .unwrap_or_else(|| PathBuf::from("kubectl"));
    Command::new(kubectl)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn an_agent_joins_with_a_token_and_reuses_its_certificate() {
    let c = Cluster::start_with(&[]);
    // The CA is public, as k3s serves it.
    let token = create_token(&c, &["--description", "join test"]);
    let id = token
        .rsplit("::")
        .next()
        .unwrap()
        .split('.')
        .next()
        .unwrap()
        .to_string();
    let secret = c.get_json(&["secret", "-n", "kube-system", &format!("bootstrap-token-{id}")]);
    assert_eq!(secret["type"], "bootstrap.kubernetes.io/token");
    let listed = Command::new(krust_bin())
        .args(["token", "list", "--data-dir"])
        .arg(c.data_dir())
        .output()
        .unwrap();
    assert!(stdout(&listed).contains(&id), "{}", stderr(&listed));

    let dir = tempfile::tempdir().unwrap();
    let (ok, log) = agent_join_only(&c, dir.path(), Some(&token));
    assert!(
        log.contains("joined the cluster"),
        "agent log:\n{log}\nserver log:\n{}",
        c.log()
    );
    // It ran on into the node agent, which found no runtime.
    assert!(!ok);

    let agent_dir = dir.path().join("agent");
    let kubeconfig = agent_dir.join("kubelet.kubeconfig");
    assert_eq!(mode(&agent_dir.join("client-kubelet.key")), 0o600);
    assert_eq!(mode(&kubeconfig), 0o600);

    // The CSR: made by the bootstrap token user, approved and signed.
    let csrs = c.get_json(&["csr"]);
    let items = csrs["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{csrs}");
    let csr = &items[0];
    assert_eq!(csr["spec"]["username"], format!("system:bootstrap:{id}"));
    assert_eq!(
        csr["spec"]["signerName"],
        "kubernetes.io/kube-apiserver-client-kubelet"
    );
    let approved = csr["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["type"] == "Approved" && c["status"] == "True");
    assert!(approved && csr["status"]["certificate"].is_string(), "{csr}");

    // The agent's own credentials work, as the node's user.
    let whoami = kubectl_as(&kubeconfig, &["auth", "whoami", "-o", "json"]);
    assert!(whoami.status.success(), "{}", stderr(&whoami));
    let who: serde_json::Value = serde_json::from_slice(&whoami.stdout).unwrap();
    assert_eq!(who["status"]["userInfo"]["username"], "system:node:joined");
    let groups = who["status"]["userInfo"]["groups"].to_string();
    assert!(groups.contains("system:nodes"), "{groups}");

    // A later start needs no token: it reuses the certificate.
    let (_, again) = agent_join_only(&c, dir.path(), None);
    assert!(again.contains("using the saved node credentials"), "{}", again);
    assert_eq!(c.get_json(&["csr"])["items"].as_array().unwrap().len(), 1);

    // Deleted: the token no longer authenticates.
    let deleted = Command::new(krust_bin())
        .args(["token", "delete", &id, "--data-dir"])
        .arg(c.data_dir())
        .output()
        .unwrap();
    assert!(deleted.status.success(), "{}", stderr(&deleted));
    let fresh = tempfile::tempdir().unwrap();
    let refused = refused_until_cache_catches_up(&c, fresh.path(), &token);
    assert!(refused.contains("401"), "{refused}");
}

/// Joins with `token` until the agent is refused (a deletion reaches the server's cache
/// a moment after the API answers); returns the agent's log.
fn refused_until_cache_catches_up(c: &Cluster, dir: &Path, token: &str) -> String {
    for _ in 0..20 {
        let (_, log) = agent_join_only(c, dir, Some(token));
        if log.contains("401") {
            return log;
        }
        let _ = std::fs::remove_dir_all(dir.join("agent"));
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the token was never refused")
}

#[test]
fn wrong_ca_hash_and_bad_tokens_are_refused() {
    let c = Cluster::start_with(&[]);
    let token = create_token(&c, &[]);
    let (_, rest) = token.split_once("::").unwrap();

    // Another CA's hash: refused before anything is sent.
    let dir = tempfile::tempdir().unwrap();
    let forged = format!("K10{}::{rest}", "0".repeat(64));
    let (ok, log) = agent_join_only(&c, dir.path(), Some(&forged));
    assert!(!ok);
    assert!(log.contains("refusing to join"), "{log}");
    assert!(!dir.path().join("agent/kubelet.kubeconfig").exists());

    // The right CA, a wrong secret: 401.
    let (hash, _) = token.split_once("::").unwrap();
    let id = rest.split('.').next().unwrap();
    let wrong = format!("{hash}::{id}.{}", "z".repeat(16));
    let (_, log) = agent_join_only(&c, dir.path(), Some(&wrong));
    assert!(log.contains("401"), "{log}");

    // Expired: 401.
    let short = create_token(&c, &["--ttl", "1s"]);
    std::thread::sleep(Duration::from_millis(1500));
    let (_, log) = agent_join_only(&c, dir.path(), Some(&short));
    assert!(log.contains("401"), "{log}");

    // Without any token there is nothing to join with.
    let (_, log) = agent_join_only(&c, dir.path(), None);
    assert!(log.contains("--token"), "{log}");
    assert_eq!(c.get_json(&["csr"])["items"].as_array().unwrap().len(), 0);

    // Who asked comes from authentication, never from the body; a request for a node's
    // certificate with a subject that is not a node's is denied with the reason.
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k.pem");
    let req = dir.path().join("r.pem");
    let openssl = Command::new("openssl")
        .args([
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ])
        .arg("-keyout")
        .arg(&key)
        .args(["-subj", "/CN=system:node:x/O=system:masters", "-out"])
        .arg(&req)
        .output();
    if openssl.is_ok_and(|o| o.status.success()) {
        use base64::Engine as _;
        let pem = std::fs::read(&req).unwrap();
        let request = base64::engine::general_purpose::STANDARD.encode(pem);
        c.ok_stdin(
            &["apply", "-f", "-"],
            &format!(
                "apiVersion: certificates.k8s.io/v1\nkind: CertificateSigningRequest\nmetadata: {{name: forged}}\n\
                 spec:\n  request: {request}\n  signerName: kubernetes.io/kube-apiserver-client-kubelet\n  \
                 usages: [digital signature, client auth]\n  username: system:bootstrap:zzzzzz\n  \
                 groups: [system:bootstrappers]\n"
            ),
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let csr = c.get_json(&["csr", "forged"]);
            assert_eq!(csr["spec"]["username"], "admin", "{csr}");
            let denied = csr["status"]["conditions"].as_array().and_then(|cs| {
                cs.iter()
                    .find(|c| c["type"] == "Denied")
                    .map(|c| c["message"].to_string())
            });
            if let Some(message) = denied {
                assert!(message.contains("organizations"), "{message}");
                assert!(csr["status"]["certificate"].is_null(), "{csr}");
                break;
            }
            assert!(Instant::now() < deadline, "never denied: {csr}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

#[test]
fn joined_agent_registers_its_node() {
    if let Err(why) = Cluster::node_prerequisites() {
        eprintln!("skipping: {why}");
        return;
    }
    let c = Cluster::start_with(&[]);
    let token = create_token(&c, &[]);
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("agent/images");
    std::fs::create_dir_all(&images).unwrap();
    krust_oci::write_image(
        &krust_oci::test_image(),
        Path::new(krust_oci::DEFAULT_BUSYBOX),
        &images.join("busybox.tar"),
    )
    .unwrap();
    let log = new_log(dir.path());
    let mut child = spawn_agent(&c, dir.path(), Some(&token), &[], &log);
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut registered = false;
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        let node = c.kubectl(&["get", "node", "joined", "-o", "json"]);
        if node.status.success() {
            let n: serde_json::Value = serde_json::from_slice(&node.stdout).unwrap();
            registered = n["status"]["conditions"]
                .as_array()
                .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"));
            if registered {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    // The joined node runs a pod with its own credentials.
    let mut ran = false;
    if registered {
        c.ok_stdin(
            &["apply", "-f", "-"],
            r#"
apiVersion: v1
kind: Pod
metadata: {name: on-joined}
spec:
  nodeName: joined
  containers:
  - name: main
    image: krust.io/busybox:1.35
    command: ["sleep", "3600"]
"#,
        );
        let deadline = Instant::now() + Duration::from_secs(90);
        while Instant::now() < deadline && !ran {
            let pod = c.get_json(&["pod", "on-joined"]);
            ran = pod["status"]["phase"] == "Running";
            std::thread::sleep(Duration::from_millis(200));
        }
        let _ = c.kubectl(&["delete", "pod", "on-joined", "--wait=true", "--timeout=60s"]);
    }
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let stop_deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() && Instant::now() < stop_deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    let agent_log = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    krust_e2e::node_cleanup(dir.path());
    assert!(
        registered,
        "node joined never became Ready; agent log:\n{agent_log}"
    );
    assert!(ran, "the pod on node joined never ran; agent log:\n{agent_log}");
}
