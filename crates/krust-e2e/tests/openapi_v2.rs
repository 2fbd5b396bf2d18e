//! OpenAPI v2 at `/openapi/v2`: kubectl 1.27 and 1.28 fetch it (as gnostic protobuf)
//! before `apply`, `edit`, `diff` and `explain`; every kubectl reads it to compute strategic
//! merge patches when OpenAPI v3 cannot. Raw checks cover the content types and caching.

// Test helpers may unwrap: a panic is a failed test.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

use krust_e2e::{Cluster, python, stderr, stdout, versioned_kubectl};

fn deployment(name: &str, replicas: u32, image: &str, extra_spec: &str) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: {replicas}
{extra_spec}  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
      - name: web
        image: {image}
"
    )
}

fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        stderr(out),
        stdout(out)
    );
    stdout(out)
}

/// `kubectl edit` with a scripted editor that runs `sed_expr` on the file.
fn edit(c: &Cluster, bin: &Path, what: &[&str], sed_expr: &str) -> Output {
    let editor = c.dir.path().join("editor.sh");
    std::fs::write(&editor, format!("#!/bin/sh\nsed -i '{sed_expr}' \"$1\"\n")).unwrap();
    std::fs::set_permissions(&editor, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    Command::new(bin)
        .arg("--kubeconfig")
        .arg(c.kubeconfig())
        .arg("edit")
        .args(what)
        .env("KUBE_EDITOR", &editor)
        .env("HOME", c.dir.path())
        .output()
        .unwrap()
}

#[test]
fn kubectl_1_27_and_1_28_apply_edit_diff_explain() {
    let c = Cluster::start();
    let mut ran = 0;
    for version in ["1.27", "1.28"] {
        let Some(bin) = versioned_kubectl(version) else {
            eprintln!("kubectl {version} is not installed; skipped");
            continue;
        };
        ran += 1;
        let name = format!("web-{}", version.replace('.', "-"));
        let apply = |manifest: &str| c.kubectl_with_stdin(&bin, &["apply", "-f", "-"], manifest);

        // Create, then change: the second apply is a strategic merge PATCH.
        let out = ok(&apply(&deployment(&name, 1, "nginx:1.25", "")), "apply (create)");
        assert!(out.contains(&format!("deployment.apps/{name} created")), "{out}");
        let changed = deployment(&name, 2, "nginx:1.27", "");
        let out = ok(&apply(&changed), "apply (change)");
        assert!(
            out.contains(&format!("deployment.apps/{name} configured")),
            "{out}"
        );
        let got = c.get_json(&["deployment", &name]);
        assert_eq!(got["spec"]["replicas"], 2);
        assert_eq!(
            got["spec"]["template"]["spec"]["containers"][0]["image"],
            "nginx:1.27"
        );
        assert_eq!(
            got["spec"]["template"]["spec"]["containers"]
                .as_array()
                .unwrap()
                .len(),
            1
        );

        // A field newer than these kubectl versions (pod-level `resources`, 1.32): their
        // built-in Go structs cannot compute this patch ("unable to find api field"), so a
        // successful apply shows the patch came from the v2 document.
        let pod_resources = |cpu: &str| {
            deployment(&name, 2, "nginx:1.27", "").replace(
                "    spec:\n      containers:",
                &format!(
                    "    spec:\n      resources:\n        limits: {{cpu: \"{cpu}\"}}\n      containers:"
                ),
            )
        };
        ok(&apply(&pod_resources("1")), "apply (pod resources)");
        let out = apply(&pod_resources("2"));
        assert!(
            ok(&out, "apply (pod resources changed)").contains("configured"),
            "{}",
            stderr(&out)
        );
        let got = c.get_json(&["deployment", &name]);
        assert_eq!(got["spec"]["template"]["spec"]["resources"]["limits"]["cpu"], "2");
        ok(&apply(&changed), "apply (back)");

        // An unknown field: kubectl sees from OpenAPI that the server validates
        // (`fieldValidation` on PATCH) and leaves it to the server, as against upstream.
        for target in [name.as_str(), "fresh"] {
            let out = apply(&deployment(target, 2, "nginx:1.27", "  bogus: 1\n"));
            assert!(!out.status.success(), "unknown field accepted: {}", stdout(&out));
            let err = stderr(&out);
            assert!(
                err.contains("strict decoding error: unknown field \"spec.bogus\""),
                "{err}"
            );
        }

        // edit: the editor's change is sent as a strategic merge patch.
        let out = edit(&c, &bin, &["deployment", &name], "s/replicas: 2$/replicas: 3/");
        assert!(ok(&out, "edit").contains("edited"), "{}", stdout(&out));
        assert_eq!(c.get_json(&["deployment", &name])["spec"]["replicas"], 3);

        // diff: a server-side dry run; exit code 1 means "differences found".
        let out = c.kubectl_with_stdin(&bin, &["diff", "-f", "-"], &changed);
        assert_eq!(out.status.code(), Some(1), "diff: {}", stderr(&out));
        let diff = stdout(&out);
        assert!(
            diff.contains("-  replicas: 3") && diff.contains("+  replicas: 2"),
            "{diff}"
        );
        assert_eq!(c.get_json(&["deployment", &name])["spec"]["replicas"], 3);

        // explain, from v3 by default and from the v2 document on request.
        let out = ok(
            &c.kubectl_with(&bin, &["explain", "deployment.spec.strategy"]),
            "explain",
        );
        assert!(out.contains("rollingUpdate"), "{out}");
        let out = ok(
            &c.kubectl_with(
                &bin,
                &[
                    "explain",
                    "deployment.spec.strategy",
                    "--output",
                    "plaintext-openapiv2",
                ],
            ),
            "explain (v2)",
        );
        assert!(out.contains("strategy") && out.contains("rollingUpdate"), "{out}");
        let out = ok(
            &c.kubectl_with(
                &bin,
                &[
                    "explain",
                    "pods.spec.containers",
                    "--output",
                    "plaintext-openapiv2",
                ],
            ),
            "explain pods (v2)",
        );
        assert!(
            out.contains("KIND:") && out.contains("Pod") && out.contains("image"),
            "{out}"
        );
    }
    if ran == 0 {
        eprintln!("no kubectl 1.27 or 1.28 installed; nothing ran");
    }
}

const REVISION: &str = "apiVersion: apps/v1
kind: ControllerRevision
metadata:
  name: rev
data:
  spec:
    template:
      spec:
        containers:
        - name: a
          image: x:1
revision: 1
";

/// With the current kubectl, OpenAPI v3 cannot describe a patch inside a RawExtension, so
/// kubectl turns to the v2 document. There, as upstream publishes it, `data` is an object
/// without fields: a change of `revision` applies, a change inside `data` stops in kubectl
/// with its own message, exactly as against upstream (and the server would refuse it:
/// a revision's data is immutable).
#[test]
fn current_kubectl_applies_controller_revisions_with_v2() {
    let c = Cluster::start();
    let out = c.ok_stdin(&["apply", "-f", "-"], REVISION);
    assert!(out.contains("controllerrevision.apps/rev created"), "{out}");
    let out = c.ok_stdin(
        &["apply", "-f", "-"],
        &REVISION.replace("revision: 1", "revision: 2"),
    );
    assert!(out.contains("controllerrevision.apps/rev configured"), "{out}");
    assert_eq!(c.get_json(&["controllerrevision", "rev"])["revision"], 2);

    let out = c.kubectl_stdin(
        &["apply", "-f", "-"],
        &REVISION
            .replace("revision: 1", "revision: 2")
            .replace("x:1", "x:2"),
    );
    assert!(!out.status.success(), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains("error calculating patch from openapi spec: expected kind, but got map"),
        "kubectl did not use the v2 document: {err}"
    );
    assert!(!err.contains("panic"), "{err}");
    let got = c.get_json(&["controllerrevision", "rev"]);
    assert_eq!(
        got["data"]["spec"]["template"]["spec"]["containers"][0]["image"],
        "x:1"
    );
}

/// Raw requests with the admin credentials: content types, ETag and 304, gzip, 406.
const RAW: &str = r#"
import base64, gzip, json, ssl, sys, tempfile, urllib.request, urllib.error
import yaml

cfg = yaml.safe_load(open(sys.argv[1]))
cluster, user = cfg["clusters"][0]["cluster"], cfg["users"][0]["user"]
d = tempfile.mkdtemp()
def write(name, b64):
    p = f"{d}/{name}"
    open(p, "wb").write(base64.b64decode(b64))
    return p
ctx = ssl.create_default_context(cafile=write("ca.crt", cluster["certificate-authority-data"]))
ctx.load_cert_chain(write("c.crt", user["client-certificate-data"]), write("c.key", user["client-key-data"]))

def get(headers):
    req = urllib.request.Request(cluster["server"] + "/openapi/v2", headers=headers)
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=60) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()

def expect(cond, msg):
    if not cond:
        print("FAIL:", msg)
        sys.exit(1)

ASK = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
SERVED = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
code, h, body = get({"Accept": ASK})
expect(code == 200 and h["Content-Type"] == SERVED, f"protobuf {code} {dict(h)}")
# Document field 1 (swagger) = "2.0", then field 2 (info).
expect(body[:6] == b"\x0a\x032.0\x12", f"protobuf starts {body[:16]!r}")
expect(b"io.k8s.api.apps.v1.Deployment" in body and b"x-kubernetes-group-version-kind" in body, "protobuf content")
etag = h["ETag"]
expect(etag and etag.startswith('"'), f"etag {etag}")
code, h, body2 = get({"Accept": ASK, "If-None-Match": etag})
expect(code == 304 and body2 == b"", f"If-None-Match gave {code}")
code, h, gz = get({"Accept": ASK, "Accept-Encoding": "gzip"})
expect(code == 200 and h["Content-Encoding"] == "gzip" and gzip.decompress(gz) == body, f"gzip {code} {dict(h)}")
code, h, j = get({"Accept": "application/json"})
doc = json.loads(j)
expect(code == 200 and h["Content-Type"] == "application/json" and h["ETag"] != etag, f"json {code} {dict(h)}")
expect(doc["swagger"] == "2.0" and "io.k8s.api.core.v1.Pod" in doc["definitions"], "json document")
patch = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
expect(patch["x-kubernetes-group-version-kind"] == {"group": "apps", "kind": "Deployment", "version": "v1"}, patch)
expect(any(p["name"] == "fieldValidation" and p["in"] == "query" for p in patch["parameters"]), "fieldValidation")
code, _, _ = get({"Accept": "text/html"})
expect(code == 406, f"text/html gave {code}")
print("ok")
"#;

#[test]
fn raw_content_types_and_caching() {
    let c = Cluster::start();
    let out = Command::new(python())
        .arg("-c")
        .arg(RAW)
        .arg(c.kubeconfig())
        .output()
        .unwrap();
    assert!(
        out.status.success() && stdout(&out).contains("ok"),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    // kubectl's own raw GET asks for JSON.
    let doc: serde_json::Value = serde_json::from_str(&c.ok(&["get", "--raw", "/openapi/v2"])).unwrap();
    assert_eq!(doc["swagger"], "2.0");
}
