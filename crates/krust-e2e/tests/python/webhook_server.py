"""A tiny HTTPS admission webhook for the tests. Paths:
  /mutate   add label mutated=true
  /count    increment annotation seen (to observe reinvocation)
  /label-b  add label b=true
  /deny     deny objects whose name starts with "bad" (and deletes of protected=true ones)
  /slow     answer after 3 s
Usage: webhook_server.py PORT CERT KEY"""

import base64
import json
import ssl
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def patch_response(uid, ops):
    return {"uid": uid, "allowed": True, "patchType": "JSONPatch",
            "patch": base64.b64encode(json.dumps(ops).encode()).decode()}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        req = body["request"]
        uid = req["uid"]
        obj = req.get("object") or {}
        meta = obj.get("metadata") or {}
        path = self.path
        if path == "/slow":
            time.sleep(3)
            resp = {"uid": uid, "allowed": True}
        elif path == "/mutate":
            ops = []
            if "labels" not in meta:
                ops.append({"op": "add", "path": "/metadata/labels", "value": {}})
            ops.append({"op": "add", "path": "/metadata/labels/mutated", "value": "true"})
            resp = patch_response(uid, ops)
        elif path == "/label-b":
            ops = []
            if "labels" not in meta:
                ops.append({"op": "add", "path": "/metadata/labels", "value": {}})
            ops.append({"op": "add", "path": "/metadata/labels/b", "value": "true"})
            resp = patch_response(uid, ops)
        elif path == "/count":
            ann = meta.get("annotations") or {}
            seen = int(ann.get("seen", "0")) + 1
            ops = [] if "annotations" in meta else [{"op": "add", "path": "/metadata/annotations", "value": {}}]
            ops.append({"op": "add", "path": "/metadata/annotations/seen", "value": str(seen)})
            resp = patch_response(uid, ops)
        elif path == "/deny":
            old = req.get("oldObject") or {}
            if req["operation"] == "DELETE" and (old.get("metadata", {}).get("labels") or {}).get("protected") == "true":
                resp = {"uid": uid, "allowed": False, "status": {"code": 403, "message": "this object is protected"}}
            elif req["operation"] != "DELETE" and meta.get("name", "").startswith("bad"):
                resp = {"uid": uid, "allowed": False, "status": {"code": 403, "message": "names starting with bad are not allowed"}}
            else:
                resp = {"uid": uid, "allowed": True, "warnings": ["checked by the test webhook"]}
        else:
            resp = {"uid": uid, "allowed": True}
        out = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": resp}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


def main():
    port, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
