"""Creates config maps from 16 threads as fast as possible, printing `ok <name>` for each
create the server acknowledged, until the server goes away."""

import sys
import threading

from kubernetes import client, config

config.load_kube_config(sys.argv[1])
lock = threading.Lock()


def worker(i):
    api = client.CoreV1Api(client.ApiClient())
    n = 0
    while True:
        name = f"burst-{i}-{n}"
        try:
            api.create_namespaced_config_map("default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name), data={"i": str(n)}))
        except Exception:
            return
        with lock:
            print("ok", name, flush=True)
        n += 1


threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
for t in threads:
    t.start()
for t in threads:
    t.join()
