//! Pod updates: only images, the active deadline, added tolerations and removed
//! scheduling gates may change.

use super::pod::nginx;
use super::*;
use FieldErrorKind::*;

#[test]
fn update_rules() {
    let old = nginx();
    let mut new = nginx();
    new["spec"]["containers"][0]["image"] = json!("nginx:1.28");
    new["metadata"]["labels"] = json!({"run": "web", "tier": "front"});
    ok(&update("", "Pod", old.clone(), new));

    let mut new = nginx();
    new["spec"]["containers"][0]["ports"][0]["containerPort"] = json!(8080);
    let errs = update("", "Pod", old.clone(), new);
    one(
        &errs,
        "spec",
        Forbidden,
        "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
    );
    assert!(
        errs[0]
            .detail
            .contains("spec.containers[0].ports[0].containerPort: 80"),
        "{}",
        errs[0].detail
    );

    let mut new = nginx();
    new["spec"]["containers"] = json!([{"name": "a", "image": "x"}, {"name": "b", "image": "x"}]);
    one(
        &update("", "Pod", old.clone(), new),
        "spec.containers",
        Forbidden,
        "pod updates may not add or remove containers",
    );

    let mut new = nginx();
    new["metadata"]["name"] = json!("other");
    one(
        &update("", "Pod", old.clone(), new),
        "metadata.name",
        Invalid,
        "Invalid value: \"other\": field is immutable",
    );

    let mut with_tol = nginx();
    with_tol["spec"]["tolerations"] = json!([{"key": "a", "operator": "Exists"}]);
    let mut more = with_tol.clone();
    more["spec"]["tolerations"] =
        json!([{"key": "a", "operator": "Exists"}, {"key": "b", "operator": "Exists"}]);
    ok(&update("", "Pod", with_tol.clone(), more));
    one(
        &update("", "Pod", with_tol, nginx()),
        "spec.tolerations",
        Forbidden,
        "existing toleration can not be modified except its tolerationSeconds",
    );

    let mut deleting = nginx();
    deleting["metadata"]["deletionTimestamp"] = json!("2025-01-01T00:00:00Z");
    let mut fin = deleting.clone();
    fin["metadata"]["finalizers"] = json!(["example.com/x"]);
    one(
        &update("", "Pod", deleting, fin),
        "metadata.finalizers",
        Forbidden,
        "found new finalizers []string{\"example.com/x\"}",
    );
}
