//! Two nodes on one machine: `krust server` with its node agent, and a second machine
//! made of a network namespace joined over a veth pair, running `krust agent`. Pods on
//! the two nodes reach each other directly (routes to each node's pod subnet through its
//! address) and through Services whose only endpoint is on the other node, by name.
//! Needs root and the node packages (see tests/node.rs); skips otherwise, saying why.
//!
//! Traffic stays on this machine: the second node's addresses (10.200.0.2 and its pod
//! subnet) live in the network namespace this test creates.

// Test helpers may unwrap: a panic is a failed test.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use krust_e2e::node::{phase, raw_get, ready, tail};
use krust_e2e::{Cluster, krust_bin, stderr, stdout};
use serde_json::Value;

const NETNS: &str = "krust-e2e-n2";
const HOST_VETH: &str = "krn2h";
const NS_VETH: &str = "krn2n";
const HOST_IP: &str = "10.200.0.1";
const NS_IP: &str = "10.200.0.2";

fn run(args: &[&str]) -> Result<String, String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(stdout(&out))
    } else {
        Err(format!("{}: {}", args.join(" "), stderr(&out)))
    }
}

/// The second machine's network: a namespace with one end of a veth pair; removed
/// (with everything in it) on drop.
struct Netns;

impl Netns {
    fn create() -> Result<Self, String> {
        // A namespace left by an aborted run goes first.
        drop(Netns);
        run(&["ip", "netns", "add", NETNS])?;
        let made = Netns;
        run(&[
            "ip", "link", "add", HOST_VETH, "type", "veth", "peer", "name", NS_VETH,
        ])?;
        run(&["ip", "link", "set", NS_VETH, "netns", NETNS])?;
        run(&["ip", "addr", "add", &format!("{HOST_IP}/24"), "dev", HOST_VETH])?;
        run(&["ip", "link", "set", HOST_VETH, "up"])?;
        for cmd in [
            vec!["ip", "addr", "add", &format!("{NS_IP}/24"), "dev", NS_VETH],
            vec!["ip", "link", "set", NS_VETH, "up"],
            vec!["ip", "link", "set", "lo", "up"],
        ] {
            let mut full = vec!["ip", "netns", "exec", NETNS];
            full.extend(cmd.iter().map(|s| &**s));
            run(&full)?;
        }
        Ok(made)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", NETNS]).output();
        let _ = Command::new("ip").args(["link", "del", HOST_VETH]).output();
    }
}

/// `krust agent` inside the namespace; stopped and cleaned up on drop.
struct Agent {
    child: Child,
    dir: PathBuf,
    log: PathBuf,
}

impl Agent {
    fn start(c: &Cluster, dir: &Path) -> Self {
        let out = Command::new(krust_bin())
            .args(["token", "create", "--data-dir"])
            .arg(c.data_dir())
            .output()
            .unwrap();
        assert!(out.status.success(), "token create: {}", stderr(&out));
        let token = stdout(&out).trim().to_string();
        krust_e2e::write_test_image(dir);
        let log = dir.with_extension("log");
        let resolv = dir.with_extension("resolv.conf");
        std::fs::write(&resolv, krust_e2e::TEST_RESOLV_CONF).unwrap();
        // nsenter rather than `ip netns exec`, which would also give the agent a fresh
        // /sys without the cgroup mounts runc needs.
        let child = Command::new("nsenter")
            .arg(format!("--net=/run/netns/{NETNS}"))
            .arg("--")
            .arg(krust_bin())
            .args(["agent", "--server", &format!("https://{HOST_IP}:{}", c.port)])
            .args(["--token", &token, "--node-name", "n2", "--node-ip", NS_IP])
            .arg("--data-dir")
            .arg(dir)
            .arg("--resolv-conf")
            .arg(&resolv)
            .env("KRUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Self {
            child,
            dir: dir.to_path_buf(),
            log,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        krust_e2e::node_processes_cleanup(&self.dir);
    }
}

fn wait_until<T>(what: &str, logs: impl Fn() -> String, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "{what} did not happen;\n{}", logs());
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn node_ready(c: &Cluster, name: &str) -> bool {
    let out = c.kubectl(&["get", "node", name, "-o", "json"]);
    if !out.status.success() {
        return false;
    }
    let n: Value = serde_json::from_slice(&out.stdout).unwrap();
    let condition = |t: &str, s: &str| {
        n["status"]["conditions"]
            .as_array()
            .is_some_and(|cs| cs.iter().any(|c| c["type"] == t && c["status"] == s))
    };
    n["spec"]["podCIDR"].is_string() && condition("Ready", "True") && condition("NetworkUnavailable", "False")
}

/// An httpd pod on `node` answering `I am <name>`, and a Service for it alone.
fn server_pod(name: &str, node: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Pod
metadata: {{name: {name}, labels: {{app: {name}}}}}
spec:
  nodeSelector: {{kubernetes.io/hostname: {node}}}
  containers:
  - name: httpd
    image: krust.io/busybox:1.35
    command: ["sh", "-c", "mkdir -p /www && echo 'I am {name}' > /www/index.html && exec httpd -f -p 8080 -h /www"]
    ports: [{{containerPort: 8080}}]
    readinessProbe:
      tcpSocket: {{port: 8080}}
      periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata: {{name: {name}-svc}}
spec:
  selector: {{app: {name}}}
  ports: [{{port: 80, targetPort: 8080}}]
"#
    )
}

/// A pod on `node` that succeeds once every URL answered with the other pod's greeting.
fn client_pod(name: &str, node: &str, urls: &[String], want: &str) -> String {
    let checks: Vec<String> = urls
        .iter()
        .map(|u| format!("until timeout 5 wget -q -O- {u} | grep -q '{want}'; do n=$((n+1)); [ $n -gt 60 ] && echo failed {u} && exit 1; sleep 1; done; echo reached {u}"))
        .collect();
    format!(
        r#"apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  nodeSelector: {{kubernetes.io/hostname: {node}}}
  restartPolicy: Never
  containers:
  - name: c
    image: krust.io/busybox:1.35
    command: ["sh", "-c", "n=0; {}"]
"#,
        checks.join("; ")
    )
}

#[test]
fn pods_on_two_nodes_reach_each_other_and_each_others_services() {
    if let Err(why) = Cluster::node_prerequisites() {
        eprintln!("skipped: {why}");
        return;
    }
    let _netns = match Netns::create() {
        Ok(n) => n,
        Err(e) => {
            eprintln!("skipped: cannot make a network namespace: {e}");
            return;
        }
    };
    let c = Cluster::start_node(&[
        "--bind-address",
        "0.0.0.0",
        "--advertise-address",
        HOST_IP,
        "--tls-san",
        HOST_IP,
        "--node-ip",
        HOST_IP,
    ]);
    let host_node = c.get_json(&["nodes"])["items"][0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let agent_dir = tempfile::tempdir().unwrap();
    let agent = Agent::start(&c, &agent_dir.path().join("n2"));
    let logs = || format!("server:\n{}\nagent n2:\n{}", tail(&c.log()), tail(&agent.log()));
    wait_until("node n2 Ready with its pod network", logs, || {
        node_ready(&c, "n2").then_some(())
    });

    c.ok_stdin(&["apply", "-f", "-"], &server_pod("a", &host_node));
    c.ok_stdin(&["apply", "-f", "-"], &server_pod("b", "n2"));
    let pod_ip = |name: &str| {
        wait_until(&format!("pod {name} Running and ready"), logs, || {
            let out = c.kubectl(&["get", "pod", name, "-o", "json"]);
            let pod: Value = serde_json::from_slice(&out.stdout).ok()?;
            ready(&pod).then(|| pod["status"]["podIP"].as_str().unwrap().to_string())
        })
    };
    let (a_ip, b_ip) = (pod_ip("a"), pod_ip("b"));
    let subnet = |ip: &str| ip.rsplit_once('.').unwrap().0.to_string();
    assert_ne!(subnet(&a_ip), subnet(&b_ip), "each node has its own pod subnet");

    // This machine routes the second node's pod subnet through its address.
    let route = wait_until("a route to n2's pods", logs, || {
        let r = run(&["ip", "route", "get", &b_ip]).ok()?;
        r.contains(&format!("via {NS_IP} dev {HOST_VETH}")).then_some(r)
    });
    assert!(route.contains(HOST_VETH), "{route}");
    let page = wait_until("n2's pod answering this machine", logs, || {
        raw_get(&b_ip, 8080, "/").ok()
    });
    assert!(page.contains("I am b"), "{page}");

    // Pod to pod and pod to a Service whose only endpoint is on the other node, by name,
    // both ways.
    let urls = |other: &str, ip: &str| {
        vec![
            format!("http://{ip}:8080/"),
            format!("http://{other}-svc/"),
            format!("http://{other}-svc.default.svc.cluster.local/"),
        ]
    };
    c.ok_stdin(
        &["apply", "-f", "-"],
        &client_pod("from-a", &host_node, &urls("b", &b_ip), "I am b"),
    );
    c.ok_stdin(
        &["apply", "-f", "-"],
        &client_pod("from-b", "n2", &urls("a", &a_ip), "I am a"),
    );
    for client in ["from-a", "from-b"] {
        let done = c.wait_pod(client, "finished", |p| matches!(phase(p), "Succeeded" | "Failed"));
        assert_eq!(
            phase(&done),
            "Succeeded",
            "{client} could not reach the other node's pod or service; its log:\n{}\n{}",
            stdout(&c.kubectl(&["logs", client])),
            logs()
        );
    }
    let log = c.ok(&["logs", "from-a"]);
    assert!(log.contains("reached http://b-svc/"), "{log}");
    // The joined node serves its pods' logs too (its serving certificate came through a
    // CSR the controller manager approved for the node's own addresses).
    let log = c.ok(&["logs", "from-b"]);
    assert!(log.contains("reached http://a-svc/"), "{log}");
    let csrs = c.ok(&["get", "csr"]);
    assert!(csrs.contains("kubernetes.io/kubelet-serving"), "{csrs}");
}
