"""Watch behaviour through the official Python client."""

import sys
import threading
import time

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException


def expect(cond, msg):
    if not cond:
        print("FAIL:", msg)
        sys.exit(1)


def cm(name, labels=None):
    return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, labels=labels), data={"k": "v"})


def resume(v1):
    ns = "default"
    first = v1.create_namespaced_config_map(ns, cm("w1"))
    rv = first.metadata.resource_version
    v1.create_namespaced_config_map(ns, cm("w2"))
    v1.patch_namespaced_config_map("w1", ns, {"data": {"k": "changed"}})
    v1.delete_namespaced_config_map("w2", ns)
    # Resuming from the first object's version replays exactly what came after it.
    seen = []
    w = watch.Watch()
    for ev in w.stream(v1.list_namespaced_config_map, ns, resource_version=rv, timeout_seconds=30):
        seen.append((ev["type"], ev["object"].metadata.name))
        if len(seen) == 3:
            w.stop()
    expect(seen == [("ADDED", "w2"), ("MODIFIED", "w1"), ("DELETED", "w2")], f"resume saw {seen}")
    # Versions increase strictly along the stream.
    rvs = []
    w = watch.Watch()

    def writer():
        time.sleep(0.5)
        for i in range(5):
            v1.create_namespaced_config_map(ns, cm(f"seq{i}"))

    threading.Thread(target=writer).start()
    for ev in w.stream(v1.list_namespaced_config_map, ns, resource_version=rv, timeout_seconds=30):
        rvs.append(int(ev["object"].metadata.resource_version))
        if sum(1 for _ in rvs) >= 8:
            w.stop()
    expect(rvs == sorted(rvs) and len(set(rvs)) == len(rvs), f"versions not strictly increasing: {rvs}")


def selector_transitions(v1):
    ns = "default"
    v1.create_namespaced_config_map(ns, cm("sel", {"role": "a"}))
    lst = v1.list_namespaced_config_map(ns, label_selector="role=a")
    rv = lst.metadata.resource_version
    expect([i.metadata.name for i in lst.items] == ["sel"], "label selector list")

    def writer():
        time.sleep(0.5)
        v1.patch_namespaced_config_map("sel", ns, {"metadata": {"labels": {"role": "b"}}})
        v1.patch_namespaced_config_map("sel", ns, {"metadata": {"labels": {"role": "a"}}})

    threading.Thread(target=writer).start()
    seen = []
    w = watch.Watch()
    for ev in w.stream(v1.list_namespaced_config_map, ns, label_selector="role=a", resource_version=rv, timeout_seconds=30):
        seen.append(ev["type"])
        if len(seen) == 2:
            w.stop()
    expect(seen == ["DELETED", "ADDED"], f"leaving and re-entering the selector gave {seen}")


def bookmarks_and_timeout(v1):
    start = time.time()
    events = list(watch.Watch().stream(v1.list_namespaced_config_map, "default", timeout_seconds=2, allow_watch_bookmarks=True))
    took = time.time() - start
    expect(took < 15, f"timeoutSeconds=2 watch lasted {took:.1f}s")


def gone(v1, rv):
    # The Python client retries a 410 once, then raises.
    try:
        for _ in watch.Watch().stream(v1.list_namespaced_config_map, "default", resource_version=rv, timeout_seconds=5):
            pass
    except ApiException as e:
        expect(e.status == 410, f"expected 410, got {e.status}")
        return
    expect(False, "watching from a version older than the server's history should fail with 410")


def main():
    kubeconfig, case, *rest = sys.argv[1:]
    config.load_kube_config(kubeconfig)
    globals()[case](client.CoreV1Api(), *rest)
    print("ok")


if __name__ == "__main__":
    main()
