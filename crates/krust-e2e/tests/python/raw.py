"""Raw HTTPS requests against krust with the admin kubeconfig's credentials, for the
cases no client library sends on purpose: malformed bodies, wrong content types, huge
bodies, anonymous access. Exits non-zero (with a message) when an expectation fails."""

import base64
import json
import ssl
import sys
import tempfile
import urllib.request
import urllib.error

import yaml


def load(kubeconfig):
    with open(kubeconfig) as f:
        cfg = yaml.safe_load(f)
    cluster = cfg["clusters"][0]["cluster"]
    user = cfg["users"][0]["user"]
    d = tempfile.mkdtemp()

    def write(name, b64):
        p = f"{d}/{name}"
        with open(p, "wb") as f:
            f.write(base64.b64decode(b64))
        return p

    ca = write("ca.crt", cluster["certificate-authority-data"])
    cert = write("client.crt", user["client-certificate-data"])
    key = write("client.key", user["client-key-data"])
    return cluster["server"], ca, cert, key


def context(ca, cert=None, key=None):
    ctx = ssl.create_default_context(cafile=ca)
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx


def request(server, ctx, method, path, body=None, headers=None):
    req = urllib.request.Request(server + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def expect(cond, msg):
    if not cond:
        print("FAIL:", msg)
        sys.exit(1)


def status_of(body):
    return json.loads(body)


def anonymous(server, ca, cert, key):
    anon = context(ca)
    for path in ["/healthz", "/livez", "/readyz", "/version"]:
        code, _, _ = request(server, anon, "GET", path)
        expect(code == 200, f"{path} should be open to anonymous users, got {code}")
    for path in ["/api", "/apis", "/api/v1/namespaces", "/openapi/v3"]:
        code, _, body = request(server, anon, "GET", path)
        expect(code == 401, f"{path} should be 401 for anonymous users, got {code}")
        s = status_of(body)
        expect(s["reason"] == "Unauthorized" and s["code"] == 401, f"bad Status {s}")
    code, _, _ = request(server, anon, "GET", "/api", headers={"Authorization": "Bearer nope"})
    expect(code == 401, f"a wrong token must be 401, got {code}")


def token(server, ca, cert, key, tok):
    anon = context(ca)
    code, _, body = request(server, anon, "GET", "/api/v1/namespaces", headers={"Authorization": f"Bearer {tok}"})
    expect(code == 200, f"token auth failed: {code} {body[:200]}")



def bad_input(server, ca, cert, key):
    ctx = context(ca, cert, key)
    base = "/api/v1/namespaces/default/configmaps"
    j = {"Content-Type": "application/json"}
    cases = [
        ("malformed JSON", "POST", base, b'{"metadata": {"name": ', j, 400),
        ("malformed YAML", "POST", base, b"metadata: [unclosed", {"Content-Type": "application/yaml"}, 400),
        ("garbage protobuf", "POST", base, b"k8s\x00\xff\xff\xff", {"Content-Type": "application/vnd.kubernetes.protobuf"}, 400),
        ("wrong content type", "POST", base, b"hello", {"Content-Type": "text/plain"}, 415),
        ("unknown kind", "GET", "/api/v1/namespaces/default/widgets", None, {}, 404),
        ("unknown version", "GET", "/apis/apps/v9/deployments", None, {}, 404),
        ("URL that does not fit", "GET", "/api/v1/namespaces/default/configmaps/a/b/c", None, {}, 404),
        ("unknown path", "GET", "/nonsense", None, {}, 404),
        ("body not an object", "POST", base, b"[1,2]", j, 400),
        ("wrong apiVersion", "POST", base, b'{"apiVersion":"v2","kind":"ConfigMap","metadata":{"name":"x"}}', j, 400),
        ("wrong type", "POST", base, b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"},"data":{"a":1}}', j, 400),
        ("bad label selector", "GET", base + "?labelSelector=a%20in%20(", None, {}, 400),
        ("bad limit", "GET", base + "?limit=abc", None, {}, 400),
        ("bad continue", "GET", base + "?limit=1&continue=%21%21", None, {}, 400),
        ("patch with wrong type", "PATCH", base + "/nothing", b"{}", {"Content-Type": "text/plain"}, 415),
        ("json patch not a list", "PATCH", "/api/v1/namespaces/default", b"{}", {"Content-Type": "application/json-patch+json"}, 400),
        ("missing object", "DELETE", base + "/nothing", None, {}, 404),
        ("invalid name", "POST", base, b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"A B"}}', j, 422),
        ("no name", "POST", base, b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{}}', j, 422),
        ("method not allowed", "POST", "/api/v1/namespaces/default/configmaps/x", b"{}", j, 405),
    ]
    for name, method, path, body, headers, want in cases:
        code, _, resp = request(server, ctx, method, path, body, headers)
        expect(code == want, f"{name}: expected {want}, got {code}: {resp[:300]}")
        s = status_of(resp)
        expect(s.get("kind") == "Status" and s.get("code") == want, f"{name}: not a Status with code {want}: {s}")
        expect(s.get("message"), f"{name}: Status without a message: {s}")
    big = b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big"},"data":{"a":"' + b"x" * (4 * 1024 * 1024) + b'"}}'
    code, _, resp = request(server, ctx, "POST", base, big, j)
    expect(code == 413, f"a 4 MiB body should be 413, got {code}")
    # None of it was stored, and the server still works.
    code, _, resp = request(server, ctx, "GET", base, None, {})
    expect(code == 200, f"list after bad input: {code}")
    names = [i["metadata"]["name"] for i in json.loads(resp)["items"]]
    expect(not {"x", "big"} & set(names), f"rejected objects were stored: {names}")



def negotiation(server, ca, cert, key):
    import gzip

    ctx = context(ca, cert, key)
    # OpenAPI: hashed documents are cacheable, and the ETag answers 304.
    code, _, body = request(server, ctx, "GET", "/openapi/v3")
    url = json.loads(body)["paths"]["apis/apps/v1"]["serverRelativeURL"]
    code, headers, body = request(server, ctx, "GET", url)
    expect(code == 200 and "immutable" in headers.get("Cache-Control", ""), f"openapi doc {code} {dict(headers)}")
    doc = json.loads(body)
    patch = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    expect(patch["x-kubernetes-group-version-kind"]["kind"] == "Deployment", "PATCH carries the GVK")
    expect(any(p["name"] == "fieldValidation" for p in patch["parameters"]), "PATCH has fieldValidation")
    schema = doc["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"]
    expect(schema["x-kubernetes-group-version-kind"][0]["kind"] == "Deployment", "schema carries the GVK")
    etag = headers["ETag"]
    code, _, _ = request(server, ctx, "GET", url, headers={"If-None-Match": etag})
    expect(code == 304, f"If-None-Match should give 304, got {code}")
    # YAML out.
    code, headers, body = request(server, ctx, "GET", "/api/v1/namespaces/default", headers={"Accept": "application/yaml"})
    expect(code == 200 and headers["Content-Type"].startswith("application/yaml") and b"name: default" in body, f"yaml {code} {body[:200]}")
    # YAML in.
    y = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  k: v\n"
    code, _, body = request(server, ctx, "POST", "/api/v1/namespaces/default/configmaps", y, {"Content-Type": "application/yaml"})
    expect(code == 201, f"yaml create {code} {body[:200]}")
    # Table with the whole object, and metadata-only views.
    tbl = "application/json;as=Table;v=v1;g=meta.k8s.io"
    code, headers, body = request(server, ctx, "GET", "/api/v1/namespaces/default/configmaps?includeObject=Object", headers={"Accept": tbl})
    t = json.loads(body)
    expect(t["kind"] == "Table" and t["rows"][0]["object"]["kind"] == "ConfigMap", f"table with objects {t}")
    expect([c["name"] for c in t["columnDefinitions"]][:3] == ["Name", "Data", "Age"], t["columnDefinitions"])
    pom = "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io"
    code, headers, body = request(server, ctx, "GET", "/api/v1/namespaces/default/configmaps", headers={"Accept": pom})
    m = json.loads(body)
    expect(m["kind"] == "PartialObjectMetadataList" and "data" not in m["items"][0], f"metadata list {m}")
    code, _, body = request(server, ctx, "GET", "/api/v1/namespaces/default/configmaps", headers={"Accept": "application/vnd.kubernetes.protobuf"})
    expect(code == 406, f"protobuf-only Accept should be 406, got {code}")
    # Large responses are gzipped when asked.
    for i in range(40):
        blob = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"blob-{i}"}, "data": {"x": "y" * 8000}}).encode()
        request(server, ctx, "POST", "/api/v1/namespaces/default/configmaps", blob, {"Content-Type": "application/json"})
    code, headers, body = request(server, ctx, "GET", "/api/v1/namespaces/default/configmaps", headers={"Accept-Encoding": "gzip"})
    expect(headers.get("Content-Encoding") == "gzip", f"large list not gzipped: {dict(headers)}")
    items = json.loads(gzip.decompress(body))["items"]
    expect(len(items) >= 40, "gzipped list decodes")



def watch_list(server, ca, cert, key):
    """client-go's streaming list: initial events, then a bookmark marking their end."""
    ctx = context(ca, cert, key)
    for i in range(3):
        body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"wl-{i}", "labels": {"wl": "1"}}}).encode()
        request(server, ctx, "POST", "/api/v1/namespaces/default/configmaps", body, {"Content-Type": "application/json"})
    # Selected by label: the namespace also holds what controllers put there (kube-root-ca.crt).
    path = ("/api/v1/namespaces/default/configmaps?watch=1&sendInitialEvents=true&labelSelector=wl%3D1"
            "&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=2")
    code, _, body = request(server, ctx, "GET", path)
    expect(code == 200, f"watch list {code} {body[:200]}")
    events = [json.loads(l) for l in body.decode().splitlines() if l.strip()]
    added = [e["object"]["metadata"]["name"] for e in events if e["type"] == "ADDED"]
    expect(sorted(added) == ["wl-0", "wl-1", "wl-2"], f"initial events {added}")
    marks = [e for e in events if e["type"] == "BOOKMARK"]
    expect(marks and marks[0]["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"] == "true", f"bookmark {marks}")
    expect(events.index(marks[0]) == 3, "the bookmark follows the initial events")
    code, _, body = request(server, ctx, "GET", "/api/v1/namespaces/default/configmaps?watch=1&resourceVersionMatch=NotOlderThan&resourceVersion=1")
    expect(code == 400, f"resourceVersionMatch without sendInitialEvents on a watch: {code}")


def main():
    kubeconfig, case, *rest = sys.argv[1:]
    server, ca, cert, key = load(kubeconfig)
    globals()[case](server, ca, cert, key, *rest)
    print("ok")


if __name__ == "__main__":
    main()
