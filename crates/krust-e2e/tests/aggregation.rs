//! API aggregation with the real kubectl: an APIService hands a group/version to a tiny
//! HTTPS extension server (tests/python/extension_server.py) behind a Service; krust checks
//! it, marks it Available, lists it in discovery and proxies requests with the caller's
//! identity; unreachable or misconfigured ones are reported, invalid ones refused, and
//! every built-in group/version has its Local APIService.

// Test helpers may unwrap: a panic is a failed test.
#![allow(clippy::unwrap_used)]

use std::process::Child;
use std::time::{Duration, Instant};

use base64::Engine;
use krust_e2e::{Cluster, free_local_port, self_signed_cert, spawn_python_server, stderr};

const API_ONLY: &[&str] = &["--disable-controller-manager", "--disable-scheduler"];

struct Extension {
    child: Child,
    port: u16,
    ca_b64: String,
}

impl Drop for Extension {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the extension server trusting the front proxy credentials krust published in
/// `kube-system/extension-apiserver-authentication`.
fn start_extension(c: &Cluster) -> Extension {
    let dir = c.dir.path();
    let auth = c.get_json(&[
        "configmap",
        "extension-apiserver-authentication",
        "-n",
        "kube-system",
    ]);
    let client_ca = dir.join("requestheader-ca.crt");
    std::fs::write(
        &client_ca,
        auth["data"]["requestheader-client-ca-file"].as_str().unwrap(),
    )
    .unwrap();
    let allowed: Vec<String> =
        serde_json::from_str(auth["data"]["requestheader-allowed-names"].as_str().unwrap()).unwrap();
    assert_eq!(
        auth["data"]["requestheader-username-headers"],
        "[\"X-Remote-User\"]"
    );
    let (cert, key) = self_signed_cert(dir, "ext", "ext-api.default.svc", "DNS:ext-api.default.svc");
    let port = free_local_port();
    let child = spawn_python_server(
        "extension_server.py",
        &[
            port.to_string().as_ref(),
            cert.as_os_str(),
            key.as_os_str(),
            client_ca.as_os_str(),
            allowed[0].as_ref(),
        ],
    );
    let ca_b64 = base64::engine::general_purpose::STANDARD.encode(std::fs::read(&cert).unwrap());
    Extension { child, port, ca_b64 }
}

/// Service `ext-api` for the extension server. Endpoints may not be loopback addresses, so
/// it is an ExternalName Service naming 127.0.0.1, which the aggregator dials on the
/// APIService's port as upstream does.
fn external_service() -> String {
    "apiVersion: v1\nkind: Service\nmetadata: {name: ext-api}\nspec:\n  type: ExternalName\n  externalName: 127.0.0.1\n".to_string()
}

fn api_service(name: &str, group: &str, service: &str, port: u16, tls: &str) -> String {
    let version = name.split('.').next().unwrap();
    format!(
        "apiVersion: apiregistration.k8s.io/v1\nkind: APIService\nmetadata: {{name: {name}}}\nspec:\n  group: {group}\n  version: {version}\n  groupPriorityMinimum: 1000\n  versionPriority: 15\n  service: {{namespace: default, name: {service}, port: {port}}}\n{tls}"
    )
}

fn fails_stdin(c: &Cluster, args: &[&str], input: &str) -> String {
    let out = c.kubectl_stdin(args, input);
    assert!(!out.status.success(), "expected a failure of {args:?}");
    stderr(&out)
}

/// Waits until the APIService's Available condition reads `want` (e.g. `True`,
/// `False/ServiceNotFound`); returns the condition's message.
fn wait_available(c: &Cluster, name: &str, want: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let svc = c.get_json(&["apiservice", name]);
        let cond = &svc["status"]["conditions"][0];
        let got = match cond["status"].as_str() {
            Some("True") => "True".to_string(),
            Some(s) => format!("{s}/{}", cond["reason"].as_str().unwrap_or("")),
            None => "none".to_string(),
        };
        if got == want {
            return cond["message"].as_str().unwrap_or("").to_string();
        }
        assert!(Instant::now() < deadline, "{name} is {got}, not {want}: {svc}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn built_in_groups_have_local_api_services() {
    let c = Cluster::start_with(API_ONLY);
    let table = c.ok(&["get", "apiservices"]);
    let header = table.lines().next().unwrap();
    assert!(
        header.contains("NAME") && header.contains("SERVICE") && header.contains("AVAILABLE"),
        "{table}"
    );
    for name in ["v1.", "v1.apps", "v2.autoscaling", "v1.apiregistration.k8s.io"] {
        let line = table
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} missing:\n{table}"));
        assert!(line.contains("Local") && line.contains("True"), "{line}");
    }
    // A CRD's group/version gets one while it is served.
    let crd = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: things.example.com}\nspec:\n  group: example.com\n  scope: Namespaced\n  names: {kind: Thing, plural: things}\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}\n";
    c.ok_stdin(&["apply", "-f", "-"], crd);
    wait_available(&c, "v1.example.com", "True");
    c.ok(&["delete", "crd", "things.example.com"]);
    let deadline = Instant::now() + Duration::from_secs(120);
    while c
        .kubectl(&["get", "apiservice", "v1.example.com"])
        .status
        .success()
    {
        assert!(Instant::now() < deadline, "v1.example.com outlived its CRD");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn api_service_proxies_to_an_extension_server() {
    let c = Cluster::start_with(API_ONLY);
    let ext = start_extension(&c);
    c.ok_stdin(&["apply", "-f", "-"], &external_service());
    let tls = format!("  caBundle: {}\n", ext.ca_b64);
    c.ok_stdin(
        &["apply", "-f", "-"],
        &api_service(
            "v1alpha1.stats.example.com",
            "stats.example.com",
            "ext-api",
            ext.port,
            &tls,
        ),
    );
    assert_eq!(
        wait_available(&c, "v1alpha1.stats.example.com", "True"),
        "all checks passed"
    );
    let line = c
        .ok(&["get", "apiservices"])
        .lines()
        .find(|l| l.starts_with("v1alpha1.stats.example.com"))
        .unwrap()
        .to_string();
    assert!(
        line.contains("default/ext-api") && line.contains("True"),
        "{line}"
    );

    // Discovery lists the remote resources; kubectl reaches them through krust.
    let resources = c.ok(&["api-resources", "--api-group=stats.example.com"]);
    assert!(
        resources.contains("counters") && resources.contains("ctr") && resources.contains("Counter"),
        "{resources}"
    );
    let list = c.get_json(&["counters"]);
    assert_eq!(list["items"].as_array().unwrap().len(), 2, "{list}");
    let whoami: serde_json::Value = serde_json::from_str(&c.ok(&["auth", "whoami", "-o", "json"])).unwrap();
    assert_eq!(
        list["items"][0]["seenBy"], whoami["status"]["userInfo"]["username"],
        "the caller's identity reaches the extension server"
    );
    assert_eq!(c.get_json(&["ctr", "alpha"])["value"], 5);
    let err = c.fails(&["get", "counters", "gamma"]);
    assert!(err.contains("NotFound") || err.contains("not found"), "{err}");
    let group: serde_json::Value =
        serde_json::from_str(&c.ok(&["get", "--raw", "/apis/stats.example.com"])).unwrap();
    assert_eq!(
        group["preferredVersion"]["groupVersion"],
        "stats.example.com/v1alpha1"
    );

    // Gone with its APIService.
    c.ok(&["delete", "apiservice", "v1alpha1.stats.example.com"]);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let out = c.kubectl(&["get", "--raw", "/apis/stats.example.com/v1alpha1"]);
        if !out.status.success() {
            break;
        }
        assert!(Instant::now() < deadline, "group still served after deletion");
        std::thread::sleep(Duration::from_millis(200));
    }
    let resources = c.ok(&["api-resources"]);
    assert!(!resources.contains("stats.example.com"), "{resources}");
}

#[test]
fn unreachable_and_invalid_api_services_are_reported() {
    let c = Cluster::start_with(API_ONLY);
    let ext = start_extension(&c);
    c.ok_stdin(&["apply", "-f", "-"], &external_service());

    // No such Service.
    c.ok_stdin(
        &["apply", "-f", "-"],
        &api_service(
            "v1.missing.example.com",
            "missing.example.com",
            "nowhere",
            443,
            "  insecureSkipTLSVerify: true\n",
        ),
    );
    let msg = wait_available(&c, "v1.missing.example.com", "False/ServiceNotFound");
    assert!(msg.contains("nowhere"), "{msg}");
    let out = c.kubectl(&["get", "--raw", "/apis/missing.example.com/v1/things"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("ServiceUnavailable") || stderr(&out).contains("503"),
        "{}",
        stderr(&out)
    );

    // A caBundle that did not sign the server's certificate.
    let wrong_ca = base64::engine::general_purpose::STANDARD
        .encode(std::fs::read(c.data_dir().join("tls/server-ca.crt")).unwrap());
    c.ok_stdin(
        &["apply", "-f", "-"],
        &api_service(
            "v1alpha1.stats.example.com",
            "stats.example.com",
            "ext-api",
            ext.port,
            &format!("  caBundle: {wrong_ca}\n"),
        ),
    );
    let msg = wait_available(&c, "v1alpha1.stats.example.com", "False/FailedDiscoveryCheck");
    assert!(msg.contains("failing or missing response"), "{msg}");

    // Invalid registrations never reach the store.
    let err = fails_stdin(
        &c,
        &["apply", "-f", "-"],
        &api_service(
            "v1.wrong-name.example.com",
            "other.example.com",
            "ext-api",
            ext.port,
            "  insecureSkipTLSVerify: true\n",
        ),
    );
    assert!(err.contains("metadata.name") && err.contains("must be"), "{err}");
    let both = format!("  insecureSkipTLSVerify: true\n  caBundle: {}\n", ext.ca_b64);
    let err = fails_stdin(
        &c,
        &["apply", "-f", "-"],
        &api_service(
            "v1.both.example.com",
            "both.example.com",
            "ext-api",
            ext.port,
            &both,
        ),
    );
    assert!(err.contains("may not be true if caBundle is present"), "{err}");
    assert!(
        c.fails(&["get", "apiservice", "v1.both.example.com"])
            .contains("NotFound")
    );
}
