"""The official Python client against krust: CRUD, pagination, subresources, errors."""

import sys
import time

from kubernetes import client, config
from kubernetes.client.rest import ApiException


def expect(cond, msg):
    if not cond:
        print("FAIL:", msg)
        sys.exit(1)


def raises(fn, status, reason=None):
    try:
        fn()
    except ApiException as e:
        expect(e.status == status, f"expected {status}, got {e.status}: {e.body}")
        if reason:
            expect(reason in e.body, f"expected {reason!r} in {e.body}")
        return e
    expect(False, f"expected an error {status}")


def deployment(name, replicas=1):
    labels = {"app": name}
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name, labels=labels),
        spec=client.V1DeploymentSpec(
            replicas=replicas,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(containers=[client.V1Container(name="main", image="busybox")]),
            ),
        ),
    )


def crud():
    v1 = client.CoreV1Api()
    apps = client.AppsV1Api()
    cm = v1.create_namespaced_config_map("default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="py", labels={"x": "1"}), data={"a": "1"}))
    expect(cm.metadata.uid and cm.metadata.resource_version, "create returns uid and resourceVersion")
    got = v1.read_namespaced_config_map("py", "default")
    expect(got.data == {"a": "1"}, f"read {got.data}")
    got.data["b"] = "2"
    replaced = v1.replace_namespaced_config_map("py", "default", got)
    expect(int(replaced.metadata.resource_version) > int(cm.metadata.resource_version), "replace bumps resourceVersion")
    patched = v1.patch_namespaced_config_map("py", "default", {"data": {"c": "3"}})
    expect(patched.data == {"a": "1", "b": "2", "c": "3"}, f"strategic merge patch {patched.data}")
    jp = v1.patch_namespaced_config_map("py", "default", [{"op": "remove", "path": "/data/a"}])
    expect("a" not in jp.data, f"json patch {jp.data}")
    lst = v1.list_namespaced_config_map("default", label_selector="x=1")
    expect([i.metadata.name for i in lst.items] == ["py"], "label selector")
    lst = v1.list_config_map_for_all_namespaces(field_selector="metadata.name=py")
    expect(len(lst.items) == 1, "field selector across namespaces")
    dry = v1.create_namespaced_config_map("default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="dry")), dry_run="All")
    expect(dry.metadata.name == "dry", "dry run returns the object")
    raises(lambda: v1.read_namespaced_config_map("dry", "default"), 404)
    st = v1.delete_namespaced_config_map("py", "default")
    # Client 37 hands back the decoded body (older ones a V1Status): a Success Status.
    status = st.status if isinstance(st, client.V1Status) else st.get("status")
    kind = st.kind if isinstance(st, client.V1Status) else st.get("kind")
    expect(kind == "Status" and status == "Success", f"delete returns a Status: {st}")
    raises(lambda: v1.read_namespaced_config_map("py", "default"), 404, "NotFound")
    d = apps.create_namespaced_deployment("default", deployment("pyd"))
    expect(d.spec.strategy.type == "RollingUpdate" and d.spec.revision_history_limit == 10, "deployment defaults")
    gen = apps.read_namespaced_deployment("pyd", "default").metadata.generation
    apps.patch_namespaced_deployment("pyd", "default", {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "busybox:2"}]}}}})
    d = apps.read_namespaced_deployment("pyd", "default")
    expect(d.metadata.generation == gen + 1, "spec change bumps generation")
    expect(d.spec.template.spec.containers[0].image == "busybox:2", "SMP by container name")
    apps.patch_namespaced_deployment("pyd", "default", {"metadata": {"labels": {"l": "v"}}})
    expect(apps.read_namespaced_deployment("pyd", "default").metadata.generation == gen + 1, "metadata change keeps generation")
    ns = v1.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(generate_name="gen-")))
    expect(ns.metadata.name.startswith("gen-") and len(ns.metadata.name) == 9, f"generateName {ns.metadata.name}")


def paginate():
    v1 = client.CoreV1Api()
    names = {f"page-{i:02d}" for i in range(25)}
    for n in sorted(names):
        v1.create_namespaced_config_map("default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name=n, labels={"p": "1"})))
    seen, rvs, token, pages = [], set(), None, 0
    while True:
        page = v1.list_namespaced_config_map("default", limit=7, _continue=token, label_selector="p=1")
        pages += 1
        seen += [i.metadata.name for i in page.items]
        rvs.add(page.metadata.resource_version)
        if pages == 1:
            # Objects created mid-way are not part of this consistent list.
            v1.create_namespaced_config_map("default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="page-zz", labels={"p": "1"})))
            v1.delete_namespaced_config_map("page-24", "default")
        token = page.metadata._continue
        if not token:
            break
    expect(pages == 4, f"25 items in pages of 7 should be 4 pages, got {pages}")
    expect(sorted(seen) == sorted(names), f"pagination saw {len(seen)} items: {sorted(set(names) ^ set(seen))}")
    expect(len(rvs) == 1, f"all pages share one resourceVersion: {rvs}")
    full = v1.list_namespaced_config_map("default", label_selector="p=1")
    now = {i.metadata.name for i in full.items}
    expect("page-zz" in now and "page-24" not in now, "a new list sees the changes")
    exact = v1.list_namespaced_config_map("default", label_selector="p=1", resource_version=list(rvs)[0], resource_version_match="Exact")
    expect({i.metadata.name for i in exact.items} == names, "list at an exact older resourceVersion")
    raises(lambda: v1.list_namespaced_config_map("default", resource_version_match="Exact"), 400)


def scale_and_status():
    apps = client.AppsV1Api()
    apps.create_namespaced_deployment("default", deployment("scaled", 2))
    s = apps.read_namespaced_deployment_scale("scaled", "default")
    expect(s.spec.replicas == 2 and s.status.selector == "app=scaled", f"scale view {s}")
    apps.patch_namespaced_deployment_scale("scaled", "default", {"spec": {"replicas": 5}})
    expect(apps.read_namespaced_deployment("scaled", "default").spec.replicas == 5, "patch scale")
    s = apps.read_namespaced_deployment_scale("scaled", "default")
    s.spec.replicas = 1
    apps.replace_namespaced_deployment_scale("scaled", "default", s)
    expect(apps.read_namespaced_deployment("scaled", "default").spec.replicas == 1, "replace scale")
    raises(lambda: apps.patch_namespaced_deployment_scale("scaled", "default", {"spec": {"replicas": -1}}), 422)
    # Status and spec are written separately.
    d = apps.patch_namespaced_deployment_status("scaled", "default", {"status": {"replicas": 1, "observedGeneration": 7}, "spec": {"replicas": 9}})
    expect(d.status.replicas == 1 and d.spec.replicas == 1, f"status write ignores spec: {d.spec.replicas} {d.status}")
    d = apps.patch_namespaced_deployment("scaled", "default", {"status": {"replicas": 42}})
    expect(d.status.replicas == 1, "a main-resource write ignores status")


def errors():
    v1 = client.CoreV1Api()
    cm = v1.create_namespaced_config_map("default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="stale")))
    v1.patch_namespaced_config_map("stale", "default", {"data": {"x": "y"}})
    cm.data = {"z": "1"}
    raises(lambda: v1.replace_namespaced_config_map("stale", "default", cm), 409, "the object has been modified")
    raises(lambda: v1.create_namespaced_config_map("default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="stale"))), 409, "AlreadyExists")
    raises(lambda: v1.create_namespaced_config_map("nowhere", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="x"))), 404, "namespaces \\\"nowhere\\\" not found")
    e = raises(lambda: v1.create_namespaced_config_map("default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="UPPER"))), 422)
    expect("metadata.name" in e.body, e.body)
    got = v1.read_namespaced_config_map("stale", "default")
    expect(got.data == {"x": "y"}, "failed writes did not change the object")


def expired_continue():
    v1 = client.CoreV1Api()
    for i in range(5):
        v1.create_namespaced_config_map("default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name=f"exp-{i}")))
    page = v1.list_namespaced_config_map("default", limit=2)
    token = page.metadata._continue
    expect(token, "first page has a continue token")
    # Newer writes, then wait for the compaction to pass the page's revision.
    deadline = time.time() + 30
    while True:
        v1.create_namespaced_config_map("default", client.V1ConfigMap(metadata=client.V1ObjectMeta(generate_name="churn-")))
        try:
            v1.list_namespaced_config_map("default", limit=2, _continue=token)
        except ApiException as e:
            expect(e.status == 410, f"expected 410, got {e.status}")
            import json
            body = json.loads(e.body)
            expect(body["reason"] == "Expired", body)
            fresh = body["metadata"]["continue"]
            rest = v1.list_namespaced_config_map("default", limit=100, _continue=fresh)
            expect(len(rest.items) > 0, "the inconsistent continue token works")
            return
        expect(time.time() < deadline, "the continue token never expired")
        time.sleep(0.5)


def main():
    kubeconfig, case = sys.argv[1:3]
    config.load_kube_config(kubeconfig)
    globals()[case]()
    print("ok")


if __name__ == "__main__":
    main()
