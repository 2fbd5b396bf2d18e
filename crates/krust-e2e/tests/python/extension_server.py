"""A tiny aggregated API server for the tests: serves group `stats.example.com` version
`v1alpha1` with one namespaced, read-only resource `counters` (kind Counter). Each object
reports the user the aggregator forwarded (X-Remote-User) so tests can see identity pass
through. Like a real extension API server, it requires a client certificate signed by the
request-header CA and trusts X-Remote-User only from the allowed proxy name.
Usage: extension_server.py PORT CERT KEY CLIENT_CA ALLOWED_NAME; prints "ready" once
listening."""

import json
import ssl
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GV = "stats.example.com/v1alpha1"
NAMES = ["alpha", "beta"]


def counter(ns, name, user):
    return {"apiVersion": GV, "kind": "Counter",
            "metadata": {"name": name, "namespace": ns, "creationTimestamp": "2026-01-01T00:00:00Z"},
            "value": len(name), "seenBy": user}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, code, doc):
        body = json.dumps(doc).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        peer = self.connection.getpeercert() or {}
        names = [v for rdn in peer.get("subject", ()) for (k, v) in rdn if k == "commonName"]
        if names != [ALLOWED[0]]:
            return self.send(401, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 401,
                                   "reason": "Unauthorized", "message": f"proxy {names} not allowed"})
        user = self.headers.get("X-Remote-User", "")
        path = self.path.split("?")[0].rstrip("/")
        parts = path.split("/")
        if path == "/apis/stats.example.com/v1alpha1":
            return self.send(200, {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": GV,
                                   "resources": [{"name": "counters", "singularName": "counter", "namespaced": True,
                                                  "kind": "Counter", "verbs": ["get", "list"], "shortNames": ["ctr"]}]})
        # /apis/stats.example.com/v1alpha1/namespaces/<ns>/counters[/<name>]
        if len(parts) >= 7 and parts[4] == "namespaces" and parts[6] == "counters":
            ns = parts[5]
            if len(parts) == 7:
                return self.send(200, {"apiVersion": GV, "kind": "CounterList", "metadata": {},
                                       "items": [counter(ns, n, user) for n in NAMES]})
            if len(parts) == 8 and parts[7] in NAMES:
                return self.send(200, counter(ns, parts[7], user))
            return self.send(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404,
                                   "reason": "NotFound", "message": f'counters "{parts[-1]}" not found'})
        self.send(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404,
                        "reason": "NotFound", "message": "not found"})


ALLOWED = [""]


def main():
    port, cert, key, client_ca = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    ALLOWED[0] = sys.argv[5]
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.load_verify_locations(client_ca)
    ctx.verify_mode = ssl.CERT_REQUIRED
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
