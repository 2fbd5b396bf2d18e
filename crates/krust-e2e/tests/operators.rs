//! Operators written with third-party frameworks run unchanged against krust.
//!
//! - kopf (Python): `tests/python/kopf_operator.py` runs as `python -m kopf run --standalone`
//!   against the cluster. It adds its own finalizer, keeps its state in annotations, writes
//!   `status.message` through merge patches on the status subresource, posts an Event, follows
//!   a change of `spec.name`, and on delete creates a ConfigMap before it lets the object go.
//! - kube-rs (Rust): a `#[derive(CustomResource)]` type whose CRD is created from
//!   `Greeting::crd()` by server-side apply, and a `kube::runtime::Controller` that writes
//!   status by server-side apply on the status subresource and cleans up through the
//!   `kube::runtime::finalizer` helper (JSON patches with `test` operations).
//!
//! Both drive the same Greeting kind (`greetings.example.com/v1`) through create, update and
//! delete, and the test waits (with a deadline) for what the operator does each time.

// Test helpers may unwrap: a panic is a failed test.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use krust_e2e::{Cluster, python, stderr};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::finalizer::{self, Event as Finalizer};
use kube::runtime::{conditions, wait::await_condition, watcher};
use kube::{Client, CustomResource, CustomResourceExt, Resource, ResourceExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

const API_ONLY: &[&str] = &["--disable-controller-manager", "--disable-scheduler"];

/// How long an operator may take to react to one change.
const DEADLINE: Duration = Duration::from_secs(60);

/// Polls `probe` until it returns `Some`, failing with `what` and `diag()` after [`DEADLINE`].
fn wait_for<T>(what: &str, mut probe: impl FnMut() -> Option<T>, diag: impl Fn() -> String) -> T {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {DEADLINE:?} waiting for {what}\n{}",
            diag()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The last `lines` lines of `text`.
fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

// ---------------------------------------------------------------------------------------------
// kopf

const GREETING_CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: greetings.example.com
spec:
  group: example.com
  scope: Namespaced
  names:
    kind: Greeting
    listKind: GreetingList
    plural: greetings
    singular: greeting
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [name]
            properties:
              name:
                type: string
          status:
            type: object
            properties:
              message:
                type: string
"#;

/// The kopf operator process; killed when dropped, also when the test panics.
struct Kopf {
    child: Child,
    log: std::path::PathBuf,
}

impl Kopf {
    fn start(cluster: &Cluster) -> Self {
        let py = python();
        let probe = Command::new(&py).args(["-c", "import kopf"]).output().unwrap();
        assert!(
            probe.status.success(),
            "kopf is not installed for {} (run scripts/install-deps.sh test): {}",
            py.display(),
            stderr(&probe)
        );
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/kopf_operator.py");
        let log = cluster.dir.path().join("kopf.log");
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(&py)
            .args(["-m", "kopf", "run", "--standalone", "--namespace=default"])
            .arg(script)
            .env("KUBECONFIG", cluster.kubeconfig())
            .env("HOME", cluster.dir.path())
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        Self { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Fails the test at once if kopf has exited.
    fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("kopf exited ({status}); its output:\n{}", self.log());
        }
    }
}

impl Drop for Kopf {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `kubectl get <args> -o json`, or `None` when the object does not exist.
fn get_opt(cluster: &Cluster, args: &[&str]) -> Option<Value> {
    let mut a = vec!["get"];
    a.extend_from_slice(args);
    a.extend_from_slice(&["-o", "json", "--ignore-not-found"]);
    let out = cluster.ok(&a);
    (!out.trim().is_empty()).then(|| serde_json::from_str(&out).unwrap())
}

#[test]
fn kopf_operator_handles_create_update_delete() {
    let cluster = Cluster::start_with(API_ONLY);
    cluster.ok_stdin(&["apply", "-f", "-"], GREETING_CRD);
    cluster.ok(&[
        "wait",
        "--for=condition=Established",
        "crd/greetings.example.com",
        "--timeout=30s",
    ]);

    let kopf = std::cell::RefCell::new(Kopf::start(&cluster));
    let diag = || {
        format!(
            "kopf output:\n{}\nserver log (tail):\n{}",
            tail(&kopf.borrow().log(), 60),
            tail(&cluster.log(), 40)
        )
    };
    let greeting = |probe: &dyn Fn(&Value) -> bool| {
        kopf.borrow_mut().assert_running();
        get_opt(&cluster, &["greeting", "hello"]).filter(|g| probe(g))
    };

    // Create: kopf adds its finalizer and answers in status.
    cluster.ok_stdin(
        &["create", "-f", "-"],
        "apiVersion: example.com/v1\nkind: Greeting\nmetadata:\n  name: hello\nspec:\n  name: world\n",
    );
    let g = wait_for(
        "kopf to set status.message on create",
        || greeting(&|g| g["status"]["message"] == "hello world"),
        diag,
    );
    let finalizers = g["metadata"]["finalizers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        finalizers
            .iter()
            .any(|f| f.as_str().is_some_and(|f| f.starts_with("kopf.zalando.org/"))),
        "kopf's finalizer is missing: {g}"
    );
    let annotations = g["metadata"]["annotations"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    assert!(
        annotations.contains_key("kopf.zalando.org/last-handled-configuration"),
        "kopf's last-handled annotation is missing: {g}"
    );
    // status.kopf (kopf's progress copy) is not in the schema, so it is pruned.
    assert!(
        g["status"].get("kopf").is_none(),
        "status.kopf was not pruned: {g}"
    );

    // The Event kopf posted about the Greeting.
    wait_for(
        "kopf's Greeted event",
        || {
            let events = cluster.get_json(&["events", "-n", "default"]);
            events["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["reason"] == "Greeted" && e["involvedObject"]["name"] == "hello")
                .map(|e| assert_eq!(e["message"], "hello world", "{e}"))
        },
        diag,
    );

    // Update: the status follows spec.name.
    cluster.ok(&[
        "patch",
        "greeting",
        "hello",
        "--type=merge",
        "-p",
        r#"{"spec":{"name":"krust"}}"#,
    ]);
    wait_for(
        "kopf to update status.message after spec.name changed",
        || greeting(&|g| g["status"]["message"] == "hello krust"),
        diag,
    );

    // Delete: kopf's deletion handler runs (it writes a ConfigMap), then kopf removes its
    // finalizer and the object goes away.
    cluster.ok(&["delete", "greeting", "hello", "--wait=false"]);
    wait_for(
        "the Greeting to be gone after kopf's deletion handler",
        || {
            kopf.borrow_mut().assert_running();
            get_opt(&cluster, &["greeting", "hello"]).is_none().then_some(())
        },
        diag,
    );
    let cm = cluster.get_json(&["configmap", "goodbye-hello"]);
    assert_eq!(cm["data"]["message"], "goodbye krust", "{cm}");

    let log = kopf.borrow().log();
    for line in [
        "Handler 'on_create' succeeded",
        "Handler 'on_name_change/spec.name' succeeded",
        "Handler 'on_delete' succeeded",
    ] {
        assert!(log.contains(line), "kopf did not log {line:?}:\n{log}");
    }
    for bad in ["Traceback", "[ERROR", "APIError", "Patching failed"] {
        assert!(!log.contains(bad), "kopf logged {bad:?}:\n{log}");
    }
}

// ---------------------------------------------------------------------------------------------
// kube-rs

/// What a Greeting asks for.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, JsonSchema)]
#[kube(
    group = "example.com",
    version = "v1",
    kind = "Greeting",
    namespaced,
    status = "GreetingStatus"
)]
struct GreetingSpec {
    /// Whom to greet.
    name: String,
}

/// What the greeter wrote back.
#[derive(Serialize, Deserialize, Clone, Debug, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct GreetingStatus {
    /// "hello <spec.name>".
    message: String,
    /// The generation the message was written for.
    observed_generation: Option<i64>,
}

const MANAGER: &str = "greeter";
const FINALIZER: &str = "example.com/greeter";

struct Ctx {
    client: Client,
    /// The last reconcile error, shown when the test times out.
    last_error: std::sync::Mutex<Option<String>>,
}

/// Level-triggered: greets on every change, says goodbye (a ConfigMap) on delete.
async fn reconcile(g: Arc<Greeting>, ctx: Arc<Ctx>) -> Result<Action, finalizer::Error<kube::Error>> {
    let ns = g.namespace().unwrap();
    let api: Api<Greeting> = Api::namespaced(ctx.client.clone(), &ns);
    finalizer::finalizer(&api, FINALIZER, g, |event| async {
        match event {
            Finalizer::Apply(g) => {
                // Like kube-rs's own controller example, the apply configuration names no
                // object: the URL does, and Kubernetes takes the name from there.
                let status = json!({
                    "apiVersion": Greeting::api_version(&()),
                    "kind": Greeting::kind(&()),
                    "status": GreetingStatus {
                        message: format!("hello {}", g.spec.name),
                        observed_generation: g.metadata.generation,
                    },
                });
                api.patch_status(
                    &g.name_any(),
                    &PatchParams::apply(MANAGER).force(),
                    &Patch::Apply(status),
                )
                .await?;
                Ok(Action::await_change())
            }
            Finalizer::Cleanup(g) => {
                let cms: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &ns);
                let cm = json!({
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": format!("goodbye-{}", g.name_any())},
                    "data": {"message": format!("goodbye {}", g.spec.name)},
                });
                cms.patch(
                    &format!("goodbye-{}", g.name_any()),
                    &PatchParams::apply(MANAGER).force(),
                    &Patch::Apply(cm),
                )
                .await?;
                Ok(Action::await_change())
            }
        }
    })
    .await
}

fn error_policy(_: Arc<Greeting>, err: &finalizer::Error<kube::Error>, ctx: Arc<Ctx>) -> Action {
    *ctx.last_error.lock().unwrap() = Some(err.to_string());
    Action::requeue(Duration::from_secs(1))
}

/// Polls `probe` (async) until it returns `Some`, failing with `what`, the controller's last
/// error and the server log after [`DEADLINE`].
async fn wait_for_async<T, F>(what: &str, cluster: &Cluster, ctx: &Ctx, mut probe: impl FnMut() -> F) -> T
where
    F: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {DEADLINE:?} waiting for {what}\nlast reconcile error: {:?}\nserver log (tail):\n{}",
            ctx.last_error.lock().unwrap(),
            tail(&cluster.log(), 40)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Aborts the controller task when dropped, also when the test panics.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[test]
fn kube_rs_controller_handles_create_update_delete() {
    let cluster = Cluster::start_with(API_ONLY);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(kube_rs_flow(&cluster));
}

async fn kube_rs_flow(cluster: &Cluster) {
    let kubeconfig = Kubeconfig::read_from(cluster.kubeconfig()).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap();
    let client = Client::try_from(config).unwrap();

    // The CRD, from the Rust type, by server-side apply.
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd = Greeting::crd();
    let crd_name = crd.metadata.name.clone().unwrap();
    assert_eq!(crd_name, "greetings.example.com");
    crds.patch(
        &crd_name,
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&crd),
    )
    .await
    .unwrap();
    tokio::time::timeout(
        DEADLINE,
        await_condition(crds.clone(), &crd_name, conditions::is_crd_established()),
    )
    .await
    .expect("CRD not Established in time")
    .unwrap();

    // The controller.
    let greetings: Api<Greeting> = Api::namespaced(client.clone(), "default");
    let ctx = Arc::new(Ctx {
        client: client.clone(),
        last_error: std::sync::Mutex::new(None),
    });
    let _controller = AbortOnDrop(tokio::spawn(
        Controller::new(greetings.clone(), watcher::Config::default())
            .run(reconcile, error_policy, ctx.clone())
            .for_each(|res| async move {
                if let Err(e) = res {
                    eprintln!("greeter: {e}");
                }
            }),
    ));

    // Create.
    let g = Greeting::new("hello", GreetingSpec { name: "world".into() });
    greetings.create(&PostParams::default(), &g).await.unwrap();
    let g = wait_for_async("status.message on create", cluster, &ctx, || async {
        let g = greetings.get("hello").await.unwrap();
        let done = g.status.as_ref().is_some_and(|s| s.message == "hello world");
        done.then_some(g)
    })
    .await;
    assert_eq!(g.finalizers(), [FINALIZER.to_string()]);
    assert_eq!(
        g.status.as_ref().unwrap().observed_generation,
        g.metadata.generation
    );
    // The status subresource records its own field manager.
    let managed = g.metadata.managed_fields.clone().unwrap_or_default();
    assert!(
        managed.iter().any(|m| m.manager.as_deref() == Some(MANAGER)
            && m.operation.as_deref() == Some("Apply")
            && m.subresource.as_deref() == Some("status")),
        "no Apply entry for the status subresource: {managed:?}"
    );

    // Update: the status follows the spec.
    greetings
        .patch(
            "hello",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"name": "krust"}})),
        )
        .await
        .unwrap();
    wait_for_async(
        "status.message after spec.name changed",
        cluster,
        &ctx,
        || async {
            let g = greetings.get("hello").await.unwrap();
            let s = g.status.clone().unwrap_or_default();
            (s.message == "hello krust" && s.observed_generation == g.metadata.generation).then_some(())
        },
    )
    .await;

    // Delete: the cleanup runs, the finalizer is removed, the object goes away.
    greetings.delete("hello", &DeleteParams::default()).await.unwrap();
    wait_for_async("the Greeting to be gone", cluster, &ctx, || async {
        greetings.get_opt("hello").await.unwrap().is_none().then_some(())
    })
    .await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let cm = cms.get("goodbye-hello").await.unwrap();
    assert_eq!(
        cm.data.unwrap_or_default().get("message").map(String::as_str),
        Some("goodbye krust")
    );
}
