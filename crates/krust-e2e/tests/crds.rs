//! CustomResourceDefinitions with the real kubectl: a CRD is served at once (discovery,
//! OpenAPI, tables, short names, categories), its objects are pruned, validated against the
//! schema and listed with the printer columns, status and scale subresources work, and
//! deleting the CRD deletes its objects.

// Test helpers may unwrap: a panic is a failed test.
#![allow(clippy::unwrap_used)]

use krust_e2e::{Cluster, stderr};

const API_ONLY: &[&str] = &["--disable-controller-manager", "--disable-scheduler"];

const CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names:
    kind: Widget
    plural: widgets
    singular: widget
    shortNames: [wd]
    categories: [all]
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale:
        specReplicasPath: .spec.replicas
        statusReplicasPath: .status.replicas
    additionalPrinterColumns:
    - name: Size
      type: integer
      jsonPath: .spec.size
    - name: Ready
      type: string
      jsonPath: .status.conditions[?(@.type=="Ready")].status
    - name: Age
      type: date
      jsonPath: .metadata.creationTimestamp
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size:
                type: integer
                description: How big the widget is.
              replicas:
                type: integer
              color:
                type: string
          status:
            type: object
            properties:
              replicas:
                type: integer
              conditions:
                type: array
                items:
                  type: object
                  x-kubernetes-preserve-unknown-fields: true
  - name: v1beta1
    served: true
    storage: false
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
"#;

fn widget(name: &str, extra: &str) -> String {
    format!(
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: {name}\nspec:\n  size: 3\n  replicas: 1\n{extra}"
    )
}

#[test]
fn a_crd_is_served_and_its_objects_behave() {
    let c = Cluster::start_with(API_ONLY);
    c.ok_stdin(&["apply", "-f", "-"], CRD);
    c.ok(&[
        "wait",
        "--for=condition=Established",
        "crd/widgets.example.com",
        "--timeout=30s",
    ]);
    let crd = c.get_json(&["crd", "widgets.example.com"]);
    assert_eq!(crd["status"]["acceptedNames"]["kind"], "Widget");
    assert_eq!(crd["status"]["storedVersions"], serde_json::json!(["v1"]));
    let res = c.ok(&["api-resources", "--api-group=example.com"]);
    assert!(res.contains("widgets") && res.contains("wd"), "{res}");
    c.ok_stdin(&["apply", "-f", "-"], &widget("w1", ""));
    let table = c.ok(&["get", "widgets"]);
    assert!(
        table.starts_with("NAME") && table.contains("SIZE") && table.contains("READY"),
        "{table}"
    );
    assert!(
        table.lines().nth(1).unwrap().starts_with("w1") && table.contains(" 3 "),
        "{table}"
    );
    // Short name, category all, explain.
    assert!(
        c.ok(&["get", "wd", "-o", "name"])
            .contains("widget.example.com/w1")
    );
    assert!(c.ok(&["get", "all"]).contains("widget.example.com/w1"));
    let ex = c.ok(&["explain", "widget.spec.size"]);
    assert!(ex.contains("How big the widget is."), "{ex}");
    // Unknown fields are pruned (and refused under strict validation).
    let err = stderr(&c.kubectl_stdin(&["apply", "-f", "-"], &widget("w2", "  shape: round\n")));
    assert!(err.contains("unknown field \"spec.shape\""), "{err}");
    c.ok_stdin(
        &["apply", "--validate=false", "-f", "-"],
        &widget("w2", "  shape: round\n"),
    );
    assert!(c.get_json(&["widget", "w2"])["spec"].get("shape").is_none());
    // Wrong types are 400s that name the field.
    let err = stderr(&c.kubectl_stdin(
        &["apply", "-f", "-"],
        &widget("w3", "").replace("size: 3", "size: big"),
    ));
    assert!(err.contains("spec.size"), "{err}");
    // Status is written separately; the scale subresource follows the declared paths.
    c.ok(&[
        "patch",
        "widget",
        "w1",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"replicas":1,"conditions":[{"type":"Ready","status":"True"}]}}"#,
    ]);
    assert!(c.ok(&["get", "widget", "w1"]).contains("True"));
    c.ok(&["scale", "widget", "w1", "--replicas=5"]);
    assert_eq!(c.get_json(&["widget", "w1"])["spec"]["replicas"], 5);
    assert_eq!(c.get_json(&["widget", "w1"])["metadata"]["generation"], 2);
    // Strategic merge patch is refused for custom resources; merge and JSON patch work.
    let err = c.fails(&["patch", "widget", "w1", "-p", r#"{"spec":{"size":4}}"#]);
    assert!(
        err.contains("unknown format") || err.contains("not supported"),
        "{err}"
    );
    c.ok(&[
        "patch",
        "widget",
        "w1",
        "--type=merge",
        "-p",
        r#"{"spec":{"size":4}}"#,
    ]);
    c.ok(&[
        "patch",
        "widget",
        "w1",
        "--type=json",
        "-p",
        r#"[{"op":"add","path":"/spec/color","value":"blue"}]"#,
    ]);
    let w = c.get_json(&["widget", "w1"]);
    assert_eq!(
        (w["spec"]["size"].as_i64(), w["spec"]["color"].as_str()),
        (Some(4), Some("blue"))
    );
    // The other served version reads the same object.
    let beta = c.get_json(&["widgets.v1beta1.example.com", "w1"]);
    assert_eq!(beta["apiVersion"], "example.com/v1beta1");
    assert_eq!(beta["spec"]["size"], 4);
    // Watch a custom resource.
    let rv = w["metadata"]["resourceVersion"].as_str().unwrap().to_string();
    c.ok(&["label", "widget", "w1", "x=y"]);
    let raw = c.ok(&[
        "get",
        "--raw",
        &format!(
            "/apis/example.com/v1/namespaces/default/widgets?watch=1&resourceVersion={rv}&timeoutSeconds=1"
        ),
    ]);
    assert!(raw.contains("\"MODIFIED\""), "{raw}");
}

#[test]
fn crds_survive_a_restart_and_deleting_one_deletes_its_objects() {
    let mut c = Cluster::start_with(API_ONLY);
    c.ok_stdin(&["apply", "-f", "-"], CRD);
    c.ok(&[
        "wait",
        "--for=condition=Established",
        "crd/widgets.example.com",
        "--timeout=30s",
    ]);
    c.ok_stdin(&["apply", "-f", "-"], &widget("keep", ""));
    c.stop();
    c.restart();
    assert_eq!(c.get_json(&["widget", "keep"])["spec"]["size"], 3);
    c.ok_stdin(
        &["apply", "-f", "-"],
        &widget("held", "").replace(
            "  name: held\n",
            "  name: held\n  finalizers: [example.com/hold]\n",
        ),
    );
    c.ok(&["delete", "crd", "widgets.example.com", "--wait=false"]);
    // While terminating the objects can still be read and released, not created.
    let err = c.kubectl_stdin(&["create", "-f", "-"], &widget("late", ""));
    assert!(!err.status.success());
    c.ok(&[
        "patch",
        "widget",
        "held",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ]);
    c.ok(&["wait", "--for=delete", "crd/widgets.example.com", "--timeout=60s"]);
    let err = c.fails(&["get", "widgets"]);
    assert!(
        err.contains("doesn't have a resource type") || err.contains("NotFound"),
        "{err}"
    );
    // Re-creating the CRD starts empty.
    c.ok_stdin(&["apply", "-f", "-"], CRD);
    c.ok(&[
        "wait",
        "--for=condition=Established",
        "crd/widgets.example.com",
        "--timeout=30s",
    ]);
    assert_eq!(c.ok(&["get", "widgets", "-o", "name"]).trim(), "");
}

const VALIDATED: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Gadget, plural: gadgets}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size]
            x-kubernetes-validations:
            - rule: "self.min <= self.max"
              message: "min must not exceed max"
            properties:
              size: {type: integer, minimum: 1, maximum: 10}
              mode: {type: string, enum: [fast, slow], default: slow}
              name: {type: string, pattern: "^[a-z]+$", maxLength: 8}
              min: {type: integer, default: 0}
              max: {type: integer, default: 5}
              tags: {type: array, maxItems: 2, items: {type: string}}
              port: {x-kubernetes-int-or-string: true}
"#;

fn gadget(name: &str, spec: &str) -> String {
    format!("apiVersion: example.com/v1\nkind: Gadget\nmetadata:\n  name: {name}\nspec:\n{spec}")
}

#[test]
fn custom_resources_are_validated_and_defaulted_by_their_schema() {
    let c = Cluster::start_with(API_ONLY);
    c.ok_stdin(&["apply", "-f", "-"], VALIDATED);
    c.ok(&[
        "wait",
        "--for=condition=Established",
        "crd/gadgets.example.com",
        "--timeout=30s",
    ]);
    c.ok_stdin(&["apply", "-f", "-"], &gadget("ok", "  size: 3\n  port: http\n"));
    let g = c.get_json(&["gadget", "ok"]);
    assert_eq!(g["spec"]["mode"], "slow", "defaults applied: {g}");
    assert_eq!(
        (g["spec"]["min"].as_i64(), g["spec"]["max"].as_i64()),
        (Some(0), Some(5))
    );
    for (spec, want) in [
        ("  mode: fast\n", "spec.size: Required value"),
        (
            "  size: 11\n",
            "spec.size: Invalid value: 11: spec.size in body should be less than or equal to 10",
        ),
        ("  size: 2\n  mode: turbo\n", "Unsupported value: \"turbo\""),
        ("  size: 2\n  name: UPPER\n", "spec.name in body should match"),
        (
            "  size: 2\n  tags: [a, b, c]\n",
            "spec.tags: Too many: 3: must have at most 2 items",
        ),
        ("  size: 2\n  min: 9\n  max: 1\n", "min must not exceed max"),
        (
            "  size: big\n",
            "spec.size: Invalid value: \"string\": spec.size in body must be of type integer",
        ),
    ] {
        let out = c.kubectl_stdin(&["apply", "-f", "-"], &gadget("bad", spec));
        let err = stderr(&out);
        assert!(
            !out.status.success() && err.contains("is invalid") && err.contains(want),
            "{spec:?}: {err}"
        );
    }
    assert!(c.fails(&["get", "gadget", "bad"]).contains("NotFound"));
    // A CRD with a non-structural schema is refused with the reasons.
    let bad_crd = VALIDATED
        .replace("gadgets", "gizmos")
        .replace("Gadget", "Gizmo")
        .replace(
            "size: {type: integer, minimum: 1, maximum: 10}",
            "size: {minimum: 1}",
        );
    let err = stderr(&c.kubectl_stdin(&["apply", "-f", "-"], &bad_crd));
    assert!(
        err.contains("is invalid") && err.contains("type: Required value"),
        "{err}"
    );
}
