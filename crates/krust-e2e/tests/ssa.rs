//! Server-side apply with the real kubectl and the Python client: creation, changes and
//! removals, conflicts and `--force-conflicts`, `diff` and `--dry-run=server`, migration
//! from client-side apply, merging of keyed lists by several managers, and custom
//! resources typed by their schema.

// Test helpers may unwrap: a panic is a failed test.
#![allow(clippy::unwrap_used)]

use krust_e2e::{Cluster, stderr, stdout};
use serde_json::Value;

const API_ONLY: &[&str] = &["--disable-controller-manager", "--disable-scheduler"];

fn deployment(replicas: u32, image: &str) -> String {
    format!(
        r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {{app: web}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
      - name: web
        image: {image}
        ports: [{{containerPort: 80}}]
"#
    )
}

/// `(manager, operation, subresource)` of each managedFields entry.
fn managers(obj: &Value) -> Vec<(String, String, String)> {
    obj["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["manager"].as_str().unwrap().to_string(),
                m["operation"].as_str().unwrap().to_string(),
                m["subresource"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn entry<'a>(obj: &'a Value, manager: &str) -> &'a Value {
    obj["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["manager"] == manager)
        .unwrap_or_else(|| panic!("no entry for {manager} in {obj}"))
}

fn get(c: &Cluster, what: &[&str]) -> Value {
    let mut args = what.to_vec();
    args.push("--show-managed-fields");
    c.get_json(&args)
}

#[test]
fn apply_creates_changes_and_reports_conflicts() {
    let c = Cluster::start_with(API_ONLY);
    let out = c.ok_stdin(&["apply", "--server-side", "-f", "-"], &deployment(2, "nginx:1"));
    assert!(out.contains("deployment.apps/web serverside-applied"), "{out}");
    let d = get(&c, &["deployment", "web"]);
    assert_eq!(managers(&d), vec![("kubectl".into(), "Apply".into(), "".into())]);
    let fields = &entry(&d, "kubectl")["fieldsV1"];
    assert!(fields["f:spec"]["f:replicas"].is_object(), "{fields}");
    assert!(
        fields["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"web\"}"]["f:image"]
            .is_object(),
        "{fields}"
    );
    // Defaults are the server's, not the applier's.
    assert!(fields["f:spec"]["f:strategy"].is_null(), "{fields}");
    assert_eq!(d["spec"]["strategy"]["type"], "RollingUpdate");

    // Another manager changes replicas: re-applying the old value conflicts.
    c.ok(&[
        "patch",
        "deployment",
        "web",
        "--type=merge",
        "-p",
        r#"{"spec":{"replicas":5}}"#,
        "--field-manager=ops",
    ]);
    let out = c.kubectl_stdin(&["apply", "--server-side", "-f", "-"], &deployment(2, "nginx:1"));
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains(r#"Apply failed with 1 conflict: conflict with "ops" using apps/v1: .spec.replicas"#),
        "{err}"
    );
    assert_eq!(c.get_json(&["deployment", "web"])["spec"]["replicas"], 5);

    // Dropping replicas from the manifest resolves it: the image change applies alone.
    let without_replicas = deployment(2, "nginx:2").replace("  replicas: 2\n", "");
    c.ok_stdin(&["apply", "--server-side", "-f", "-"], &without_replicas);
    let d = get(&c, &["deployment", "web"]);
    assert_eq!(d["spec"]["replicas"], 5);
    assert_eq!(d["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:2");
    assert_eq!(d["metadata"]["generation"], 3);

    // --force-conflicts takes replicas back.
    c.ok_stdin(
        &["apply", "--server-side", "--force-conflicts", "-f", "-"],
        &deployment(3, "nginx:2"),
    );
    let d = get(&c, &["deployment", "web"]);
    assert_eq!(d["spec"]["replicas"], 3);
    assert!(entry(&d, "kubectl")["fieldsV1"]["f:spec"]["f:replicas"].is_object());
    assert!(
        d["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["manager"] != "ops"),
        "ops owns nothing any more: {d}"
    );

    // kubectl scale is recorded against the scale subresource.
    c.ok(&["scale", "deployment", "web", "--replicas=4"]);
    let d = get(&c, &["deployment", "web"]);
    assert!(
        managers(&d).contains(&("kubectl".into(), "Update".into(), "scale".into())),
        "{:?}",
        managers(&d)
    );
}

#[test]
fn apply_removes_fields_no_longer_applied_and_supports_diff_and_dry_run() {
    let c = Cluster::start_with(API_ONLY);
    let cm = |data: &str| format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cfg}}\ndata: {data}\n");
    c.ok_stdin(&["apply", "--server-side", "-f", "-"], &cm("{a: '1', b: '2'}"));

    let out = c.kubectl_stdin(&["diff", "--server-side", "-f", "-"], &cm("{a: '1', c: '3'}"));
    // kubectl diff exits 1 when there are differences.
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let diff = stdout(&out);
    assert!(
        diff.contains("-  b: \"2\"") && diff.contains("+  c: \"3\""),
        "{diff}"
    );

    let dry = c.ok_stdin(
        &[
            "apply",
            "--server-side",
            "--dry-run=server",
            "-f",
            "-",
            "-o",
            "json",
        ],
        &cm("{a: '1', c: '3'}"),
    );
    let dry: Value = serde_json::from_str(&dry).unwrap();
    assert_eq!(dry["data"], serde_json::json!({"a": "1", "c": "3"}));
    assert_eq!(
        c.get_json(&["cm", "cfg"])["data"],
        serde_json::json!({"a": "1", "b": "2"})
    );

    c.ok_stdin(&["apply", "--server-side", "-f", "-"], &cm("{a: '1', c: '3'}"));
    assert_eq!(
        c.get_json(&["cm", "cfg"])["data"],
        serde_json::json!({"a": "1", "c": "3"})
    );

    // A field another manager changed is theirs and survives the applier dropping it (an
    // update that sets a field to the value it has does not take it, as upstream).
    c.ok(&[
        "patch",
        "cm",
        "cfg",
        "--type=merge",
        "-p",
        r#"{"data":{"c":"33","d":"4"}}"#,
        "--field-manager=other",
    ]);
    c.ok_stdin(&["apply", "--server-side", "-f", "-"], &cm("{a: '1'}"));
    assert_eq!(
        c.get_json(&["cm", "cfg"])["data"],
        serde_json::json!({"a": "1", "c": "33", "d": "4"})
    );
}

#[test]
fn client_side_apply_migrates_to_server_side() {
    let c = Cluster::start_with(API_ONLY);
    c.ok_stdin(&["apply", "-f", "-"], &deployment(2, "nginx:1"));
    let d = get(&c, &["deployment", "web"]);
    assert_eq!(
        managers(&d),
        vec![("kubectl-client-side-apply".into(), "Update".into(), "".into())]
    );
    // The same user switching to server-side apply with changed values does not conflict
    // with their own client-side apply.
    let out = c.ok_stdin(&["apply", "--server-side", "-f", "-"], &deployment(3, "nginx:2"));
    assert!(out.contains("serverside-applied"), "{out}");
    let d = get(&c, &["deployment", "web"]);
    assert_eq!(d["spec"]["replicas"], 3);
    let last: Value = serde_json::from_str(
        d["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        last["spec"]["replicas"], 3,
        "annotation follows the applied manifest"
    );
    let names: Vec<_> = managers(&d).into_iter().map(|m| m.0).collect();
    assert!(names.contains(&"kubectl".to_string()), "{names:?}");
    assert!(
        !names.contains(&"kubectl-client-side-apply".to_string()),
        "client-side ownership moved over: {names:?}"
    );
}

#[test]
fn managers_share_keyed_lists_and_custom_resources_are_typed_by_schema() {
    let c = Cluster::start_with(API_ONLY);
    c.ok_stdin(&["apply", "--server-side", "-f", "-"], &deployment(1, "nginx:1"));
    // A second manager adds a sidecar container: containers merge by name.
    let sidecar = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      containers:
      - name: proxy
        image: envoy:1
"#;
    c.ok_stdin(
        &["apply", "--server-side", "--field-manager=mesh", "-f", "-"],
        sidecar,
    );
    let d = get(&c, &["deployment", "web"]);
    let names: Vec<_> = d["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, vec!["web", "proxy"]);
    // The first manager re-applying its manifest leaves the sidecar alone.
    c.ok_stdin(&["apply", "--server-side", "-f", "-"], &deployment(1, "nginx:1"));
    assert_eq!(
        c.get_json(&["deployment", "web"])["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // A CRD whose list is a map keyed by name.
    c.ok_stdin(
        &["apply", "-f", "-"],
        r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gates.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Gate, plural: gates, singular: gate}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              rules:
                type: array
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [name]
                items:
                  type: object
                  required: [name]
                  properties:
                    name: {type: string}
                    allow: {type: boolean}
"#,
    );
    c.ok(&["wait", "--for=condition=Established", "crd/gates.example.com"]);
    let gate = |rule: &str| {
        format!(
            "apiVersion: example.com/v1\nkind: Gate\nmetadata: {{name: g}}\nspec:\n  rules:\n  - {{name: {rule}, allow: true}}\n"
        )
    };
    c.ok_stdin(
        &["apply", "--server-side", "--field-manager=a", "-f", "-"],
        &gate("ssh"),
    );
    c.ok_stdin(
        &["apply", "--server-side", "--field-manager=b", "-f", "-"],
        &gate("http"),
    );
    let g = get(&c, &["gate", "g"]);
    let rules: Vec<_> = g["spec"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(rules, vec!["ssh", "http"]);
    assert!(
        entry(&g, "b")["fieldsV1"]["f:spec"]["f:rules"]["k:{\"name\":\"http\"}"].is_object(),
        "{g}"
    );
}

#[test]
fn python_client_applies_and_sees_conflicts() {
    let c = Cluster::start_with(API_ONLY);
    let out = c.python("ssa.py", &[]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
}
