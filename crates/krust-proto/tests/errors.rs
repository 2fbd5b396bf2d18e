//! Errors: what malformed envelopes, malformed objects and unencodable JSON report.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Pb, body};
use krust_proto::{ProtoError, decode, encode, is_supported};
use serde_json::json;

#[test]
fn envelope_errors() {
    assert_eq!(decode(b"{\"kind\":\"Pod\"}"), Err(ProtoError::BadMagic));
    assert_eq!(decode(b"k8s"), Err(ProtoError::BadMagic));
    assert_eq!(decode(b"k8s\0"), Err(ProtoError::MissingTypeMeta));

    let err = decode(&body("example.com/v1", "Widget", Pb::new())).unwrap_err();
    assert!(matches!(err, ProtoError::UnknownKind { .. }));
    assert_eq!(
        err.to_string(),
        "protobuf decoding of apiVersion \"example.com/v1\" kind \"Widget\" is not supported"
    );

    let mut gz = b"k8s\0".to_vec();
    let tm = Pb::new().str(1, "v1").str(2, "Namespace");
    gz.extend_from_slice(&Pb::new().msg(1, tm).bytes(2, b"").str(3, "gzip").0);
    assert_eq!(decode(&gz), Err(ProtoError::ContentEncoding("gzip".to_owned())));
}

#[test]
fn malformed_objects_are_located_errors() {
    // metadata.name sent as a varint.
    let err = decode(&body("v1", "Namespace", Pb::new().msg(1, Pb::new().varint(1, 3)))).unwrap_err();
    assert_eq!(
        err.to_string(),
        "metadata.name: wrong protobuf wire type 0 for a field of type string"
    );

    // A length running past the end of the object.
    let mut raw = Pb::new().msg(1, Pb::new().str(1, "abc"));
    raw.0.truncate(raw.0.len() - 1);
    let err = decode(&body("v1", "Namespace", raw)).unwrap_err();
    assert_eq!(err, ProtoError::Truncated);

    let err = decode(&body(
        "v1",
        "Pod",
        Pb::new().msg(2, Pb::new().msg(2, Pb::new().str(1, "c").varint(2, 1))),
    ))
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "spec.containers[0].image: wrong protobuf wire type 0 for a field of type string"
    );
}

#[test]
fn nesting_is_bounded() {
    // RawExtension can embed a whole body, which could nest forever.
    let mut inner = body("apps/v1", "ControllerRevision", Pb::new());
    for _ in 0..100 {
        inner = body(
            "apps/v1",
            "ControllerRevision",
            Pb::new().msg(2, Pb::new().bytes(1, &inner)),
        );
    }
    let err = decode(&inner).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("protobuf messages nested deeper than 64 levels"),
        "{err}"
    );
}

#[test]
fn encode_errors() {
    assert_eq!(
        encode(&json!([])),
        Err(ProtoError::JsonType {
            expected: "object",
            found: "array"
        })
    );
    assert_eq!(encode(&json!({"kind": "Pod"})), Err(ProtoError::MissingTypeMeta));
    assert!(matches!(
        encode(&json!({"apiVersion": "example.com/v1", "kind": "Widget"})),
        Err(ProtoError::UnknownKind { .. })
    ));
    let bad = json!({"apiVersion": "v1", "kind": "Pod", "spec": {"containers": [{"name": 5}]}});
    assert_eq!(
        encode(&bad).unwrap_err().to_string(),
        "spec.containers[0].name: expected string, found number"
    );
    let bad = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"creationTimestamp": "now"}});
    assert!(
        encode(&bad)
            .unwrap_err()
            .to_string()
            .starts_with("metadata.creationTimestamp: invalid value")
    );
    let bad =
        json!({"apiVersion": "v1", "kind": "Service", "spec": {"ports": [{"port": 80, "targetPort": true}]}});
    assert_eq!(
        encode(&bad).unwrap_err().to_string(),
        "spec.ports[0].targetPort: expected integer or string, found boolean"
    );
}

#[test]
fn supported_kinds_answer() {
    assert!(is_supported("apps/v1", "Deployment"));
    assert!(is_supported("authorization.k8s.io/v1", "SelfSubjectAccessReview"));
    assert!(is_supported("batch/v1", "DeleteOptions"));
    assert!(!is_supported("apps/v1beta1", "Deployment"));
    assert!(!is_supported("v1", "Widget"));
}
