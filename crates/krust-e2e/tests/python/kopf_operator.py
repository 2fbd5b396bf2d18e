"""A small kopf operator for the Greeting custom resource (greetings.example.com/v1).

Run by tests/operators.rs as `python -m kopf run --standalone --namespace=default <this file>`
with KUBECONFIG pointing at the cluster. It reacts like this:

- create: status.message = "hello <spec.name>", and a core/v1 Event with reason Greeted
- update of spec.name: status.message follows the new name
- delete: creates the ConfigMap `goodbye-<greeting>` (data.message = "goodbye <spec.name>")
  before kopf removes its finalizer, so the test can see that the handler ran

kopf itself adds its finalizer, keeps its progress and last-handled state in annotations (and
in status.kopf, which the CRD's schema prunes), and writes through JSON merge patches on the
object and on its status subresource.
"""

import kopf
from kubernetes import client, config
from kubernetes.client.rest import ApiException

GROUP, VERSION, PLURAL = "example.com", "v1", "greetings"


def greeting(name):
    return f"hello {name}"


@kopf.on.create(GROUP, VERSION, PLURAL)
def on_create(body, spec, patch, logger, **_):
    patch.status["message"] = greeting(spec.get("name", ""))
    # Posted as a core/v1 Event about the Greeting.
    kopf.info(body, reason="Greeted", message=greeting(spec.get("name", "")))
    logger.info("greeted %s", spec.get("name", ""))


@kopf.on.update(GROUP, VERSION, PLURAL, field="spec.name")
def on_name_change(old, new, patch, logger, **_):
    patch.status["message"] = greeting(new or "")
    logger.info("name changed from %s to %s", old, new)


@kopf.on.delete(GROUP, VERSION, PLURAL)
def on_delete(name, namespace, spec, logger, **_):
    config.load_kube_config()
    core = client.CoreV1Api()
    body = client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name=f"goodbye-{name}", namespace=namespace),
        data={"message": f"goodbye {spec.get('name', '')}"},
    )
    try:
        core.create_namespaced_config_map(namespace, body)
    except ApiException as e:
        if e.status != 409:
            raise
    logger.info("said goodbye to %s", name)
