//! Admission webhooks with the real kubectl: a tiny HTTPS webhook (tests/python/
//! webhook_server.py) mutates and validates; selectors choose who is called; failurePolicy,
//! timeouts, dry run and reinvocation behave as upstream.

// Test helpers may unwrap: a panic is a failed test.
#![allow(clippy::unwrap_used)]

use std::process::Child;

use base64::Engine;
use krust_e2e::{Cluster, free_local_port, self_signed_cert, spawn_python_server, stderr};

struct Webhook {
    child: Child,
    port: u16,
    ca_b64: String,
}

impl Drop for Webhook {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_webhook(dir: &std::path::Path) -> Webhook {
    let (cert, key) = self_signed_cert(dir, "wh", "127.0.0.1", "IP:127.0.0.1");
    let port = free_local_port();
    let child = spawn_python_server(
        "webhook_server.py",
        &[port.to_string().as_ref(), cert.as_os_str(), key.as_os_str()],
    );
    let ca_b64 = base64::engine::general_purpose::STANDARD.encode(std::fs::read(&cert).unwrap());
    Webhook { child, port, ca_b64 }
}

fn hook(name: &str, url: &str, ca: &str, resources: &str, ops: &str, extra: &str) -> String {
    format!(
        "- name: {name}\n  clientConfig:\n    url: {url}\n    caBundle: {ca}\n  rules:\n  - operations: [{ops}]\n    apiGroups: [\"\"]\n    apiVersions: [v1]\n    resources: [{resources}]\n  admissionReviewVersions: [v1]\n  sideEffects: None\n{extra}"
    )
}

#[test]
fn mutating_and_validating_webhooks() {
    let c = Cluster::start_with(&["--disable-controller-manager", "--disable-scheduler"]);
    let wh = start_webhook(c.dir.path());
    let base = format!("https://127.0.0.1:{}", wh.port);
    let mutating = format!(
        "apiVersion: admissionregistration.k8s.io/v1\nkind: MutatingWebhookConfiguration\nmetadata:\n  name: m\nwebhooks:\n{}{}",
        hook(
            "count.example.com",
            &format!("{base}/count"),
            &wh.ca_b64,
            "configmaps",
            "CREATE",
            "  reinvocationPolicy: IfNeeded\n"
        ),
        hook(
            "mutate.example.com",
            &format!("{base}/mutate"),
            &wh.ca_b64,
            "configmaps",
            "CREATE",
            ""
        ),
    );
    c.ok_stdin(&["apply", "-f", "-"], &mutating);
    let validating = format!(
        "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingWebhookConfiguration\nmetadata:\n  name: v\nwebhooks:\n{}",
        hook(
            "deny.example.com",
            &format!("{base}/deny"),
            &wh.ca_b64,
            "configmaps",
            "CREATE,UPDATE,DELETE",
            ""
        ),
    );
    c.ok_stdin(&["apply", "-f", "-"], &validating);
    // Mutation, with the earlier webhook called again after the later one changed the object.
    let out = c.kubectl(&["create", "configmap", "good"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("checked by the test webhook"),
        "warnings are shown: {}",
        stderr(&out)
    );
    let cm = c.get_json(&["configmap", "good"]);
    assert_eq!(cm["metadata"]["labels"]["mutated"], "true");
    assert_eq!(cm["metadata"]["annotations"]["seen"], "2", "reinvoked once: {cm}");
    // Denial with the webhook's message.
    let err = c.fails(&["create", "configmap", "bad-one"]);
    assert!(err.contains("admission webhook \"deny.example.com\" denied the request: names starting with bad are not allowed"), "{err}");
    assert!(c.fails(&["get", "configmap", "bad-one"]).contains("NotFound"));
    // Deletes are admitted too.
    c.ok(&["label", "configmap", "good", "protected=true"]);
    let err = c.fails(&["delete", "configmap", "good"]);
    assert!(err.contains("this object is protected"), "{err}");
    c.ok(&["label", "configmap", "good", "protected-"]);
    c.ok(&["delete", "configmap", "good"]);
    // Other resources are not sent to these webhooks.
    c.ok(&["create", "secret", "generic", "bad-secret"]);
}

#[test]
fn selectors_failure_policy_timeouts_and_dry_run() {
    let c = Cluster::start_with(&["--disable-controller-manager", "--disable-scheduler"]);
    let wh = start_webhook(c.dir.path());
    let base = format!("https://127.0.0.1:{}", wh.port);
    let closed = "https://127.0.0.1:1/nothing";
    let sel = "  namespaceSelector:\n    matchLabels: {webhooks: \"on\"}\n";
    let cfg = format!(
        "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingWebhookConfiguration\nmetadata:\n  name: v\nwebhooks:\n{}{}{}{}",
        hook(
            "deny.example.com",
            &format!("{base}/deny"),
            &wh.ca_b64,
            "configmaps",
            "CREATE",
            sel
        ),
        hook(
            "down-fail.example.com",
            closed,
            &wh.ca_b64,
            "secrets",
            "CREATE",
            "  failurePolicy: Fail\n  objectSelector:\n    matchLabels: {check: strict}\n"
        ),
        hook(
            "down-ignore.example.com",
            closed,
            &wh.ca_b64,
            "secrets",
            "CREATE",
            "  failurePolicy: Ignore\n"
        ),
        hook(
            "slow.example.com",
            &format!("{base}/slow"),
            &wh.ca_b64,
            "services",
            "CREATE",
            "  timeoutSeconds: 1\n  failurePolicy: Fail\n"
        ),
    );
    c.ok_stdin(&["apply", "-f", "-"], &cfg);
    // namespaceSelector: only namespaces labelled webhooks=on.
    c.ok(&["create", "configmap", "bad-outside"]);
    c.ok(&["create", "namespace", "guarded"]);
    c.ok(&["label", "namespace", "guarded", "webhooks=on"]);
    let err = c.fails(&["create", "configmap", "bad-inside", "-n", "guarded"]);
    assert!(err.contains("denied the request"), "{err}");
    // failurePolicy: an unreachable webhook fails closed or open; objectSelector picks.
    c.ok(&["create", "secret", "generic", "open"]);
    let strict = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: strict\n  labels: {check: strict}\n";
    let err = stderr(&c.kubectl_stdin(&["create", "-f", "-"], strict));
    assert!(
        err.contains("failed calling webhook \"down-fail.example.com\""),
        "{err}"
    );
    // timeoutSeconds: a webhook slower than its timeout fails the request (Fail policy).
    let err = c.fails(&["create", "service", "clusterip", "slow", "--tcp=80:80"]);
    assert!(
        err.contains("failed calling webhook \"slow.example.com\"") && err.contains("deadline"),
        "{err}"
    );
    // dryRun goes to webhooks without side effects.
    let out = c.kubectl(&[
        "create",
        "configmap",
        "bad-dry",
        "-n",
        "guarded",
        "--dry-run=server",
    ]);
    assert!(stderr(&out).contains("denied the request"), "{}", stderr(&out));
}
