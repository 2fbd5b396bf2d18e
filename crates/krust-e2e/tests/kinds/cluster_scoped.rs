//! RBAC, PriorityClasses, StorageClasses, Leases and CRDs.

use super::*;

#[test]
fn rbac_roles_and_bindings() {
    let c = Cluster::start_with(API_ONLY);
    let rbac = manifest!("rbac.yaml");
    apply(
        &c,
        rbac,
        &[
            "role.rbac.authorization.k8s.io/pod-reader created",
            "rolebinding.rbac.authorization.k8s.io/read-pods created",
            "clusterrole.rbac.authorization.k8s.io/secret-reader created",
            "clusterrolebinding.rbac.authorization.k8s.io/read-secrets-global created",
        ],
    );
    expect_table(
        &c,
        &["role", "pod-reader"],
        &["NAME", "CREATED AT"],
        "pod-reader",
        &[],
    );
    expect_table(
        &c,
        &["clusterrole", "secret-reader"],
        &["NAME", "CREATED AT"],
        "secret-reader",
        &[],
    );
    let wide = ["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"];
    expect_table(
        &c,
        &["rolebinding", "read-pods"],
        &["NAME", "ROLE", "AGE"],
        "read-pods",
        &[("ROLE", "Role/pod-reader")],
    );
    expect_table(
        &c,
        &["rolebinding", "read-pods", "-o", "wide"],
        &wide,
        "read-pods",
        &[
            ("USERS", "jane"),
            ("GROUPS", ""),
            ("SERVICEACCOUNTS", "default/build-robot"),
        ],
    );
    expect_table(
        &c,
        &["clusterrolebinding", "read-secrets-global", "-o", "wide"],
        &wide,
        "read-secrets-global",
        &[
            ("ROLE", "ClusterRole/secret-reader"),
            ("USERS", ""),
            ("GROUPS", "manager"),
            ("SERVICEACCOUNTS", ""),
        ],
    );
    // User and Group subjects default to the RBAC group; a ServiceAccount's stays empty.
    expect(
        &c.get_json(&["rolebinding", "read-pods"]),
        &[
            ("/roleRef/apiGroup", json!("rbac.authorization.k8s.io")),
            ("/subjects/0/apiGroup", json!("rbac.authorization.k8s.io")),
            (
                "/subjects/1",
                json!({"kind": "ServiceAccount", "name": "build-robot", "namespace": "default"}),
            ),
        ],
    );
    expect(
        &c.get_json(&["clusterrole", "secret-reader"]),
        &[(
            "/rules/1",
            json!({"nonResourceURLs": ["/healthz", "/healthz/*"], "verbs": ["get"]}),
        )],
    );
    let changed = rbac
        .replace(
            "verbs: [\"get\", \"watch\", \"list\"]",
            "verbs: [\"get\", \"list\"]",
        )
        .replace("name: jane", "name: john");
    apply(
        &c,
        &changed,
        &[
            "role.rbac.authorization.k8s.io/pod-reader configured",
            "rolebinding.rbac.authorization.k8s.io/read-pods configured",
            "clusterrole.rbac.authorization.k8s.io/secret-reader configured",
            "clusterrolebinding.rbac.authorization.k8s.io/read-secrets-global unchanged",
        ],
    );
    expect(
        &c.get_json(&["role", "pod-reader"]),
        &[(
            "/rules",
            json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]),
        )],
    );
    expect_table(
        &c,
        &["rolebindings", "read-pods", "-o", "wide"],
        &wide,
        "read-pods",
        &[("USERS", "john")],
    );
    // A binding's role never changes.
    let err = rejected(
        &c,
        "apply",
        &changed.replace(
            "  kind: Role\n  name: pod-reader\n",
            "  kind: ClusterRole\n  name: secret-reader\n",
        ),
    );
    contains_all(
        &err,
        &[
            "The RoleBinding \"read-pods\" is invalid",
            "roleRef",
            "cannot change roleRef",
        ],
    );
    let err = rejected(
        &c,
        "create",
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: no-verbs\nrules:\n- apiGroups: [\"\"]\n  resources: [\"pods\"]\n",
    );
    contains_all(&err, &["rules[0].verbs: Required value"]);
    delete(
        &c,
        &changed,
        &[
            "role.rbac.authorization.k8s.io \"pod-reader\" deleted",
            "rolebinding.rbac.authorization.k8s.io \"read-pods\" deleted",
            "clusterrole.rbac.authorization.k8s.io \"secret-reader\" deleted",
            "clusterrolebinding.rbac.authorization.k8s.io \"read-secrets-global\" deleted",
        ],
    );
    gone(&c, &["role", "pod-reader"]);
    gone(&c, &["clusterrolebinding", "read-secrets-global"]);
}

#[test]
fn priority_classes_storage_classes_leases_and_crds() {
    let c = Cluster::start_with(API_ONLY);

    let pc = manifest!("priorityclass.yaml");
    apply(&c, pc, &["priorityclass.scheduling.k8s.io/high-priority created"]);
    let header = ["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"];
    expect_table(
        &c,
        &["pc", "high-priority"],
        &header,
        "high-priority",
        &[
            ("VALUE", "1000000"),
            ("GLOBAL-DEFAULT", "false"),
            ("PREEMPTIONPOLICY", "PreemptLowerPriority"),
        ],
    );
    expect(
        &c.get_json(&["priorityclass", "high-priority"]),
        &[("/preemptionPolicy", json!("PreemptLowerPriority"))],
    );
    let changed = pc.replace("pods only.", "pods only; ask #sre first.");
    apply(
        &c,
        &changed,
        &["priorityclass.scheduling.k8s.io/high-priority configured"],
    );
    let err = rejected(&c, "apply", &changed.replace("value: 1000000", "value: 2000000"));
    contains_all(&err, &["value: Forbidden: may not be changed in an update"]);
    let err = rejected(
        &c,
        "create",
        &pc.replace("name: high-priority", "name: system-custom"),
    );
    contains_all(&err, &["priority class names with 'system-' prefix are reserved"]);
    delete(
        &c,
        &changed,
        &["priorityclass.scheduling.k8s.io \"high-priority\" deleted"],
    );
    gone(&c, &["pc", "high-priority"]);

    let sc = manifest!("storageclass.yaml");
    apply(&c, sc, &["storageclass.storage.k8s.io/shared-path created"]);
    let header = [
        "NAME",
        "PROVISIONER",
        "RECLAIMPOLICY",
        "VOLUMEBINDINGMODE",
        "ALLOWVOLUMEEXPANSION",
        "AGE",
    ];
    expect_table(
        &c,
        &["sc", "shared-path"],
        &header,
        "shared-path (default)",
        &[
            ("PROVISIONER", "rancher.io/local-path"),
            ("RECLAIMPOLICY", "Delete"),
            ("VOLUMEBINDINGMODE", "Immediate"),
            ("ALLOWVOLUMEEXPANSION", "true"),
        ],
    );
    expect(
        &c.get_json(&["storageclass", "shared-path"]),
        &[
            ("/reclaimPolicy", json!("Delete")),
            ("/volumeBindingMode", json!("Immediate")),
        ],
    );
    let changed = sc
        .replace("allowVolumeExpansion: true", "allowVolumeExpansion: false")
        .replace(
            "  annotations:\n    storageclass.kubernetes.io/is-default-class: \"true\"\n",
            "",
        );
    apply(
        &c,
        &changed,
        &["storageclass.storage.k8s.io/shared-path configured"],
    );
    expect_table(
        &c,
        &["storageclass", "shared-path"],
        &header,
        "shared-path",
        &[("ALLOWVOLUMEEXPANSION", "false")],
    );
    let err = rejected(
        &c,
        "apply",
        &changed.replace("rancher.io/local-path", "example.com/nfs"),
    );
    contains_all(
        &err,
        &["provisioner: Forbidden: updates to provisioner are forbidden."],
    );
    delete(
        &c,
        &changed,
        &["storageclass.storage.k8s.io \"shared-path\" deleted"],
    );
    gone(&c, &["sc", "shared-path"]);

    let lease = manifest!("lease.yaml");
    apply(
        &c,
        lease,
        &["lease.coordination.k8s.io/example-controller created"],
    );
    expect_table(
        &c,
        &["lease", "-n", "kube-system", "example-controller"],
        &["NAME", "HOLDER", "AGE"],
        "example-controller",
        &[("HOLDER", "controller-7d9f8b6c5-x2x9z")],
    );
    expect(
        &c.get_json(&["lease", "-n", "kube-system", "example-controller"]),
        &[
            ("/spec/leaseDurationSeconds", json!(15)),
            ("/spec/renewTime", json!("2025-01-01T10:05:00.000000Z")),
        ],
    );
    let changed = lease
        .replace("controller-7d9f8b6c5-x2x9z", "controller-7d9f8b6c5-k4m2p")
        .replace("leaseTransitions: 2", "leaseTransitions: 3");
    apply(
        &c,
        &changed,
        &["lease.coordination.k8s.io/example-controller configured"],
    );
    expect_table(
        &c,
        &["leases", "-n", "kube-system", "example-controller"],
        &["NAME", "HOLDER", "AGE"],
        "example-controller",
        &[("HOLDER", "controller-7d9f8b6c5-k4m2p")],
    );
    let err = rejected(
        &c,
        "apply",
        &changed.replace("leaseDurationSeconds: 15", "leaseDurationSeconds: 0"),
    );
    contains_all(
        &err,
        &["spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"],
    );
    delete(
        &c,
        &changed,
        &["lease.coordination.k8s.io \"example-controller\" deleted"],
    );
    gone(&c, &["lease", "-n", "kube-system", "example-controller"]);

    // A CRD is stored (its custom resources are not served yet).
    let crd = manifest!("crd.yaml");
    apply(
        &c,
        crd,
        &["customresourcedefinition.apiextensions.k8s.io/crontabs.stable.example.com created"],
    );
    let t = expect_table(
        &c,
        &["crd", "crontabs.stable.example.com"],
        &["NAME", "CREATED AT"],
        "crontabs.stable.example.com",
        &[],
    );
    let got = c.get_json(&["customresourcedefinition", "crontabs.stable.example.com"]);
    assert_eq!(
        t.rows[0][1],
        got["metadata"]["creationTimestamp"].as_str().unwrap()
    );
    expect(
        &got,
        &[
            ("/spec/names/singular", json!("crontab")),
            ("/spec/names/listKind", json!("CronTabList")),
            ("/spec/conversion", json!({"strategy": "None"})),
            (
                "/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/replicas",
                json!({"type": "integer", "default": 1}),
            ),
            ("/status/storedVersions", json!(["v1"])),
        ],
    );
    let changed = crd.replace("    - ct\n", "    - ct\n    categories:\n    - all\n");
    apply(
        &c,
        &changed,
        &["customresourcedefinition.apiextensions.k8s.io/crontabs.stable.example.com configured"],
    );
    expect(
        &c.get_json(&["crds", "crontabs.stable.example.com"]),
        &[("/spec/names/categories", json!(["all"]))],
    );
    let err = rejected(
        &c,
        "create",
        &crd.replace(
            "name: crontabs.stable.example.com",
            "name: crontab.stable.example.com",
        ),
    );
    contains_all(
        &err,
        &[
            "metadata.name: Invalid value: \"crontab.stable.example.com\": must be spec.names.plural+\".\"+spec.group",
        ],
    );
    delete(
        &c,
        &changed,
        &["customresourcedefinition.apiextensions.k8s.io \"crontabs.stable.example.com\" deleted"],
    );
    gone(&c, &["crd", "crontabs.stable.example.com"]);
}
