//! ConfigMaps, Secrets, ServiceAccounts and Pods.

use super::*;

#[test]
fn config_maps_secrets_and_service_accounts() {
    let c = Cluster::start_with(API_ONLY);

    // ConfigMap (the docs' game-demo).
    let cm = manifest!("configmap.yaml");
    apply(&c, cm, &["configmap/game-demo created"]);
    expect_table(
        &c,
        &["configmap", "game-demo"],
        &["NAME", "DATA", "AGE"],
        "game-demo",
        &[("DATA", "4")],
    );
    let got = c.get_json(&["configmap", "game-demo"]);
    expect(
        &got,
        &[
            ("/data/player_initial_lives", json!("3")),
            (
                "/data/game.properties",
                json!("enemy.types=aliens,monsters\nplayer.maximum-lives=5\n"),
            ),
            ("/metadata/generation", Value::Null),
        ],
    );
    let yaml = c.ok(&["get", "configmap", "game-demo", "-o", "yaml"]);
    contains_all(
        &yaml,
        &[
            "kind: ConfigMap",
            "player_initial_lives: \"3\"",
            "game.properties: |",
        ],
    );
    let changed = cm
        .replace("player_initial_lives: \"3\"", "player_initial_lives: \"5\"")
        .replace("  ui_properties_file_name: \"user-interface.properties\"\n", "");
    apply(&c, &changed, &["configmap/game-demo configured"]);
    expect_table(
        &c,
        &["cm", "game-demo"],
        &["NAME", "DATA", "AGE"],
        "game-demo",
        &[("DATA", "3")],
    );
    let got = c.get_json(&["configmap", "game-demo"]);
    expect(
        &got,
        &[
            ("/data/player_initial_lives", json!("5")),
            ("/data/ui_properties_file_name", Value::Null),
        ],
    );
    apply(&c, &changed, &["configmap/game-demo unchanged"]);
    delete(&c, &changed, &["configmap \"game-demo\" deleted"]);
    gone(&c, &["configmap", "game-demo"]);

    // Secrets of each built-in type.
    let secrets = manifest!("secrets.yaml");
    apply(
        &c,
        secrets,
        &[
            "secret/db-credentials created",
            "secret/secret-basic-auth created",
            "secret/secret-ssh-auth created",
            "secret/secret-tls created",
            "secret/secret-dockercfg created",
            "secret/build-robot-secret created",
            "secret/bootstrap-token-5emitj created",
        ],
    );
    let header = ["NAME", "TYPE", "DATA", "AGE"];
    for (name, type_, data) in [
        ("db-credentials", "Opaque", "2"),
        ("secret-basic-auth", "kubernetes.io/basic-auth", "2"),
        ("secret-ssh-auth", "kubernetes.io/ssh-auth", "1"),
        ("secret-tls", "kubernetes.io/tls", "2"),
        ("secret-dockercfg", "kubernetes.io/dockerconfigjson", "1"),
        ("build-robot-secret", "kubernetes.io/service-account-token", "0"),
    ] {
        expect_table(
            &c,
            &["secret", name],
            &header,
            name,
            &[("TYPE", type_), ("DATA", data)],
        );
    }
    expect_table(
        &c,
        &["secret", "-n", "kube-system", "bootstrap-token-5emitj"],
        &header,
        "bootstrap-token-5emitj",
        &[("TYPE", "bootstrap.kubernetes.io/token"), ("DATA", "3")],
    );
    // stringData is written into data (base64) and not kept.
    let s = c.get_json(&["secret", "db-credentials"]);
    expect(
        &s,
        &[
            ("/type", json!("Opaque")),
            ("/data/username", json!("YWRtaW4=")),
            ("/data/password", json!("dDBwLVNlY3JldA==")),
            ("/stringData", Value::Null),
        ],
    );
    let s = c.get_json(&["secret", "secret-basic-auth"]);
    expect(
        &s,
        &[
            ("/data/username", json!("YWRtaW4=")),
            ("/stringData", Value::Null),
        ],
    );
    // A secret without a type is Opaque.
    apply(
        &c,
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: untyped\nstringData:\n  k: v\n",
        &["secret/untyped created"],
    );
    expect(&c.get_json(&["secret", "untyped"]), &[("/type", json!("Opaque"))]);
    let changed = secrets.replace("username: YWRtaW4=", "username: cm9vdA==");
    apply(
        &c,
        &changed,
        &["secret/db-credentials configured", "secret/secret-tls unchanged"],
    );
    expect(
        &c.get_json(&["secret", "db-credentials"]),
        &[
            ("/data/username", json!("cm9vdA==")),
            ("/data/password", json!("dDBwLVNlY3JldA==")),
        ],
    );
    // The type of a secret cannot change.
    let err = rejected(
        &c,
        "apply",
        &changed.replace("type: kubernetes.io/ssh-auth", "type: Opaque"),
    );
    contains_all(
        &err,
        &[
            "The Secret \"secret-ssh-auth\" is invalid",
            "type",
            "field is immutable",
        ],
    );
    delete(
        &c,
        &changed,
        &[
            "secret \"db-credentials\" deleted",
            "secret \"secret-tls\" deleted",
            "secret \"bootstrap-token-5emitj\" deleted",
        ],
    );
    gone(&c, &["secret", "secret-dockercfg"]);

    // ServiceAccount.
    let sa = manifest!("serviceaccount.yaml");
    apply(&c, sa, &["serviceaccount/build-robot created"]);
    expect_table(
        &c,
        &["sa", "build-robot"],
        &["NAME", "SECRETS", "AGE"],
        "build-robot",
        &[("SECRETS", "0")],
    );
    expect(
        &c.get_json(&["serviceaccount", "build-robot"]),
        &[
            ("/automountServiceAccountToken", json!(false)),
            ("/imagePullSecrets", json!([{"name": "secret-dockercfg"}])),
        ],
    );
    let changed = sa.replace(
        "automountServiceAccountToken: false",
        "automountServiceAccountToken: true",
    ) + "secrets:\n- name: build-robot-secret\n";
    apply(&c, &changed, &["serviceaccount/build-robot configured"]);
    expect_table(
        &c,
        &["serviceaccount", "build-robot"],
        &["NAME", "SECRETS", "AGE"],
        "build-robot",
        &[("SECRETS", "1")],
    );
    expect(
        &c.get_json(&["sa", "build-robot"]),
        &[("/automountServiceAccountToken", json!(true))],
    );
    delete(&c, &changed, &["serviceaccount \"build-robot\" deleted"]);
    gone(&c, &["sa", "build-robot"]);
}

#[test]
fn pods() {
    let c = Cluster::start_with(API_ONLY);
    let pod = manifest!("pod.yaml");
    apply(&c, pod, &["pod/nginx created"]);
    expect_table(
        &c,
        &["pod", "nginx"],
        &["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        "nginx",
        &[("READY", "0/1"), ("STATUS", "Pending"), ("RESTARTS", "0")],
    );
    expect_table(
        &c,
        &["pods", "nginx", "-o", "wide"],
        &[
            "NAME",
            "READY",
            "STATUS",
            "RESTARTS",
            "AGE",
            "IP",
            "NODE",
            "NOMINATED NODE",
            "READINESS GATES",
        ],
        "nginx",
        &[
            ("IP", "<none>"),
            ("NODE", "<none>"),
            ("NOMINATED NODE", "<none>"),
            ("READINESS GATES", "<none>"),
        ],
    );
    let p = c.get_json(&["pod", "nginx"]);
    let ctr = "/spec/containers/0";
    expect(
        &p,
        &[
            ("/spec/restartPolicy", json!("Always")),
            ("/spec/dnsPolicy", json!("ClusterFirst")),
            ("/spec/schedulerName", json!("default-scheduler")),
            ("/spec/terminationGracePeriodSeconds", json!(30)),
            ("/spec/securityContext", json!({})),
            ("/spec/enableServiceLinks", json!(true)),
            ("/spec/priority", json!(0)),
            ("/spec/preemptionPolicy", json!("PreemptLowerPriority")),
            (&format!("{ctr}/imagePullPolicy"), json!("IfNotPresent")),
            (
                &format!("{ctr}/terminationMessagePath"),
                json!("/dev/termination-log"),
            ),
            (&format!("{ctr}/terminationMessagePolicy"), json!("File")),
            (&format!("{ctr}/ports/0/protocol"), json!("TCP")),
            // Quantities come back in canonical form.
            (&format!("{ctr}/resources/requests/cpu"), json!("250m")),
            (&format!("{ctr}/resources/limits/memory"), json!("128Mi")),
            (&format!("{ctr}/env/1/valueFrom/fieldRef/apiVersion"), json!("v1")),
            (&format!("{ctr}/livenessProbe/httpGet/scheme"), json!("HTTP")),
            (&format!("{ctr}/livenessProbe/timeoutSeconds"), json!(1)),
            (&format!("{ctr}/livenessProbe/periodSeconds"), json!(10)),
            (&format!("{ctr}/livenessProbe/successThreshold"), json!(1)),
            (&format!("{ctr}/livenessProbe/failureThreshold"), json!(3)),
            (
                &format!("{ctr}/readinessProbe/tcpSocket/port"),
                json!("http-web-svc"),
            ),
            ("/spec/volumes/0/emptyDir/sizeLimit", json!("500Mi")),
            ("/spec/volumes/1/configMap/defaultMode", json!(420)),
            ("/status/phase", json!("Pending")),
            ("/status/qosClass", json!("Burstable")),
            ("/metadata/generation", json!(1)),
        ],
    );
    let yaml = c.ok(&["get", "pod", "nginx", "-o", "yaml"]);
    contains_all(&yaml, &["kind: Pod", "phase: Pending", "qosClass: Burstable"]);
    // Of a pod's spec, only images (and a few fields) may change; labels always may.
    let changed = pod.replace("nginx:1.14.2", "nginx:1.16.1").replace(
        "    app.kubernetes.io/name: proxy\n",
        "    app.kubernetes.io/name: proxy\n    tier: web\n",
    );
    apply(&c, &changed, &["pod/nginx configured"]);
    expect(
        &c.get_json(&["po", "nginx"]),
        &[
            ("/spec/containers/0/image", json!("nginx:1.16.1")),
            ("/metadata/labels/tier", json!("web")),
            ("/spec/containers/0/env/0/name", json!("DEMO_GREETING")),
            ("/metadata/generation", json!(2)),
        ],
    );
    let err = rejected(
        &c,
        "apply",
        &changed.replace("containerPort: 80", "containerPort: 8080"),
    );
    contains_all(
        &err,
        &[
            "The Pod \"nginx\" is invalid",
            "spec: Forbidden: pod updates may not change fields other than",
        ],
    );
    delete(&c, &changed, &["pod \"nginx\" deleted"]);
    gone(&c, &["pod", "nginx"]);
}
