//! Node end-to-end tests: `krust server` with its node agent running real containers
//! through containerd, runc and the CNI bridge, driven with the real kubectl. They need
//! root and the packages `make test` installs; without them each test says why and
//! passes without running. Traffic goes only to pod addresses inside network namespaces
//! these tests' pods created.

// Test helpers may unwrap: a panic is a failed test.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use krust_e2e::Cluster;
use krust_e2e::node::{self, http_get, phase, tail};
use serde_json::Value;

fn node_cluster() -> Option<Cluster> {
    node::node_cluster(&[])
}

#[test]
fn a_pod_runs_init_containers_then_serves_http_on_its_pod_ip() {
    let Some(c) = node_cluster() else { return };
    let node = c.get_json(&["nodes"]);
    let n = &node["items"][0];
    assert_eq!(
        n["metadata"]["labels"]["node-role.kubernetes.io/control-plane"],
        "true"
    );
    assert_eq!(n["status"]["capacity"]["pods"], "110");
    assert!(
        n["status"]["nodeInfo"]["containerRuntimeVersion"]
            .as_str()
            .unwrap()
            .starts_with("containerd://"),
        "{n:#}"
    );
    c.ok_stdin(
        &["apply", "-f", "-"],
        r#"
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  initContainers:
  - name: first
    image: krust.io/busybox:1.35
    command: ["sh", "-c", "echo first > /www/order"]
    volumeMounts: [{name: www, mountPath: /www}]
  - name: second
    image: krust.io/busybox:1.35
    command: ["sh", "-c", "echo second >> /www/order"]
    volumeMounts: [{name: www, mountPath: /www}]
  containers:
  - name: httpd
    image: krust.io/busybox:1.35
    command: ["sh", "-c"]
    args: ["echo \"$(GREETING) from $(POD_NAME) in $(POD_NS)\" > /www/index.html; exec httpd -f -p 8080 -h /www"]
    env:
    - {name: WHO, value: world}
    - {name: GREETING, value: "hello $(WHO)"}
    - name: POD_NAME
      valueFrom: {fieldRef: {fieldPath: metadata.name}}
    - name: POD_NS
      valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
    ports: [{containerPort: 8080}]
    volumeMounts: [{name: www, mountPath: /www}]
  volumes:
  - {name: www, emptyDir: {}}
"#,
    );
    let pod = c.wait_pod("web", "Running and Ready", |v| {
        phase(v) == "Running" && v["status"]["containerStatuses"][0]["ready"] == true
    });
    let ip = pod["status"]["podIP"].as_str().unwrap().to_string();
    assert!(
        ip.starts_with("10.42."),
        "pod IP {ip} is from the node's pod CIDR"
    );
    assert_eq!(
        pod["status"]["hostIP"],
        node["items"][0]["status"]["addresses"][0]["address"]
    );
    let init = pod["status"]["initContainerStatuses"].as_array().unwrap();
    assert!(
        init.iter().all(|s| s["state"]["terminated"]["exitCode"] == 0),
        "{init:#?}"
    );
    let app = &pod["status"]["containerStatuses"][0];
    assert!(app["containerID"].as_str().unwrap().starts_with("containerd://"));
    assert!(app["imageID"].as_str().unwrap().starts_with("sha256:"), "{app:#}");
    // The server may need a moment after the container started.
    let deadline = Instant::now() + Duration::from_secs(30);
    let page = loop {
        match http_get(&ip, 8080, "/") {
            Ok(text) if text.contains("200 OK") => break text,
            other => {
                assert!(Instant::now() < deadline, "GET http://{ip}:8080/: {other:?}");
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    };
    assert!(page.contains("hello world from web in default"), "{page}");
    let order = http_get(&ip, 8080, "/order").unwrap();
    assert!(
        order.ends_with("first\nsecond\n"),
        "init containers ran in order: {order}"
    );

    c.ok(&["delete", "pod", "web", "--grace-period=1", "--timeout=60s"]);
    assert!(
        http_get(&ip, 8080, "/").is_err(),
        "the pod's server is gone with the pod"
    );
}

#[test]
fn a_crashing_container_backs_off_and_keeps_its_last_state() {
    let Some(c) = node_cluster() else { return };
    c.ok_stdin(
        &["apply", "-f", "-"],
        r#"
apiVersion: v1
kind: Pod
metadata: {name: crash}
spec:
  containers:
  - name: c
    image: krust.io/busybox:1.35
    command: ["sh", "-c", "echo about to fail; exit 3"]
"#,
    );
    let pod = c.wait_pod("crash", "CrashLoopBackOff after two restarts", |v| {
        let s = &v["status"]["containerStatuses"][0];
        s["restartCount"].as_i64().unwrap_or(0) >= 2 && s["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    });
    let s = &pod["status"]["containerStatuses"][0];
    assert_eq!(s["lastState"]["terminated"]["exitCode"], 3, "{s:#}");
    assert_eq!(s["lastState"]["terminated"]["reason"], "Error");
    assert_eq!(s["ready"], false);
    assert_eq!(phase(&pod), "Running");
    let msg = s["state"]["waiting"]["message"].as_str().unwrap();
    assert!(
        msg.starts_with("back-off ") && msg.contains("s restarting failed container=c pod=crash_default("),
        "{msg}"
    );
    // The node agent records what happened, as kubelet does.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let events = c.ok(&[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=crash",
            "-o",
            "json",
        ]);
        let reasons: Vec<String> = serde_json::from_str::<Value>(&events).unwrap()["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["reason"].as_str().unwrap_or_default().to_string())
            .collect();
        if ["Created", "Started", "BackOff"]
            .iter()
            .all(|r| reasons.iter().any(|x| x == r))
        {
            break;
        }
        assert!(Instant::now() < deadline, "events: {reasons:?}");
        std::thread::sleep(Duration::from_millis(300));
    }
    let described = c.ok(&["describe", "pod", "crash"]);
    assert!(
        described.contains("Back-off restarting failed container c in pod crash_default"),
        "{described}"
    );
}

#[test]
fn a_restarted_agent_adopts_running_containers() {
    let Some(mut c) = node_cluster() else { return };
    c.ok_stdin(
        &["apply", "-f", "-"],
        r#"
apiVersion: v1
kind: Pod
metadata: {name: steady}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: krust.io/busybox:1.35
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"]
"#,
    );
    let before = c.wait_pod("steady", "Running", |v| phase(v) == "Running");
    let id = before["status"]["containerStatuses"][0]["containerID"].clone();
    let ip = before["status"]["podIP"].clone();
    assert!(c.stop(), "the server stops cleanly; log:\n{}", tail(&c.log()));
    c.restart();
    // Give the agent time to look at the pod again, then compare.
    std::thread::sleep(Duration::from_secs(5));
    let after = c.wait_pod("steady", "Running after the restart", |v| phase(v) == "Running");
    let s = &after["status"]["containerStatuses"][0];
    assert_eq!(s["containerID"], id, "the same container runs on");
    assert_eq!(s["restartCount"], 0);
    assert_eq!(after["status"]["podIP"], ip);
}

#[test]
fn readiness_follows_its_probe_and_a_failed_liveness_probe_restarts_the_container() {
    let Some(c) = node_cluster() else { return };
    c.ok_stdin(
        &["apply", "-f", "-"],
        r#"
apiVersion: v1
kind: Pod
metadata: {name: probed}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: ready-for-a-while
    image: krust.io/busybox:1.35
    command: ["sh", "-c", "sleep 2; touch /tmp/ready; sleep 6; rm /tmp/ready; exec sleep 3600"]
    readinessProbe:
      exec: {command: ["cat", "/tmp/ready"]}
      periodSeconds: 1
      failureThreshold: 1
  - name: alive-for-a-while
    image: krust.io/busybox:1.35
    command: ["sh", "-c", "mkdir -p /www; echo ok > /www/healthz; httpd -p 8081 -h /www; sleep 5; rm /www/healthz; exec sleep 3600"]
    ports: [{name: health, containerPort: 8081}]
    livenessProbe:
      httpGet: {path: /healthz, port: health}
      periodSeconds: 1
      failureThreshold: 2
"#,
    );
    let status = |v: &Value, name: &str| -> Value {
        v["status"]["containerStatuses"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["name"] == name)
            .cloned()
            .unwrap_or(Value::Null)
    };
    // Running but not ready until the file exists.
    let first = c.wait_pod("probed", "running", |v| {
        status(v, "ready-for-a-while")["state"]["running"].is_object()
    });
    assert_eq!(status(&first, "ready-for-a-while")["ready"], false, "{first:#}");
    c.wait_pod("probed", "the first container ready", |v| {
        status(v, "ready-for-a-while")["ready"] == true
    });
    let gone = c.wait_pod("probed", "not ready again once the file is gone", |v| {
        status(v, "ready-for-a-while")["ready"] == false
    });
    assert_eq!(
        status(&gone, "ready-for-a-while")["restartCount"],
        0,
        "a failing readiness probe does not restart"
    );
    let pod_ready = gone["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .unwrap()
        .clone();
    assert_eq!(pod_ready["status"], "False", "{pod_ready:#}");
    let restarted = c.wait_pod("probed", "the liveness-probed container restarted", |v| {
        status(v, "alive-for-a-while")["restartCount"]
            .as_i64()
            .unwrap_or(0)
            >= 1
    });
    let s = status(&restarted, "alive-for-a-while");
    assert!(s["lastState"]["terminated"].is_object(), "{s:#}");
}

#[test]
fn config_maps_secrets_and_the_downward_api_reach_containers_and_updates_follow() {
    let Some(c) = node::node_cluster(&["--node-sync-frequency", "2s"]) else {
        return;
    };
    c.ok_stdin(
        &["apply", "-f", "-"],
        r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: site}
data:
  index.html: "version one"
  greeting: hello
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData:
  password: hunter2
---
apiVersion: v1
kind: Pod
metadata: {name: reader, labels: {tier: web}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: httpd
    image: krust.io/busybox:1.35
    command: ["sh", "-c", "mkdir -p /www; echo \"$GREETING $PASSWORD $SITE_greeting\" > /www/env; cp /etc/creds/password /www/secret; cp /etc/podinfo/labels /www/labels; ln -s /etc/site/index.html /www/index.html; mount | grep -E '/etc/creds|/scratch' > /www/mounts; exec httpd -f -p 8080 -h /www"]
    env:
    - name: GREETING
      valueFrom: {configMapKeyRef: {name: site, key: greeting}}
    - name: PASSWORD
      valueFrom: {secretKeyRef: {name: creds, key: password}}
    envFrom:
    - {configMapRef: {name: site}, prefix: SITE_}
    volumeMounts:
    - {name: site, mountPath: /etc/site}
    - {name: creds, mountPath: /etc/creds}
    - {name: podinfo, mountPath: /etc/podinfo}
    - {name: scratch, mountPath: /scratch}
  volumes:
  - {name: scratch, emptyDir: {medium: Memory, sizeLimit: 16Mi}}
  - {name: site, configMap: {name: site}}
  - {name: creds, secret: {secretName: creds, defaultMode: 0400}}
  - name: podinfo
    downwardAPI:
      items: [{path: labels, fieldRef: {fieldPath: metadata.labels}}]
"#,
    );
    let pod = c.wait_pod("reader", "Running", |v| phase(v) == "Running");
    let ip = pod["status"]["podIP"].as_str().unwrap().to_string();
    c.wait_page(&ip, 8080, "/env", "hello hunter2 hello");
    c.wait_page(&ip, 8080, "/secret", "hunter2");
    c.wait_page(&ip, 8080, "/labels", "tier=\"web\"");
    let mounts = c.wait_page(&ip, 8080, "/mounts", "tmpfs");
    assert!(
        mounts.lines().filter(|l| l.starts_with("tmpfs")).count() >= 2,
        "the secret and the memory emptyDir are tmpfs mounts: {mounts}"
    );
    assert!(
        mounts.contains("size=16384k"),
        "sizeLimit is the tmpfs size: {mounts}"
    );
    c.wait_page(&ip, 8080, "/", "version one");
    // An edit of the ConfigMap reaches the running container's volume.
    c.ok(&[
        "patch",
        "configmap",
        "site",
        "-p",
        r#"{"data":{"index.html":"version two"}}"#,
    ]);
    c.wait_page(&ip, 8080, "/", "version two");
    assert_eq!(
        pod["status"]["containerStatuses"][0]["restartCount"], 0,
        "no restart was needed"
    );

    // A pod whose env refers to a missing key does not start, and says why.
    c.ok_stdin(
        &["apply", "-f", "-"],
        r#"
apiVersion: v1
kind: Pod
metadata: {name: misconfigured}
spec:
  containers:
  - name: c
    image: krust.io/busybox:1.35
    command: ["sleep", "3600"]
    env:
    - name: X
      valueFrom: {configMapKeyRef: {name: site, key: nope}}
"#,
    );
    let bad = c.wait_pod("misconfigured", "CreateContainerConfigError", |v| {
        v["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "CreateContainerConfigError"
    });
    let msg = bad["status"]["containerStatuses"][0]["state"]["waiting"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(msg, "couldn't find key nope in ConfigMap default/site");
}

#[test]
fn hooks_run_in_order_and_the_grace_period_is_honoured() {
    let Some(c) = node_cluster() else { return };
    let marks = c.dir.path().join("marks");
    std::fs::create_dir_all(&marks).unwrap();
    let manifest = r#"
apiVersion: v1
kind: Pod
metadata: {name: graceful}
spec:
  terminationGracePeriodSeconds: 10
  containers:
  - name: c
    image: krust.io/busybox:1.35
    command: ["sh", "-c", "trap 'echo term >> /host/order; exit 0' TERM; echo started >> /host/order; while :; do sleep 1; done"]
    lifecycle:
      postStart: {exec: {command: ["sh", "-c", "echo poststart >> /host/post"]}}
      preStop: {exec: {command: ["sh", "-c", "echo prestop >> /host/order"]}}
    volumeMounts: [{name: host, mountPath: /host}]
  volumes:
  - name: host
    hostPath: {path: MARKS}
---
apiVersion: v1
kind: Pod
metadata: {name: stubborn}
spec:
  terminationGracePeriodSeconds: 3
  containers:
  - name: c
    image: krust.io/busybox:1.35
    command: ["sh", "-c", "trap '' TERM; while :; do sleep 1; done"]
---
apiVersion: v1
kind: Pod
metadata: {name: reporter}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: krust.io/busybox:1.35
    command: ["sh", "-c", "echo all done > /dev/termination-log; exit 0"]
"#
    .replace("MARKS", &marks.display().to_string());
    c.ok_stdin(&["apply", "-f", "-"], &manifest);
    c.wait_pod("graceful", "Running", |v| phase(v) == "Running");
    c.wait_pod("stubborn", "Running", |v| phase(v) == "Running");
    let done = c.wait_pod("reporter", "Succeeded", |v| phase(v) == "Succeeded");
    assert_eq!(
        done["status"]["containerStatuses"][0]["state"]["terminated"]["message"], "all done\n",
        "{done:#}"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::read_to_string(marks.join("post")).unwrap_or_default() != "poststart\n" {
        assert!(Instant::now() < deadline, "the postStart hook did not run");
        std::thread::sleep(Duration::from_millis(200));
    }

    c.ok(&["delete", "pod", "graceful", "--timeout=60s"]);
    let order = std::fs::read_to_string(marks.join("order")).unwrap();
    assert_eq!(order, "started\nprestop\nterm\n", "preStop runs before SIGTERM");

    let started = Instant::now();
    c.ok(&["delete", "pod", "stubborn", "--timeout=60s"]);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(2500) && took < Duration::from_secs(20),
        "a container ignoring SIGTERM is killed at its 3 s grace period (took {took:?})"
    );
}

#[test]
fn a_local_path_claim_keeps_data_across_pods() {
    let Some(c) = node_cluster() else { return };
    let claim = r#"
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
"#;
    // A pod running `script` once with the claim mounted at /data.
    let pod_with_claim = |name: &str, script: &str| {
        format!(
            r#"
apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: krust.io/busybox:1.35
    command: ["sh", "-c", "{script}"]
    volumeMounts: [{{name: d, mountPath: /data}}]
  volumes:
  - {{name: d, persistentVolumeClaim: {{claimName: data}}}}
"#
        )
    };
    let writer = format!("{claim}---{}", pod_with_claim("writer", "echo kept > /data/file"));
    c.ok_stdin(&["apply", "-f", "-"], &writer);
    c.wait_pod("writer", "Succeeded", |v| phase(v) == "Succeeded");
    let pvc = c.get_json(&["pvc", "data"]);
    assert_eq!(pvc["status"]["phase"], "Bound", "{pvc:#}");
    let pv = c.get_json(&["pv", pvc["spec"]["volumeName"].as_str().unwrap()]);
    let path = pv["spec"]["hostPath"]["path"]
        .as_str()
        .or(pv["spec"]["local"]["path"].as_str())
        .unwrap()
        .to_string();
    assert_eq!(std::fs::read_to_string(format!("{path}/file")).unwrap(), "kept\n");
    c.ok_stdin(
        &["apply", "-f", "-"],
        &pod_with_claim("reader", "cat /data/file > /dev/termination-log"),
    );
    let done = c.wait_pod("reader", "Succeeded", |v| phase(v) == "Succeeded");
    assert_eq!(
        done["status"]["containerStatuses"][0]["state"]["terminated"]["message"],
        "kept\n"
    );
}

#[test]
fn an_image_built_and_imported_while_running_runs() {
    let Some(c) = node_cluster() else { return };
    let tar = c.dir.path().join("extra.tar");
    let krust = |args: &[&std::ffi::OsStr]| {
        let out = std::process::Command::new(krust_e2e::krust_bin())
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "krust {args:?}: {}",
            krust_e2e::stderr(&out)
        );
    };
    krust(&[
        "images".as_ref(),
        "build-busybox".as_ref(),
        tar.as_os_str(),
        "--name".as_ref(),
        "krust.io/extra:2".as_ref(),
    ]);
    krust(&[
        "images".as_ref(),
        "import".as_ref(),
        tar.as_os_str(),
        "--data-dir".as_ref(),
        c.data_dir().as_os_str(),
    ]);
    c.ok_stdin(
        &["apply", "-f", "-"],
        r#"
apiVersion: v1
kind: Pod
metadata: {name: extra}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: krust.io/extra:2
    imagePullPolicy: Never
    command: ["sh", "-c", "echo from the imported image > /dev/termination-log"]
"#,
    );
    let done = c.wait_pod("extra", "Succeeded", |v| phase(v) == "Succeeded");
    assert_eq!(
        done["status"]["containerStatuses"][0]["state"]["terminated"]["message"],
        "from the imported image\n"
    );
    // An image that is not there with pull policy Never says so and waits.
    c.ok_stdin(
        &["apply", "-f", "-"],
        r#"
apiVersion: v1
kind: Pod
metadata: {name: absent}
spec:
  containers:
  - {name: c, image: "krust.io/absent:1", imagePullPolicy: Never}
"#,
    );
    let v = c.wait_pod("absent", "ErrImageNeverPull", |v| {
        v["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "ErrImageNeverPull"
    });
    assert_eq!(phase(&v), "Pending");
}

#[test]
fn static_pod_manifests_run_as_mirror_pods() {
    let Some(c) = node_cluster() else { return };
    let node = c.get_json(&["nodes"])["items"][0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let dir = c.data_dir().join("agent/pod-manifests");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("web.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: static-web\nspec:\n  terminationGracePeriodSeconds: 1\n  containers:\n  - name: c\n    image: krust.io/busybox:1.35\n    command: [sleep, '3600']\n",
    )
    .unwrap();
    let name = format!("static-web-{node}");
    let pod = c.wait_pod(&name, "the mirror pod Running", |v| phase(v) == "Running");
    assert_eq!(
        pod["metadata"]["annotations"]["kubernetes.io/config.source"],
        "file"
    );
    assert_eq!(pod["metadata"]["ownerReferences"][0]["kind"], "Node");
    std::fs::remove_file(dir.join("web.yaml")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while c.kubectl(&["get", "pod", &name]).status.success() {
        assert!(
            Instant::now() < deadline,
            "the mirror pod was not removed with its manifest"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}
