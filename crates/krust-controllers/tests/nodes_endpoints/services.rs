//! Services list their pods in Endpoints and EndpointSlices, readiness included; hand-
//! written Endpoints are mirrored into slices.

use std::time::Duration;

use serde_json::Value;

use crate::support::*;

const WEB: &str = r#"apiVersion: v1
kind: Service
metadata:
  name: web
  labels: {team: a}
spec:
  selector: {app: web}
  ports:
  - name: web
    port: 80
    targetPort: http
"#;

/// A pod of `app=web` whose readiness the test controls through a readiness gate.
fn gated_pod(name: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels: {{app: web}}
spec:
  readinessGates:
  - conditionType: example.com/ready
  containers:
  - name: c
    image: nginx
    ports:
    - name: http
      containerPort: 8080
"#
    )
}

fn set_gate(env: &Env, pod: &str, status: &str) {
    let patch =
        format!(r#"{{"status":{{"conditions":[{{"type":"example.com/ready","status":"{status}"}}]}}}}"#);
    env.ok(&[
        "patch",
        "pod",
        pod,
        "--subresource=status",
        "--type=strategic",
        "-p",
        &patch,
    ]);
}

fn pod_ip(env: &Env, pod: &str) -> String {
    env.wait(&format!("{pod}'s IP"), || {
        let p = env.try_json(&["pod", pod])?;
        p["status"]["podIP"]
            .as_str()
            .filter(|ip| !ip.is_empty())
            .map(str::to_string)
    })
}

fn ips(list: &Value) -> Vec<String> {
    let mut v: Vec<String> = list
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x["ip"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// (ready IPs, not-ready IPs) of an Endpoints object.
fn endpoint_ips(ep: &Value) -> (Vec<String>, Vec<String>) {
    let subsets = ep["subsets"].as_array().cloned().unwrap_or_default();
    let mut ready: Vec<String> = subsets.iter().flat_map(|s| ips(&s["addresses"])).collect();
    let mut not_ready: Vec<String> = subsets
        .iter()
        .flat_map(|s| ips(&s["notReadyAddresses"]))
        .collect();
    ready.sort();
    not_ready.sort();
    (ready, not_ready)
}

/// Address → ready of every endpoint in the slices of a Service.
fn slice_readiness(env: &Env, svc: &str) -> Vec<(String, bool)> {
    let mut v: Vec<(String, bool)> = env
        .items(&[
            "endpointslices",
            "-l",
            &format!("kubernetes.io/service-name={svc}"),
        ])
        .iter()
        .flat_map(|s| s["endpoints"].as_array().cloned().unwrap_or_default())
        .map(|e| {
            (
                e["addresses"][0].as_str().unwrap_or_default().to_string(),
                e["conditions"]["ready"].as_bool().unwrap_or(false),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn services_get_endpoints_and_slices_of_their_ready_pods() {
    let env = Env::start();
    for p in ["web-a", "web-b", "web-c"] {
        env.apply(&gated_pod(p));
    }
    env.apply(WEB);
    let ips: Vec<String> = ["web-a", "web-b", "web-c"]
        .iter()
        .map(|p| pod_ip(&env, p))
        .collect();
    let mut all = ips.clone();
    all.sort();

    // Not ready yet (the gate is missing): all in notReadyAddresses.
    env.wait("three not-ready addresses", || {
        let ep = env.try_json(&["endpoints", "web"])?;
        (endpoint_ips(&ep) == (vec![], all.clone())).then_some(())
    });
    for p in ["web-a", "web-b", "web-c"] {
        set_gate(&env, p, "True");
    }
    let ep = env.wait("three ready addresses", || {
        let ep = env.try_json(&["endpoints", "web"])?;
        (endpoint_ips(&ep) == (all.clone(), vec![])).then_some(ep)
    });
    let subset = &ep["subsets"][0];
    assert_eq!(subset["ports"][0]["port"], 8080, "named port resolved: {ep}");
    assert_eq!(subset["ports"][0]["name"], "web");
    assert_eq!(subset["addresses"][0]["targetRef"]["kind"], "Pod");
    assert!(
        subset["addresses"][0]["nodeName"]
            .as_str()
            .unwrap()
            .starts_with("sim-")
    );
    assert_eq!(ep["metadata"]["labels"]["team"], "a", "the Service's labels");
    assert!(
        ep["metadata"]["annotations"]["endpoints.kubernetes.io/last-change-trigger-time"].is_string(),
        "{ep}"
    );

    // The slice: same pods, ready, owned by the Service, managed by the controller.
    let want: Vec<(String, bool)> = all.iter().map(|ip| (ip.clone(), true)).collect();
    env.wait("a slice of three ready endpoints", || {
        (slice_readiness(&env, "web") == want).then_some(())
    });
    let slices = env.items(&["endpointslices", "-l", "kubernetes.io/service-name=web"]);
    assert_eq!(slices.len(), 1);
    let s = &slices[0];
    assert_eq!(s["addressType"], "IPv4");
    assert_eq!(
        s["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"],
        "endpointslice-controller.k8s.io"
    );
    assert_eq!(s["metadata"]["labels"]["team"], "a");
    assert!(s["metadata"]["name"].as_str().unwrap().starts_with("web-"));
    assert_eq!(s["metadata"]["ownerReferences"][0]["kind"], "Service");
    assert_eq!(s["metadata"]["ownerReferences"][0]["controller"], true);
    assert_eq!(s["ports"][0]["port"], 8080);
    let e = &s["endpoints"][0];
    assert_eq!(e["conditions"]["serving"], true);
    assert_eq!(e["conditions"]["terminating"], false);
    assert_eq!(e["zone"], "zone-a", "zone from the node's topology label");
    assert_eq!(e["targetRef"]["kind"], "Pod");

    // Settled: the controllers do not keep rewriting what is already right. (A write that
    // was still due when the waits above were satisfied may land first; after that, the
    // versions must stay put for a while, with the same content.)
    let versions = || {
        let ep = env.try_json(&["endpoints", "web"])?;
        let slices = env.items(&["endpointslices", "-l", "kubernetes.io/service-name=web"]);
        Some((
            ep["metadata"]["resourceVersion"].clone(),
            slices.first()?["metadata"]["resourceVersion"].clone(),
        ))
    };
    env.quiet("no rewrites without changes", Duration::from_secs(5), versions);
    assert_eq!(
        endpoint_ips(&env.try_json(&["endpoints", "web"]).unwrap()),
        (all.clone(), vec![]),
        "settled on the three pods"
    );
    assert_eq!(slice_readiness(&env, "web"), want, "settled on the three pods");

    // web-b stops being ready: notReadyAddresses, ready=false in the slice.
    set_gate(&env, "web-b", "False");
    let ip_b = ips[1].clone();
    env.wait("web-b not ready in Endpoints", || {
        let (ready, not_ready) = endpoint_ips(&env.try_json(&["endpoints", "web"])?);
        (not_ready == [ip_b.clone()] && ready.len() == 2).then_some(())
    });
    env.wait("web-b not ready in the slice", || {
        slice_readiness(&env, "web")
            .iter()
            .any(|(ip, ready)| *ip == ip_b && !ready)
            .then_some(())
    });

    // A deleted pod leaves both.
    env.ok(&["delete", "pod", "web-c", "--wait=false"]);
    let ip_c = ips[2].clone();
    env.wait("web-c gone from Endpoints and slice", || {
        let (ready, not_ready) = endpoint_ips(&env.try_json(&["endpoints", "web"])?);
        let in_slice = slice_readiness(&env, "web").iter().any(|(ip, _)| *ip == ip_c);
        (!ready.contains(&ip_c) && !not_ready.contains(&ip_c) && !in_slice).then_some(())
    });

    // The API server's own kubernetes Endpoints are left alone and not mirrored.
    let kube_ep = env.try_json(&["endpoints", "kubernetes"]).unwrap();
    assert!(kube_ep["subsets"][0]["addresses"][0]["ip"].is_string());
    let mirrored_kube = env.items(&[
        "endpointslices",
        "-l",
        "kubernetes.io/service-name=kubernetes,endpointslice.kubernetes.io/managed-by",
    ]);
    assert!(mirrored_kube.is_empty(), "{mirrored_kube:?}");

    // Deleting the Service takes its Endpoints.
    env.ok(&["delete", "service", "web"]);
    env.wait("the Endpoints deleted", || {
        env.try_json(&["endpoints", "web"]).is_none().then_some(())
    });
}

#[test]
fn endpoints_without_a_selector_are_mirrored_into_slices() {
    let env = Env::start();
    env.apply(
        r#"apiVersion: v1
kind: Service
metadata:
  name: ext
spec:
  ports:
  - name: https
    port: 443
---
apiVersion: v1
kind: Endpoints
metadata:
  name: ext
  labels: {source: manual}
subsets:
- addresses:
  - ip: 192.0.2.10
  - ip: 192.0.2.11
  notReadyAddresses:
  - ip: 192.0.2.12
  ports:
  - name: https
    port: 8443
"#,
    );
    let slice = env.wait("a mirrored slice", || {
        let s = env.items(&["endpointslices", "-l", "kubernetes.io/service-name=ext"]);
        (s.len() == 1 && s[0]["endpoints"].as_array().is_some_and(|e| e.len() == 3)).then(|| s[0].clone())
    });
    assert_eq!(
        slice["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"],
        "endpointslicemirroring-controller.k8s.io"
    );
    assert_eq!(slice["metadata"]["labels"]["source"], "manual");
    assert_eq!(slice["metadata"]["ownerReferences"][0]["name"], "ext");
    assert_eq!(slice["ports"][0]["port"], 8443);
    assert_eq!(
        slice_readiness(&env, "ext"),
        [
            ("192.0.2.10".to_string(), true),
            ("192.0.2.11".to_string(), true),
            ("192.0.2.12".to_string(), false)
        ]
    );
    // The hand-written Endpoints stay as written.
    let ep = env.try_json(&["endpoints", "ext"]).unwrap();
    assert_eq!(endpoint_ips(&ep).0, ["192.0.2.10", "192.0.2.11"]);

    // Edits are mirrored; opting out removes the mirror.
    env.ok(&[
        "patch",
        "endpoints",
        "ext",
        "--type=merge",
        "-p",
        r#"{"subsets":[{"addresses":[{"ip":"192.0.2.20"}],"ports":[{"name":"https","port":8443}]}]}"#,
    ]);
    env.wait("the edit mirrored", || {
        (slice_readiness(&env, "ext") == [("192.0.2.20".to_string(), true)]).then_some(())
    });
    env.ok(&[
        "label",
        "endpoints",
        "ext",
        "endpointslice.kubernetes.io/skip-mirror=true",
    ]);
    env.wait("the mirror removed", || {
        env.items(&["endpointslices", "-l", "kubernetes.io/service-name=ext"])
            .is_empty()
            .then_some(())
    });
}

/// The addresses in a Service's `status.loadBalancer.ingress`.
fn lb_ips(svc: &Value) -> Vec<String> {
    svc["status"]["loadBalancer"]["ingress"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["ip"].as_str().map(String::from))
        .collect()
}

#[test]
fn load_balancer_services_get_the_ready_nodes_addresses() {
    let env = Env::start();
    let mut nodes: Vec<String> = ["sim-0", "sim-1"]
        .iter()
        .map(|n| {
            let node = env.try_json(&["node", n]).unwrap();
            node["status"]["addresses"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["type"] == "InternalIP")
                .map(|a| a["address"].as_str().unwrap().to_string())
                .unwrap()
        })
        .collect();
    nodes.sort();
    env.apply(
        r#"apiVersion: v1
kind: Service
metadata: {name: front}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: elsewhere}
spec:
  type: LoadBalancer
  loadBalancerClass: example.com/other
  selector: {app: web}
  ports: [{port: 80}]
"#,
    );
    let got = env.wait("the LoadBalancer address", || {
        let svc = env.try_json(&["service", "front"])?;
        let ips = lb_ips(&svc);
        (!ips.is_empty()).then_some((ips, svc))
    });
    assert_eq!(got.0, nodes, "{:#}", got.1);
    assert_eq!(got.1["status"]["loadBalancer"]["ingress"][0]["ipMode"], "VIP");
    // kubectl shows them as the EXTERNAL-IP.
    let table = env.ok(&["get", "service", "front"]);
    assert!(table.contains(&nodes.join(",")), "{table}");
    // A Service of another load balancer class is left to it.
    let other = env.quiet("the other class's Service", Duration::from_secs(3), || {
        env.try_json(&["service", "elsewhere"]).map(|s| lb_ips(&s))
    });
    assert!(other.is_empty(), "{other:?}");
}
