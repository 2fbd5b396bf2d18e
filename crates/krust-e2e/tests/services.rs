//! Service networking end to end with real pods: the node agent's service proxy
//! (nftables) spreads ClusterIP traffic over the ready pods, serves NodePorts and
//! LoadBalancer addresses on the node, refuses services without endpoints; its cluster
//! DNS answers pods by service name. Needs root and the node packages (see tests/node.rs);
//! skips otherwise, saying why.
//!
//! Traffic stays on this machine: requests go to pod addresses routed through the pod
//! bridge, to the node's own addresses, or to a service address only once this node's
//! proxy table holds rules for it (so the packet is rewritten to a pod before it is routed).

// Test helpers may unwrap: a panic is a failed test.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

use krust_e2e::node::{self, raw_get, ready, tail};
use krust_e2e::{Cluster, stdout};
use serde_json::Value;

/// A hostPath directory the pods' readiness probes look in: a file named after a pod
/// makes that pod unready.
fn flags_dir(c: &Cluster) -> std::path::PathBuf {
    let d = c.data_dir().join("test-flags");
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn web(flags: &std::path::Path) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  replicas: 3
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
      - name: httpd
        image: krust.io/busybox:1.35
        command: ["sh", "-c", "mkdir -p /www && echo \"pod=$HOSTNAME\" > /www/index.html && exec httpd -f -p 8080 -h /www"]
        ports: [{{name: http, containerPort: 8080}}]
        readinessProbe:
          exec: {{command: ["sh", "-c", "test ! -e /flags/$HOSTNAME"]}}
          periodSeconds: 1
        volumeMounts: [{{name: flags, mountPath: /flags}}]
      volumes:
      - name: flags
        hostPath: {{path: {flags}, type: Directory}}
---
apiVersion: v1
kind: Service
metadata: {{name: web}}
spec:
  selector: {{app: web}}
  ports: [{{name: http, port: 80, targetPort: http}}]
---
apiVersion: v1
kind: Service
metadata: {{name: web-np}}
spec:
  type: NodePort
  selector: {{app: web}}
  ports: [{{port: 80, targetPort: 8080}}]
---
apiVersion: v1
kind: Service
metadata: {{name: web-lb}}
spec:
  type: LoadBalancer
  selector: {{app: web}}
  ports: [{{port: 18080, targetPort: 8080}}]
---
apiVersion: v1
kind: Service
metadata: {{name: nobody}}
spec:
  selector: {{app: nobody}}
  ports: [{{port: 80}}]
---
apiVersion: v1
kind: Service
metadata: {{name: web-headless}}
spec:
  clusterIP: None
  selector: {{app: web}}
  ports: [{{name: http, port: 8080}}]
"#,
        flags = flags.display()
    )
}

/// Whether this node's proxy table has rules for `ip` (so traffic to it is rewritten
/// to a pod, or refused, on this machine).
fn proxied(ip: &str) -> bool {
    Command::new("nft")
        .args(["list", "table", "ip", "krust-proxy"])
        .output()
        .is_ok_and(|o| stdout(&o).contains(ip))
}

/// Whether `ip` is one of this machine's own addresses.
fn local(ip: &str) -> bool {
    Command::new("ip")
        .args(["route", "get", ip])
        .output()
        .is_ok_and(|o| stdout(&o).starts_with("local "))
}

/// GET `/` through a service address (only once it is proxied here).
fn via_service(ip: &str, port: u16) -> std::io::Result<String> {
    if !proxied(ip) && !local(ip) {
        return Err(std::io::Error::other(format!(
            "{ip} has no rules on this node yet"
        )));
    }
    raw_get(ip, port, "/")
}

/// The pod names that answered `n` requests to `ip:port`.
fn answering(ip: &str, port: u16, n: usize) -> BTreeSet<String> {
    (0..n)
        .filter_map(|_| via_service(ip, port).ok())
        .filter_map(|page| {
            page.lines()
                .find_map(|l| l.strip_prefix("pod=").map(String::from))
        })
        .collect()
}

fn wait_until<T>(c: &Cluster, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not happen; log tail:\n{}",
            tail(&c.log())
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn ready_pods(c: &Cluster) -> Vec<Value> {
    let list = c.get_json(&["pods", "-l", "app=web"]);
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| ready(p) && p["metadata"]["deletionTimestamp"].is_null())
        .cloned()
        .collect()
}

fn service(c: &Cluster, name: &str) -> Value {
    c.get_json(&["service", name])
}

#[test]
fn services_spread_over_ready_pods_on_cluster_ips_node_ports_and_load_balancers() {
    let Some(c) = node::node_cluster(&[]) else { return };
    let flags = flags_dir(&c);
    c.ok_stdin(&["apply", "-f", "-"], &web(&flags));
    let pods = wait_until(&c, "three ready web pods", || {
        let p = ready_pods(&c);
        (p.len() == 3).then_some(p)
    });
    let names: BTreeSet<String> = pods
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    let cluster_ip = service(&c, "web")["spec"]["clusterIP"]
        .as_str()
        .unwrap()
        .to_string();

    // ClusterIP: every ready pod answers in turn (random choice: 60 tries, 3 pods).
    let seen = wait_until(&c, "all three pods answering on the ClusterIP", || {
        let seen = answering(&cluster_ip, 80, 60);
        (seen == names).then_some(seen)
    });
    assert_eq!(seen, names);

    // A pod that fails its readiness probe gets no more traffic (and is not restarted).
    let out = names.iter().next().unwrap().clone();
    std::fs::write(flags.join(&out), "").unwrap();
    wait_until(&c, "the unready pod left the ClusterIP's answers", || {
        let seen = answering(&cluster_ip, 80, 40);
        (seen.len() == 2 && !seen.contains(&out)).then_some(())
    });
    std::fs::remove_file(flags.join(&out)).unwrap();
    wait_until(&c, "the pod back once ready again", || {
        answering(&cluster_ip, 80, 60).contains(&out).then_some(())
    });

    // NodePort on the node's address.
    let node = c.get_json(&["nodes"]);
    let node_ip = node["items"][0]["status"]["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["type"] == "InternalIP")
        .unwrap()["address"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(local(&node_ip), "{node_ip} is this machine's");
    let node_port = service(&c, "web-np")["spec"]["ports"][0]["nodePort"]
        .as_u64()
        .unwrap() as u16;
    wait_until(&c, "answers on the NodePort", || {
        (answering(&node_ip, node_port, 30) == names).then_some(())
    });

    // LoadBalancer: the built-in load balancer gives it the node's address, where its
    // port answers.
    let lb_ip = wait_until(&c, "a LoadBalancer address", || {
        service(&c, "web-lb")["status"]["loadBalancer"]["ingress"][0]["ip"]
            .as_str()
            .map(String::from)
    });
    assert_eq!(lb_ip, node_ip);
    wait_until(&c, "answers on the LoadBalancer address", || {
        (answering(&lb_ip, 18080, 30) == names).then_some(())
    });

    // A service without endpoints refuses connections at once.
    let nobody = service(&c, "nobody")["spec"]["clusterIP"]
        .as_str()
        .unwrap()
        .to_string();
    let err = wait_until(&c, "the endpoint-less service refused", || {
        via_service(&nobody, 80)
            .err()
            .filter(|e| e.kind() == std::io::ErrorKind::ConnectionRefused)
    });
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);

    // Pods reach the service by name through the cluster DNS, and the headless service
    // resolves to the pods' own addresses.
    let pod_ips: BTreeSet<String> = ready_pods(&c)
        .iter()
        .map(|p| p["status"]["podIP"].as_str().unwrap().to_string())
        .collect();
    c.ok_stdin(
        &["apply", "-f", "-"],
        r#"apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: krust.io/busybox:1.35
    command: ["sh", "-c"]
    args:
    - |
      cat /etc/resolv.conf
      nslookup web.default.svc.cluster.local
      nslookup web-headless
      echo "page: $(wget -q -O- http://web/)"
      nslookup no-such-service.default.svc.cluster.local || echo "lookup failed as it should"
"#,
    );
    let done = c.wait_pod("client", "Succeeded", |v| node::phase(v) == "Succeeded");
    assert_eq!(node::phase(&done), "Succeeded");
    let log = c.ok(&["logs", "client"]);
    assert!(log.contains("nameserver 10.43.0.10"), "{log}");
    assert!(
        log.contains("search default.svc.cluster.local svc.cluster.local cluster.local"),
        "{log}"
    );
    assert!(log.contains("options ndots:5"), "{log}");
    assert!(log.contains(&format!("Address: {cluster_ip}")), "{log}");
    for ip in &pod_ips {
        assert!(
            log.contains(&format!("Address: {ip}")),
            "headless answer lacks {ip}:\n{log}"
        );
    }
    assert!(
        log.contains("page: pod="),
        "a pod reached the service by name:\n{log}"
    );
    assert!(log.contains("lookup failed as it should"), "{log}");
}
