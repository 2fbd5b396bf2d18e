//! One test per protobuf → JSON mapping rule, on hand-built wire bytes.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Pb, body};
use krust_proto::decode;
use serde_json::{Value, json};

fn dec(api_version: &str, kind: &str, raw: Pb) -> Value {
    decode(&body(api_version, kind, raw)).unwrap_or_else(|e| panic!("decode failed: {e}"))
}

/// An ObjectMeta the way gogo writes an unset one: every non-pointer field present and empty.
fn empty_meta() -> Pb {
    Pb::new()
        .str(1, "")
        .str(2, "")
        .str(3, "")
        .str(4, "")
        .str(5, "")
        .str(6, "")
        .varint(7, 0)
        .bytes(8, b"")
}

#[test]
fn present_but_empty_scalars_follow_omitempty() {
    let ns = dec(
        "v1",
        "Namespace",
        Pb::new()
            .msg(1, empty_meta())
            .msg(2, Pb::new())
            .msg(3, Pb::new().str(1, "")),
    );
    assert_eq!(
        ns,
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {}, "spec": {}, "status": {}})
    );

    // Container.name has no omitempty upstream, image has.
    let container = Pb::new().str(1, "").str(2, "").varint(16, 0);
    let pod = dec("v1", "Pod", Pb::new().msg(2, Pb::new().msg(2, container)));
    assert_eq!(
        pod["spec"],
        json!({"containers": [{"name": "", "resources": {}}]})
    );

    // ServicePort.port has no omitempty; nodePort has; targetPort is a struct (never omitted).
    let port = Pb::new().str(1, "").varint(3, 0).varint(5, 0);
    let svc = dec("v1", "Service", Pb::new().msg(2, Pb::new().msg(1, port)));
    assert_eq!(svc["spec"], json!({"ports": [{"port": 0, "targetPort": 0}]}));
}

#[test]
fn pointer_scalars_keep_zero_values() {
    // replicas is *int32: a present 0 means "zero replicas", not "unset"; paused is a plain bool.
    let deploy = dec(
        "apps/v1",
        "Deployment",
        Pb::new().msg(2, Pb::new().varint(1, 0).varint(7, 0)),
    );
    assert_eq!(deploy["spec"]["replicas"], json!(0));
    assert_eq!(deploy["spec"].get("paused"), None);

    let pod = dec(
        "v1",
        "Pod",
        Pb::new().msg(2, Pb::new().varint(21, 0).varint(11, 0)),
    );
    assert_eq!(pod["spec"], json!({"automountServiceAccountToken": false}));

    let secret = dec("v1", "Secret", Pb::new().varint(5, 0));
    assert_eq!(secret["immutable"], json!(false));

    let opts = dec(
        "v1",
        "DeleteOptions",
        Pb::new().varint(1, 0).str(4, "Foreground").str(5, "All"),
    );
    assert_eq!(
        opts,
        json!({"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0,
               "propagationPolicy": "Foreground", "dryRun": ["All"]})
    );
}

#[test]
fn repeated_fields() {
    let meta = Pb::new().str(14, "a/b").str(14, "c/d");
    let ns = dec("v1", "Namespace", Pb::new().msg(1, meta));
    assert_eq!(ns["metadata"]["finalizers"], json!(["a/b", "c/d"]));

    // Repeated integers arrive packed or one by one; both append.
    let mut packed = Vec::new();
    for v in [1u8, 2] {
        packed.push(v);
    }
    packed.extend_from_slice(&[0xac, 0x02]); // 300
    let sc = Pb::new().bytes(4, &packed).int(4, 4).int(4, -5);
    let pod = dec("v1", "Pod", Pb::new().msg(2, Pb::new().msg(14, sc)));
    assert_eq!(
        pod["spec"]["securityContext"],
        json!({"supplementalGroups": [1, 2, 300, 4, -5]})
    );

    let two = Pb::new()
        .msg(2, Pb::new().str(1, "a"))
        .msg(2, Pb::new().str(1, "b"));
    let pod = dec("v1", "Pod", Pb::new().msg(2, two));
    assert_eq!(
        pod["spec"]["containers"],
        json!([{"name": "a", "resources": {}}, {"name": "b", "resources": {}}])
    );
}

#[test]
fn maps_of_strings_bytes_and_quantities() {
    let meta = Pb::new()
        .entry(11, "app", b"web")
        .entry(11, "tier", b"")
        .msg(11, Pb::new().str(1, "novalue"));
    let secret = Pb::new()
        .msg(1, meta)
        .entry(2, "pw", b"\x00\xffsecret")
        .entry(4, "plain", b"text")
        .str(3, "Opaque");
    let secret = dec("v1", "Secret", secret);
    assert_eq!(
        secret,
        json!({"apiVersion": "v1", "kind": "Secret",
               "metadata": {"labels": {"app": "web", "tier": "", "novalue": ""}},
               "data": {"pw": "AP9zZWNyZXQ="}, "stringData": {"plain": "text"}, "type": "Opaque"})
    );

    let hard = Pb::new()
        .entry(1, "cpu", &Pb::new().str(1, "500m").0)
        .entry(1, "memory", &Pb::new().str(1, "1Gi").0)
        .str(2, "BestEffort");
    let quota = dec("v1", "ResourceQuota", Pb::new().msg(2, hard));
    assert_eq!(
        quota["spec"],
        json!({"hard": {"cpu": "500m", "memory": "1Gi"}, "scopes": ["BestEffort"]})
    );
}

#[test]
fn nested_messages_are_objects_even_when_empty() {
    // DeploymentSpec.template (value struct) and strategy: present and empty -> {}.
    let spec = Pb::new()
        .msg(3, Pb::new().msg(1, empty_meta()).msg(2, Pb::new()))
        .msg(4, Pb::new().str(1, ""));
    let deploy = dec(
        "apps/v1",
        "Deployment",
        Pb::new().msg(1, empty_meta()).msg(2, spec).msg(3, Pb::new()),
    );
    assert_eq!(
        deploy,
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {},
               "spec": {"template": {"metadata": {}, "spec": {}}, "strategy": {}}, "status": {}})
    );
}

#[test]
fn time_and_micro_time() {
    let meta = Pb::new()
        .msg(8, Pb::new().int(1, 1_704_164_645).int(2, 999))
        .msg(9, Pb::new().int(1, 1_704_164_646).int(2, 0));
    let event = Pb::new()
        .msg(1, meta)
        .msg(6, Pb::new()) // zero firstTimestamp: omitted
        .msg(10, Pb::new().int(1, 1_704_164_645).int(2, 123_456_789));
    let event = dec("v1", "Event", event);
    assert_eq!(
        event["metadata"]["creationTimestamp"],
        json!("2024-01-02T03:04:05Z")
    );
    assert_eq!(
        event["metadata"]["deletionTimestamp"],
        json!("2024-01-02T03:04:06Z")
    );
    assert_eq!(event.get("firstTimestamp"), None);
    assert_eq!(event["eventTime"], json!("2024-01-02T03:04:05.123456Z"));

    // Go's zero time (year 1) written out explicitly is still the zero time.
    let lease = Pb::new().msg(2, Pb::new().int(2, 15).msg(3, Pb::new().int(1, -62_135_596_800)));
    let lease = dec("coordination.k8s.io/v1", "Lease", lease);
    assert_eq!(lease["spec"], json!({"leaseDurationSeconds": 15}));

    let epoch = dec(
        "v1",
        "Namespace",
        Pb::new().msg(1, Pb::new().msg(8, Pb::new().int(1, 0).int(2, 0))),
    );
    assert_eq!(
        epoch["metadata"]["creationTimestamp"],
        json!("1970-01-01T00:00:00Z")
    );
}

#[test]
fn int_or_string() {
    let ports = Pb::new()
        .msg(
            1,
            Pb::new()
                .varint(3, 80)
                .msg(4, Pb::new().int(1, 0).int(2, 8080).str(3, "")),
        )
        .msg(
            1,
            Pb::new()
                .varint(3, 443)
                .msg(4, Pb::new().int(1, 1).int(2, 0).str(3, "https")),
        )
        .msg(
            1,
            Pb::new()
                .varint(3, 53)
                .msg(4, Pb::new().int(1, 0).int(2, 0).str(3, "")),
        );
    let svc = dec("v1", "Service", Pb::new().msg(2, ports));
    assert_eq!(
        svc["spec"]["ports"],
        json!([{"port": 80, "targetPort": 8080}, {"port": 443, "targetPort": "https"},
               {"port": 53, "targetPort": 0}])
    );

    let pdb = Pb::new().msg(2, Pb::new().msg(1, Pb::new().int(1, 1).str(3, "50%")));
    let pdb = dec("policy/v1", "PodDisruptionBudget", pdb);
    assert_eq!(pdb["spec"], json!({"minAvailable": "50%"}));

    let bad = Pb::new().msg(
        2,
        Pb::new().msg(1, Pb::new().varint(3, 1).msg(4, Pb::new().int(1, 7))),
    );
    let err = decode(&body("v1", "Service", bad)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "spec.ports[0].targetPort: invalid value: IntOrString type 7"
    );
}

#[test]
fn quantities_in_resource_lists() {
    let resources = Pb::new()
        .entry(1, "cpu", &Pb::new().str(1, "1").0)
        .entry(2, "memory", &Pb::new().str(1, "64Mi").0)
        .entry(2, "empty", b"");
    let container = Pb::new().str(1, "c").msg(8, resources);
    let pod = dec("v1", "Pod", Pb::new().msg(2, Pb::new().msg(2, container)));
    assert_eq!(
        pod["spec"]["containers"][0]["resources"],
        json!({"limits": {"cpu": "1"}, "requests": {"memory": "64Mi", "empty": "0"}})
    );
}

#[test]
fn raw_extension_and_fields_v1_embed_json() {
    let rev = Pb::new()
        .msg(2, Pb::new().bytes(1, br#"{"spec":{"template":{"x":1}}}"#))
        .int(3, 7);
    let rev = dec("apps/v1", "ControllerRevision", rev);
    assert_eq!(rev["data"], json!({"spec": {"template": {"x": 1}}}));
    assert_eq!(rev["revision"], json!(7));

    // An embedded object may itself be a protobuf body.
    let inner = body("v1", "ConfigMap", Pb::new().entry(2, "k", b"v"));
    let rev = dec(
        "apps/v1",
        "ControllerRevision",
        Pb::new().msg(2, Pb::new().bytes(1, &inner)),
    );
    assert_eq!(
        rev["data"],
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}, "data": {"k": "v"}})
    );

    let entry = Pb::new()
        .str(1, "kubectl-create")
        .str(2, "Update")
        .str(3, "v1")
        .msg(4, Pb::new().int(1, 1_704_164_645).int(2, 0))
        .str(6, "FieldsV1")
        .msg(7, Pb::new().bytes(1, br#"{"f:data":{".":{},"f:k":{}}}"#))
        .str(8, "");
    let cm = dec("v1", "ConfigMap", Pb::new().msg(1, Pb::new().msg(17, entry)));
    assert_eq!(
        cm["metadata"]["managedFields"],
        json!([{"manager": "kubectl-create", "operation": "Update", "apiVersion": "v1",
                "time": "2024-01-02T03:04:05Z", "fieldsType": "FieldsV1",
                "fieldsV1": {"f:data": {".": {}, "f:k": {}}}}])
    );

    let bad = Pb::new().msg(2, Pb::new().bytes(1, b"{not json"));
    let err = decode(&body("apps/v1", "ControllerRevision", bad)).unwrap_err();
    assert!(
        err.to_string().starts_with("data: invalid value: embedded JSON"),
        "{err}"
    );
}

#[test]
fn booleans_and_integers() {
    // int32 negatives travel as 10-byte sign-extended varints; int64 stays exact beyond 2^53.
    let spec = Pb::new().int(1, -1).varint(7, 1);
    let deploy = dec(
        "apps/v1",
        "Deployment",
        Pb::new().msg(1, Pb::new().int(7, (1 << 53) + 1)).msg(2, spec),
    );
    assert_eq!(deploy["spec"]["replicas"], json!(-1));
    assert_eq!(deploy["spec"]["paused"], json!(true));
    assert_eq!(deploy["metadata"]["generation"], json!(9_007_199_254_740_993_i64));
    // Any non-zero varint is true.
    let pod = dec("v1", "Pod", Pb::new().msg(2, Pb::new().varint(11, 2)));
    assert_eq!(pod["spec"], json!({"hostNetwork": true}));
}

#[test]
fn extra_values_are_string_arrays() {
    let extra = Pb::new().str(1, "a").str(1, "b");
    let spec = Pb::new()
        .str(3, "alice")
        .str(4, "devs")
        .msg(5, Pb::new().str(1, "scopes").msg(2, extra))
        .msg(5, Pb::new().str(1, "none"));
    let sar = dec(
        "authorization.k8s.io/v1",
        "SubjectAccessReview",
        Pb::new().msg(2, spec),
    );
    assert_eq!(
        sar["spec"],
        json!({"user": "alice", "groups": ["devs"], "extra": {"scopes": ["a", "b"], "none": []}})
    );
}

#[test]
fn inline_fields_are_flattened() {
    let cm_source = Pb::new().msg(1, Pb::new().str(1, "cm")).varint(3, 420);
    let volume = Pb::new().str(1, "cfg").msg(2, Pb::new().msg(19, cm_source));
    let http_get = Pb::new()
        .str(1, "/healthz")
        .msg(2, Pb::new().int(1, 0).int(2, 80).str(3, ""))
        .str(3, "");
    let probe = Pb::new()
        .msg(1, Pb::new().msg(2, http_get))
        .varint(2, 5)
        .varint(3, 0);
    let container = Pb::new().str(1, "c").msg(10, probe);
    let pod = dec(
        "v1",
        "Pod",
        Pb::new().msg(2, Pb::new().msg(1, volume).msg(2, container)),
    );
    assert_eq!(
        pod["spec"],
        json!({"volumes": [{"name": "cfg", "configMap": {"name": "cm", "defaultMode": 420}}],
               "containers": [{"name": "c", "resources": {}, "livenessProbe": {
                   "httpGet": {"path": "/healthz", "port": 80}, "initialDelaySeconds": 5}}]})
    );
}

#[test]
fn unknown_fields_of_every_wire_type_are_skipped() {
    let meta = Pb::new()
        .str(1, "x")
        .varint(999, 5)
        .fixed64(998, 1)
        .str(997, "?")
        .fixed32(996, 2);
    let ns = Pb::new()
        .msg(1, meta)
        .msg(500, Pb::new().str(1, "future"))
        .varint(501, 1);
    assert_eq!(
        dec("v1", "Namespace", ns),
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}, "spec": {}, "status": {}})
    );
}

#[test]
fn absent_fields_get_the_go_zero_value() {
    // A sender that skips unset fields (not gogo) must decode to the same JSON as gogo's
    // output: non-pointer structs are objects, required scalars are zero, the rest is absent.
    let gogo = dec(
        "v1",
        "Service",
        Pb::new()
            .msg(1, empty_meta())
            .msg(
                2,
                Pb::new().msg(
                    1,
                    Pb::new()
                        .str(1, "")
                        .str(2, "")
                        .varint(3, 0)
                        .msg(4, Pb::new().int(1, 0).int(2, 0).str(3, ""))
                        .varint(5, 0),
                ),
            )
            .msg(3, Pb::new().msg(1, Pb::new())),
    );
    let sparse = dec("v1", "Service", Pb::new().msg(2, Pb::new().msg(1, Pb::new())));
    assert_eq!(gogo, sparse);
    assert_eq!(
        sparse,
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {},
               "spec": {"ports": [{"port": 0, "targetPort": 0}]}, "status": {"loadBalancer": {}}})
    );

    // Pointer fields and lists stay absent; required lists too (Go would write null).
    let sar = dec("authorization.k8s.io/v1", "SubjectAccessReview", Pb::new());
    assert_eq!(
        sar,
        json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
               "metadata": {}, "spec": {}, "status": {"allowed": false}})
    );
}

#[test]
fn repeated_singular_fields_merge_or_replace() {
    // Two occurrences of a message field merge; two of a scalar: the last wins.
    let ns = Pb::new()
        .msg(1, Pb::new().str(1, "a").str(3, "one"))
        .msg(1, Pb::new().str(3, "two").str(14, "f"));
    assert_eq!(
        dec("v1", "Namespace", ns)["metadata"],
        json!({"name": "a", "namespace": "two", "finalizers": ["f"]})
    );
}

#[test]
fn invalid_utf8_is_replaced_like_go() {
    let ns = dec("v1", "Namespace", Pb::new().msg(1, Pb::new().bytes(1, b"a\xffb")));
    assert_eq!(ns["metadata"]["name"], json!("a\u{fffd}b"));
}

#[test]
fn delete_options_under_any_group_version() {
    for av in ["v1", "meta.k8s.io/v1", "apps/v1"] {
        let v = dec(
            av,
            "DeleteOptions",
            Pb::new().msg(2, Pb::new().str(1, "uid-1")).varint(3, 1),
        );
        assert_eq!(v["preconditions"], json!({"uid": "uid-1"}), "{av}");
        assert_eq!(v["orphanDependents"], json!(true));
        assert_eq!(v["apiVersion"], json!(av));
    }
}
