"""Server-side apply through the official Python client's dynamic client, and the API's
answers a client sees: 201 on create, 409 with one FieldManagerConflict cause per field,
400 without a fieldManager, force taking ownership."""

import json
import sys

from kubernetes import client, config, dynamic
from kubernetes.dynamic.exceptions import DynamicApiError, NotFoundError


def expect(cond, msg):
    if not cond:
        print("FAIL:", msg)
        sys.exit(1)


def main(kubeconfig):
    api = config.new_client_from_config(kubeconfig)
    dyn = dynamic.DynamicClient(api)
    cms = dyn.resources.get(api_version="v1", kind="ConfigMap")
    try:
        cms.delete(name="py-ssa", namespace="default")
    except NotFoundError:
        pass
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "py-ssa", "namespace": "default"},
        "data": {"owner": "alice", "shared": "x"},
    }
    created = dyn.server_side_apply(cms, body=body, namespace="default", field_manager="alice")
    created = created.to_dict()
    managers = [(m["manager"], m["operation"]) for m in created["metadata"]["managedFields"]]
    expect(managers == [("alice", "Apply")], f"managers after create: {managers}")

    # Bob applies a different value of a field alice owns: a conflict.
    bob = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "py-ssa", "namespace": "default"},
        "data": {"owner": "bob"},
    }
    try:
        dyn.server_side_apply(cms, body=bob, namespace="default", field_manager="bob")
        expect(False, "bob's apply should conflict")
    except DynamicApiError as e:
        status = json.loads(e.body)
        expect(e.status == 409, f"status {e.status}")
        expect(status["reason"] == "Conflict", status)
        causes = status["details"]["causes"]
        expect(len(causes) == 1, causes)
        expect(causes[0]["reason"] == "FieldManagerConflict", causes)
        expect(causes[0]["field"] == ".data.owner", causes)
        expect(causes[0]["message"] == 'conflict with "alice"', causes)
        expect('conflict with "alice": .data.owner' in status["message"], status["message"])

    # With force, bob takes the field; alice keeps the rest.
    forced = dyn.server_side_apply(cms, body=bob, namespace="default", field_manager="bob", force_conflicts=True)
    forced = forced.to_dict()
    expect(forced["data"]["owner"] == "bob", forced["data"])
    by_manager = {m["manager"]: m["fieldsV1"] for m in forced["metadata"]["managedFields"]}
    expect("f:owner" in by_manager["bob"]["f:data"], by_manager)
    expect("f:owner" not in by_manager["alice"]["f:data"], by_manager)
    expect("f:shared" in by_manager["alice"]["f:data"], by_manager)

    # Alice stops applying `shared`: it goes; `owner` stays bob's.
    alice2 = dict(body, data={})
    after = dyn.server_side_apply(cms, body=alice2, namespace="default", field_manager="alice")
    expect(after.to_dict()["data"] == {"owner": "bob"}, after.to_dict()["data"])

    # The raw API: apply without fieldManager is a 400.
    resp = api.call_api(
        "PATCH",
        api.configuration.host + "/api/v1/namespaces/default/configmaps/py-ssa",
        header_params={"Content-Type": "application/apply-patch+yaml", "Accept": "application/json"},
        body=json.dumps(bob),
    )
    resp.read()
    expect(resp.status == 400, f"status {resp.status}: {resp.data}")
    expect(b"fieldManager" in resp.data, resp.data)

    # A typed client's update keeps managedFields and records itself.
    core = client.CoreV1Api(api)
    cm = core.read_namespaced_config_map("py-ssa", "default")
    cm.data["extra"] = "1"
    updated = core.replace_namespaced_config_map("py-ssa", "default", cm, field_manager="carol")
    entries = {(m.manager, m.operation) for m in updated.metadata.managed_fields}
    expect(("carol", "Update") in entries and ("bob", "Apply") in entries, entries)
    print("ok")


if __name__ == "__main__":
    main(sys.argv[1])
