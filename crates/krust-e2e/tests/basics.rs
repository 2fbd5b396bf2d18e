//! The server starts, serves version, health, discovery and OpenAPI, and only lets
//! authenticated clients at the API.

// Test helpers may unwrap: a panic is a failed test.
#![allow(clippy::unwrap_used)]

use krust_e2e::{Cluster, stderr, stdout, versioned_kubectl};

#[test]
fn version_health_and_namespaces() {
    let c = Cluster::start();
    let v = c.ok(&["version", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&v).unwrap();
    assert_eq!(v["serverVersion"]["major"], "1");
    assert_eq!(v["serverVersion"]["minor"], "33");
    for path in ["/healthz", "/livez", "/readyz"] {
        assert_eq!(c.ok(&["get", "--raw", path]).trim(), "ok");
    }
    let ns = c.ok(&["get", "namespaces", "-o", "name"]);
    for n in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(ns.contains(&format!("namespace/{n}")), "{ns}");
    }
    let table = c.ok(&["get", "ns"]);
    assert!(table.starts_with("NAME"), "{table}");
    assert!(
        table.contains("STATUS") && table.contains("AGE") && table.contains("Active"),
        "{table}"
    );
}

#[test]
fn discovery_and_api_resources() {
    let c = Cluster::start();
    let out = c.ok(&["api-resources"]);
    for line in [
        "deployments",
        "deploy",
        "apps/v1",
        "horizontalpodautoscalers",
        "customresourcedefinitions",
        "leases",
    ] {
        assert!(out.contains(line), "api-resources lacks {line}:\n{out}");
    }
    let groups = c.ok(&["api-versions"]);
    for gv in [
        "apps/v1",
        "autoscaling/v2",
        "autoscaling/v1",
        "batch/v1",
        "events.k8s.io/v1",
        "v1",
    ] {
        assert!(
            groups.lines().any(|l| l == gv),
            "api-versions lacks {gv}:\n{groups}"
        );
    }
    let list: serde_json::Value = serde_json::from_str(&c.ok(&["get", "--raw", "/apis/apps/v1"])).unwrap();
    assert_eq!(list["kind"], "APIResourceList");
    assert!(
        list["resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "deployments/scale")
    );
    // Older kubectl only understands v2beta1 aggregated discovery.
    if let Some(k127) = versioned_kubectl("1.27") {
        let out = c.kubectl_with(&k127, &["api-resources"]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(stdout(&out).contains("deployments"));
        let out = c.kubectl_with(&k127, &["get", "ns", "default"]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
}

#[test]
fn explain_uses_openapi_v3() {
    let c = Cluster::start();
    let out = c.ok(&["explain", "deployment.spec.strategy"]);
    assert!(out.contains("KIND:") && out.contains("Deployment"), "{out}");
    assert!(out.contains("rollingUpdate"), "{out}");
    let pods = c.ok(&["explain", "pods.spec.containers.image"]);
    assert!(pods.contains("image"), "{pods}");
    let root: serde_json::Value = serde_json::from_str(&c.ok(&["get", "--raw", "/openapi/v3"])).unwrap();
    let apps = root["paths"]["apis/apps/v1"]["serverRelativeURL"]
        .as_str()
        .unwrap();
    assert!(apps.contains("hash="), "{apps}");
    let v2: serde_json::Value = serde_json::from_str(&c.ok(&["get", "--raw", "/openapi/v2"])).unwrap();
    assert_eq!(v2["swagger"], "2.0");
}

#[test]
fn whoami_and_can_i_list() {
    let c = Cluster::start();
    let who = c.ok(&["auth", "whoami"]);
    assert!(who.contains("admin") && who.contains("system:masters"), "{who}");
    let list = c.ok(&["auth", "can-i", "--list"]);
    assert!(list.contains("*.*"), "{list}");
    assert_eq!(c.ok(&["auth", "can-i", "delete", "nodes"]).trim(), "yes");
}

#[test]
fn anonymous_requests_are_rejected() {
    let c = Cluster::start();
    let out = c.python("raw.py", &["anonymous"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
}

#[test]
fn bearer_tokens_from_a_token_file() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens.csv");
    std::fs::write(&tokens, "s3cret-token,alice,uid-1,\"dev,ops\"\n").unwrap();
    let c = Cluster::start_with(&["--token-auth-file", tokens.to_str().unwrap()]);
    let out = c.python("raw.py", &["token", "s3cret-token"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
}
