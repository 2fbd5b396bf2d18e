//! Everyday kubectl commands against built-in kinds, and the errors users see when they
//! get something wrong.

// Test helpers may unwrap: a panic is a failed test.
#![allow(clippy::unwrap_used)]

use krust_e2e::{Cluster, stderr, stdout, versioned_kubectl};

const DEPLOY: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.25
        ports:
        - containerPort: 80
        env:
        - {name: A, value: "1"}
        - {name: B, value: "2"}
"#;

#[test]
fn apply_create_update_and_noop() {
    let c = Cluster::start();
    assert!(
        c.ok_stdin(&["apply", "-f", "-"], DEPLOY)
            .contains("deployment.apps/web created")
    );
    let d = c.get_json(&["deployment", "web"]);
    assert_eq!(d["spec"]["replicas"], 2);
    assert_eq!(d["metadata"]["generation"], 1);
    assert_eq!(d["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%");
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"],
        "IfNotPresent"
    );
    assert!(d["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"].is_string());
    // Unchanged file: nothing to do.
    assert!(c.ok_stdin(&["apply", "-f", "-"], DEPLOY).contains("unchanged"));
    // Change the image, drop env B, add a sidecar: a strategic merge patch.
    let changed = DEPLOY
        .replace("nginx:1.25", "nginx:1.27")
        .replace("        - {name: B, value: \"2\"}\n", "")
        + "      - name: side\n        image: busybox\n";
    assert!(c.ok_stdin(&["apply", "-f", "-"], &changed).contains("configured"));
    let d = c.get_json(&["deployment", "web"]);
    let containers = d["spec"]["template"]["spec"]["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 2);
    assert_eq!(containers[0]["image"], "nginx:1.27");
    assert_eq!(containers[0]["env"].as_array().unwrap().len(), 1);
    assert_eq!(containers[1]["name"], "side");
    assert_eq!(d["metadata"]["generation"], 2);
    // Server-side dry run and diff do not change anything.
    let out = c.kubectl_stdin(
        &["apply", "--dry-run=server", "-f", "-"],
        &changed.replace("replicas: 2", "replicas: 5"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(c.get_json(&["deployment", "web"])["spec"]["replicas"], 2);
    let diff = c.kubectl_stdin(
        &["diff", "-f", "-"],
        &changed.replace("replicas: 2", "replicas: 4"),
    );
    assert_eq!(
        diff.status.code(),
        Some(1),
        "diff should report a difference: {}",
        stderr(&diff)
    );
    assert!(stdout(&diff).contains("replicas: 4"), "{}", stdout(&diff));
}

#[test]
fn get_formats_selectors_and_all_namespaces() {
    let c = Cluster::start();
    c.ok(&["create", "namespace", "team-a"]);
    c.ok(&["create", "configmap", "one", "--from-literal=k=v"]);
    c.ok(&["create", "configmap", "two", "-n", "team-a", "--from-literal=k=v"]);
    c.ok(&["label", "configmap", "one", "tier=front"]);
    let all = c.ok(&["get", "configmaps", "-A"]);
    assert!(all.starts_with("NAMESPACE"), "{all}");
    assert!(
        all.contains("team-a") && all.contains("one") && all.contains("two"),
        "{all}"
    );
    let sel = c.ok(&["get", "cm", "-l", "tier=front", "-o", "name"]);
    assert_eq!(sel.trim(), "configmap/one");
    let sel = c.ok(&["get", "cm", "-l", "tier!=front", "-o", "name"]);
    assert!(!sel.contains("configmap/one"), "{sel}");
    let sel = c.ok(&["get", "cm", "-l", "tier in (front,back)", "-o", "name"]);
    assert_eq!(sel.trim(), "configmap/one");
    let sel = c.ok(&["get", "cm", "-l", "!tier", "-o", "name"]);
    assert!(!sel.contains("configmap/one"), "{sel}");
    let f = c.ok(&[
        "get",
        "cm",
        "-A",
        "--field-selector",
        // Every namespace also holds the cluster's `kube-root-ca.crt`.
        "metadata.namespace=team-a,metadata.name!=kube-root-ca.crt",
        "-o",
        "name",
    ]);
    assert_eq!(f.trim(), "configmap/two");
    let err = c.fails(&["get", "pods", "--field-selector", "spec.bogus=x"]);
    assert!(
        err.contains("BadRequest") || err.contains("not supported") || err.contains("field label"),
        "{err}"
    );
    let yaml = c.ok(&["get", "cm", "one", "-o", "yaml"]);
    assert!(yaml.contains("tier: front"), "{yaml}");
    let table = c.ok(&["get", "cm"]);
    assert!(table.contains("DATA"), "{table}");
    let chunked = c.ok(&["get", "cm", "-A", "--chunk-size=1", "-o", "name"]);
    assert!(chunked.lines().count() >= 2, "{chunked}");
}

#[test]
fn imperative_commands() {
    let c = Cluster::start();
    c.ok(&[
        "create",
        "deployment",
        "api",
        "--image=nginx:1.25",
        "--replicas=1",
    ]);
    c.ok(&[
        "create",
        "secret",
        "generic",
        "s1",
        "--from-literal=password=hunter2",
    ]);
    let s = c.get_json(&["secret", "s1"]);
    assert_eq!(s["type"], "Opaque");
    assert_eq!(s["data"]["password"], "aHVudGVyMg==");
    c.ok(&["scale", "deployment/api", "--replicas=3"]);
    assert_eq!(c.get_json(&["deploy", "api"])["spec"]["replicas"], 3);
    c.ok(&["set", "image", "deployment/api", "nginx=nginx:1.27"]);
    let d = c.get_json(&["deploy", "api"]);
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.27"
    );
    c.ok(&["rollout", "restart", "deployment/api"]);
    let d = c.get_json(&["deploy", "api"]);
    assert!(
        d["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"].is_string()
    );
    c.ok(&["annotate", "deployment", "api", "note=hello"]);
    c.ok(&["label", "deployment", "api", "env=prod"]);
    let d = c.get_json(&["deploy", "api"]);
    assert_eq!(d["metadata"]["annotations"]["note"], "hello");
    assert_eq!(d["metadata"]["labels"]["env"], "prod");
    c.ok(&["label", "deployment", "api", "env-"]);
    assert!(
        c.get_json(&["deploy", "api"])["metadata"]["labels"]
            .get("env")
            .is_none()
    );
    c.ok(&[
        "patch",
        "deployment",
        "api",
        "--type=merge",
        "-p",
        r#"{"spec":{"paused":true}}"#,
    ]);
    assert_eq!(c.get_json(&["deploy", "api"])["spec"]["paused"], true);
    c.ok(&[
        "patch",
        "deployment",
        "api",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/replicas","value":4}]"#,
    ]);
    assert_eq!(c.get_json(&["deploy", "api"])["spec"]["replicas"], 4);
    c.ok(&["patch", "deployment", "api", "-p", r#"{"spec":{"template":{"spec":{"containers":[{"name":"nginx","env":[{"name":"X","value":"y"}]}]}}}}"#]);
    let d = c.get_json(&["deploy", "api"]);
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["env"][0]["name"],
        "X"
    );
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.27"
    );
    // kubectl edit with a scripted editor.
    let editor = c.dir.path().join("editor.sh");
    std::fs::write(&editor, "#!/bin/sh\nsed -i 's/replicas: 4/replicas: 6/' \"$1\"\n").unwrap();
    std::fs::set_permissions(&editor, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = std::process::Command::new("kubectl")
        .args([
            "--kubeconfig",
            c.kubeconfig().to_str().unwrap(),
            "edit",
            "deployment",
            "api",
        ])
        .env("KUBE_EDITOR", &editor)
        .env("HOME", c.dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "edit failed: {}", stderr(&out));
    assert_eq!(c.get_json(&["deploy", "api"])["spec"]["replicas"], 6);
    // Replace with the current object works; with a stale one it is a conflict.
    let current = c.ok(&["get", "deploy", "api", "-o", "yaml"]);
    c.ok(&["label", "deployment", "api", "bump=1"]);
    let err =
        String::from_utf8_lossy(&c.kubectl_stdin(&["replace", "-f", "-"], &current).stderr).into_owned();
    assert!(
        err.contains("Conflict") || err.contains("the object has been modified"),
        "{err}"
    );
    let fresh = c.ok(&["get", "deploy", "api", "-o", "yaml"]);
    c.ok_stdin(
        &["replace", "-f", "-"],
        &fresh.replace("replicas: 6", "replicas: 2"),
    );
    assert_eq!(c.get_json(&["deploy", "api"])["spec"]["replicas"], 2);
    let describe = c.ok(&["describe", "deployment", "api"]);
    assert!(
        describe.contains("Name:") && describe.contains("api"),
        "{describe}"
    );
    c.ok(&["delete", "deployment", "api"]);
    let err = c.fails(&["get", "deployment", "api"]);
    assert!(
        err.contains("NotFound") && err.contains("deployments.apps \"api\" not found"),
        "{err}"
    );
}

#[test]
fn errors_are_clear_statuses() {
    let c = Cluster::start();
    let err = c.fails(&["get", "pod", "nope"]);
    assert!(
        err.contains("Error from server (NotFound): pods \"nope\" not found"),
        "{err}"
    );
    c.ok(&["create", "configmap", "dup"]);
    let err = c.fails(&["create", "configmap", "dup"]);
    assert!(err.contains("configmaps \"dup\" already exists"), "{err}");
    let err = stderr(&c.kubectl_stdin(
        &["create", "-f", "-"],
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dup\n",
    ));
    assert!(err.contains("Error from server (AlreadyExists)"), "{err}");
    let bad_selector = DEPLOY.replace("matchLabels: {app: web}", "matchLabels: {app: other}");
    let out = c.kubectl_stdin(&["create", "-f", "-"], &bad_selector);
    let err = stderr(&out);
    assert!(err.contains("is invalid") && err.contains("selector"), "{err}");
    let dup = DEPLOY.replace(
        "        env:",
        "      - name: web\n        image: x\n        env:",
    );
    let err = stderr(&c.kubectl_stdin(&["create", "-f", "-"], &dup));
    assert!(
        err.contains("Duplicate value") || err.contains("is invalid"),
        "{err}"
    );
    let unknown = DEPLOY.replace("  replicas: 2", "  replicas: 2\n  bogus: true");
    let err = stderr(&c.kubectl_stdin(&["apply", "-f", "-"], &unknown));
    assert!(
        err.contains("unknown field") && err.contains("spec.bogus"),
        "{err}"
    );
    let err = stderr(&c.kubectl_stdin(&["create", "-n", "missing", "-f", "-"], DEPLOY));
    assert!(
        err.contains("NotFound") && err.contains("namespaces \"missing\" not found"),
        "{err}"
    );
    let bad_name = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\n";
    let err = stderr(&c.kubectl_stdin(&["create", "-f", "-"], bad_name));
    assert!(err.contains("is invalid") && err.contains("RFC 1123"), "{err}");
    // Nothing of the rejected objects was stored.
    assert!(c.fails(&["get", "deployment", "web"]).contains("NotFound"));
    let out = c.python("raw.py", &["bad_input"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
}

#[test]
fn delete_and_namespace_lifecycle() {
    let c = Cluster::start();
    c.ok(&["create", "namespace", "tmp"]);
    c.ok(&["create", "configmap", "a", "-n", "tmp"]);
    c.ok(&["create", "configmap", "b", "-n", "tmp"]);
    c.ok_stdin(&["apply", "-n", "tmp", "-f", "-"], DEPLOY);
    c.ok_stdin(&["delete", "-n", "tmp", "-f", "-"], DEPLOY);
    assert!(
        c.fails(&["get", "deploy", "web", "-n", "tmp"])
            .contains("NotFound")
    );
    c.ok(&["delete", "configmap", "-n", "tmp", "-l", "nothing-matches"]);
    c.ok(&["delete", "configmap", "a", "-n", "tmp"]);
    // Deleting the namespace removes its content, then the namespace.
    c.ok(&["delete", "namespace", "tmp", "--timeout=60s"]);
    assert!(c.fails(&["get", "namespace", "tmp"]).contains("NotFound"));
    assert!(
        c.fails(&["get", "configmap", "b", "-n", "tmp"])
            .contains("NotFound")
    );
    let err = c.fails(&["delete", "namespace", "default"]);
    assert!(err.contains("Forbidden"), "{err}");
    // Finalizers hold an object until they are removed.
    c.ok_stdin(
        &["apply", "-f", "-"],
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\n  finalizers: [example.com/hold]\n",
    );
    c.ok(&["delete", "configmap", "held", "--wait=false"]);
    let held = c.get_json(&["configmap", "held"]);
    assert!(held["metadata"]["deletionTimestamp"].is_string(), "{held}");
    c.ok(&[
        "patch",
        "configmap",
        "held",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ]);
    assert!(c.fails(&["get", "configmap", "held"]).contains("NotFound"));
}

#[test]
fn versioned_kubectl_create_sends_protobuf() {
    let c = Cluster::start();
    for v in ["1.27", "1.32", "1.33"] {
        let Some(bin) = versioned_kubectl(v) else { continue };
        let name = format!("pb-{}", v.replace('.', "-"));
        for args in [
            vec!["create", "deployment", name.as_str(), "--image=nginx"],
            vec!["create", "configmap", name.as_str(), "--from-literal=a=b"],
            vec!["create", "namespace", name.as_str()],
        ] {
            let out = c.kubectl_with(&bin, &args);
            assert!(out.status.success(), "kubectl {v} {args:?}: {}", stderr(&out));
        }
        let d = c.get_json(&["deploy", &name]);
        assert_eq!(d["spec"]["template"]["spec"]["containers"][0]["image"], "nginx");
        assert_eq!(d["spec"]["replicas"], 1);
        let out = c.kubectl_with(&bin, &["auth", "can-i", "create", "deployments"]);
        assert_eq!(
            stdout(&out).trim(),
            "yes",
            "kubectl {v} auth can-i: {}",
            stderr(&out)
        );
    }
}
