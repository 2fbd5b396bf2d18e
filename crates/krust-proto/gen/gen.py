#!/usr/bin/env python3
"""Generate crates/krust-proto/src/generated.rs: the protobuf <-> JSON field table.

Two inputs are combined:

* the prost-generated structs of the `k8s-pb` crate (from the local cargo registry): message
  names, field numbers, protobuf scalar kinds, repeated/map cardinality and referenced message
  types. This is the wire-format truth.
* the Go API types of `k8s.io/api` and `k8s.io/apimachinery` (a source tree of the release
  that matches k8s-pb, see gen/README.md): each Go field carries a `protobuf:"...,N,..."` tag
  and a `json:"name,omitempty"` tag, and its Go type says whether it is a pointer. That is the
  JSON truth: the JSON name, `omitempty`, `,inline`, and pointer-ness (a pointer field that is
  present on the wire is always shown in JSON, even when zero).

Only messages reachable from the kinds listed in KINDS (plus their `...List` messages) are
emitted. Run:  python3 gen/gen.py --go-api DIR --go-apimachinery DIR [--k8s-pb DIR]
"""

import argparse
import glob
import os
import re
import subprocess
import sys

# (apiVersion, [kind]) roots; `<Kind>List` is added whenever that message exists.
KINDS = [
    ("v1", ["Namespace", "ConfigMap", "Secret", "Service", "ServiceAccount", "Pod", "ResourceQuota",
            "Event", "Node", "Endpoints", "PersistentVolumeClaim", "PersistentVolume", "LimitRange",
            "ReplicationController", "Binding", "PodTemplate"]),
    ("apps/v1", ["Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "ControllerRevision"]),
    ("batch/v1", ["Job", "CronJob"]),
    ("rbac.authorization.k8s.io/v1", ["Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"]),
    ("policy/v1", ["PodDisruptionBudget", "Eviction"]),
    ("scheduling.k8s.io/v1", ["PriorityClass"]),
    ("networking.k8s.io/v1", ["Ingress", "IngressClass", "NetworkPolicy"]),
    ("coordination.k8s.io/v1", ["Lease"]),
    ("certificates.k8s.io/v1", ["CertificateSigningRequest"]),
    ("discovery.k8s.io/v1", ["EndpointSlice"]),
    ("authorization.k8s.io/v1", ["SelfSubjectAccessReview", "SubjectAccessReview",
                                 "LocalSubjectAccessReview", "SelfSubjectRulesReview"]),
    ("authentication.k8s.io/v1", ["TokenRequest", "SelfSubjectReview", "TokenReview"]),
    ("autoscaling/v1", ["Scale", "HorizontalPodAutoscaler"]),
    ("autoscaling/v2", ["HorizontalPodAutoscaler"]),
    ("storage.k8s.io/v1", ["StorageClass"]),
    ("events.k8s.io/v1", ["Event"]),
    ("meta.k8s.io/v1", ["DeleteOptions", "Status"]),
]

# Messages with a JSON form of their own (see src/schema.rs `Ty`).
SPECIAL = {
    "apimachinery.pkg.apis.meta.v1.Time": "Time",
    "apimachinery.pkg.apis.meta.v1.MicroTime": "MicroTime",
    "apimachinery.pkg.apis.meta.v1.Duration": "Duration",
    "apimachinery.pkg.apis.meta.v1.FieldsV1": "FieldsV1",
    "apimachinery.pkg.runtime.RawExtension": "RawExtension",
    "apimachinery.pkg.util.intstr.IntOrString": "IntOrString",
    "apimachinery.pkg.api.resource.Quantity": "Quantity",
}

SCALARS = {"string": "String", "bytes": "Bytes", "bool": "Bool", "int32": "Int32",
           "int64": "Int64", "double": "Double"}


def module_for_api_version(api_version):
    if api_version == "meta.k8s.io/v1":
        return "apimachinery.pkg.apis.meta.v1"
    if "/" not in api_version:
        return "api.core." + api_version
    group, version = api_version.split("/")
    return "api.%s.%s" % (group.split(".")[0], version)


# ---------------------------------------------------------------------------------------------
# k8s-pb (prost) parsing

PROST_ATTR = re.compile(r'#\[prost\((.*)\)\]')


def parse_prost_attr(text):
    """Returns (kind, card, tag, map_value) from the inside of #[prost(...)]."""
    tag = int(re.search(r'tag\s*=\s*"(\d+)"', text).group(1))
    m = re.match(r'btree_map\s*=\s*"string,\s*(\w+)"', text)
    if m:
        return ("map", "Map", tag, m.group(1))
    kind = re.match(r'(\w+)', text).group(1)
    card = "Repeated" if re.search(r'\brepeated\b', text) else "One"
    return (kind, card, tag, None)


def resolve_path(module, path):
    """Resolves a Rust type path written inside `module` to a dotted message name."""
    parts = [p for p in path.split("::") if p]
    mod = module.split(".")
    while parts and parts[0] == "super":
        parts.pop(0)
        mod.pop()
    return ".".join(mod + parts)


def last_type_in(rust_type):
    """Picks the message path out of Option<..>, Vec<..>, Box<..>, BTreeMap<String, ..>."""
    t = re.sub(r'\s+', '', rust_type)
    for wrapper in ("::core::option::Option<", "::prost::alloc::vec::Vec<",
                    "::prost::alloc::boxed::Box<"):
        t = t.replace(wrapper, "<")
    t = t.replace("::prost::alloc::collections::BTreeMap<::prost::alloc::string::String,", "<")
    t = t.strip("<>,")
    return t


def parse_k8s_pb(root):
    """Returns {dotted message name: [(rust_field, kind, card, tag, type_ref)]}."""
    messages = {}
    for path in glob.glob(os.path.join(root, "src", "**", "mod.rs"), recursive=True):
        rel = os.path.relpath(os.path.dirname(path), os.path.join(root, "src"))
        module = rel.replace(os.sep, ".")
        lines = open(path, encoding="utf-8").read().split("\n")
        i = 0
        current = None
        while i < len(lines):
            line = lines[i]
            m = re.match(r'pub struct (\w+) \{', line)
            if m:
                current = module + "." + m.group(1)
                messages[current] = []
            elif line == "}":
                current = None
            elif current is not None:
                a = PROST_ATTR.search(line)
                if a:
                    kind, card, tag, map_value = parse_prost_attr(a.group(1))
                    # The field declaration may wrap over several lines.
                    decl = ""
                    j = i + 1
                    while not (decl.endswith(",") and decl.count("<") == decl.count(">")):
                        decl += lines[j].strip()
                        j += 1
                    fm = re.match(r'pub (?:r#)?(\w+):\s*(.*),$', decl)
                    rust_field, rust_type = fm.group(1), fm.group(2)
                    ref = None
                    if kind == "message" or map_value == "message":
                        ref = resolve_path(module, last_type_in(rust_type))
                    elif kind == "map":
                        ref = map_value
                    messages[current].append((rust_field, kind, card, tag, ref))
                    i = j - 1
            i += 1
    return messages


# ---------------------------------------------------------------------------------------------
# Go types parsing

GO_FIELD = re.compile(r'^\s*(.*?)\s*`(.*)`\s*$')


def go_dir_for(module, go_api, go_apimachinery):
    parts = module.split(".")
    if parts[0] == "api":
        return os.path.join(go_api, *parts[1:])
    if parts[0] == "apimachinery":
        return os.path.join(go_apimachinery, *parts[1:])
    return None


def parse_go_package(directory):
    """Returns ({struct name: {proto tag: go field}}, {type name: underlying type})."""
    structs, named = {}, {}
    for path in sorted(glob.glob(os.path.join(directory, "*.go"))):
        if path.endswith("_test.go") or path.endswith(".pb.go"):
            continue
        lines = open(path, encoding="utf-8").read().split("\n")
        current = None
        for line in lines:
            m = re.match(r'^type (\w+) struct \{\s*$', line)
            if m:
                current = m.group(1)
                structs[current] = {}
                continue
            m = re.match(r'^type (\w+) (\S+)\s*$', line)
            if m and current is None:
                named[m.group(1)] = m.group(2)
                continue
            if current is None:
                continue
            if line.startswith("}"):
                current = None
                continue
            stripped = line.strip()
            if stripped.startswith("//") or not stripped:
                continue
            fm = GO_FIELD.match(line)
            if not fm:
                continue
            decl, tags = fm.group(1).split(), fm.group(2)
            pm = re.search(r'protobuf:"(\w+),(\d+)(?:,(opt|rep|req))?(?:,name=(\w+))?', tags)
            jm = re.search(r'json:"([^"]*)"', tags)
            if not pm or not jm:
                continue
            go_type = decl[-1]
            json_opts = jm.group(1).split(",")
            structs[current][int(pm.group(2))] = {
                "go_name": decl[0] if len(decl) == 2 else decl[0].split(".")[-1].lstrip("*"),
                "json": json_opts[0],
                "omitempty": "omitempty" in json_opts[1:],
                "inline": "inline" in json_opts[1:],
                "pointer": go_type.startswith("*"),
                "go_type": go_type,
                "proto_name": pm.group(4),
            }
    return structs, named


# ---------------------------------------------------------------------------------------------
# Table building

def short_name(dotted):
    """`api.apps.v1.Deployment` -> `apps.v1.Deployment`; apimachinery packages keep a prefix."""
    parts = dotted.split(".")
    if parts[0] == "api":
        return ".".join(parts[1:])
    return ".".join(parts[-3:]) if parts[-3] != "pkg" else ".".join(parts[-2:])


def main():
    ap = argparse.ArgumentParser()
    default_pb = sorted(glob.glob(os.path.expanduser("~/.cargo/registry/src/*/k8s-pb-0.9.0")))
    ap.add_argument("--k8s-pb", default=default_pb[-1] if default_pb else None)
    ap.add_argument("--go-api", required=True)
    ap.add_argument("--go-apimachinery", required=True)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "src",
                                                 "generated.rs"))
    args = ap.parse_args()

    pb = parse_k8s_pb(args.k8s_pb)
    go_cache = {}

    def go_info(dotted):
        module, name = dotted.rsplit(".", 1)
        if module not in go_cache:
            d = go_dir_for(module, args.go_api, args.go_apimachinery)
            go_cache[module] = parse_go_package(d)
        structs, named = go_cache[module]
        for go_name, fields in structs.items():
            if go_name.lower() == name.lower():
                return go_name, fields, named
        return None, None, named

    # Roots.
    roots = []
    for api_version, kinds in KINDS:
        module = module_for_api_version(api_version)
        for kind in kinds:
            for k in (kind, kind + "List"):
                dotted = module + "." + k
                if dotted in pb:
                    roots.append((api_version, k, dotted))
                elif k == kind:
                    sys.exit("no message %s for %s %s" % (dotted, api_version, kind))

    # Reachable closure, in a stable order (sorted by short name).
    seen, stack = set(), [r[2] for r in roots]
    string_lists = set()
    while stack:
        dotted = stack.pop()
        if dotted in seen or dotted in SPECIAL:
            continue
        seen.add(dotted)
        module, name = dotted.rsplit(".", 1)
        _, _, named = go_info(dotted)
        # `type ExtraValue []string` is a message with one repeated string on the wire and a
        # plain JSON array of strings.
        if named.get(name) == "[]string":
            string_lists.add(dotted)
            continue
        for (_f, kind, _card, _tag, ref) in pb[dotted]:
            if kind == "message" or (kind == "map" and ref not in ("string", "bytes")):
                stack.append(ref)
    ordered = sorted((d for d in seen if d not in string_lists), key=short_name)
    index = {d: i for i, d in enumerate(ordered)}

    out = []
    used = set()
    out.append("/// All messages; `Msg(n)` refers to `MESSAGES[n]`.")
    out.append("#[rustfmt::skip]")
    out.append("pub(crate) static MESSAGES: &[Message] = &[")
    for dotted in ordered:
        go_name, go_fields, _ = go_info(dotted)
        if go_fields is None:
            sys.exit("no Go struct for %s" % dotted)
        module = dotted.rsplit(".", 1)[0]
        display = short_name(module + "." + go_name)
        rows = []
        for (rust_field, kind, card, tag, ref) in sorted(pb[dotted], key=lambda x: x[3]):
            g = go_fields.get(tag)
            if g is None:
                sys.exit("%s field %s (tag %d) has no Go counterpart" % (dotted, rust_field, tag))
            # Both sides name the proto field; they must agree (prost uses snake_case).
            if g["proto_name"] and g["proto_name"].lower() != rust_field.replace("_", "").lower():
                sys.exit("%s tag %d: k8s-pb says %s, Go says %s" % (dotted, tag, rust_field,
                                                                   g["proto_name"]))
            if kind in SCALARS:
                ty = SCALARS[kind]
            elif kind == "message" or (kind == "map" and ref not in ("string", "bytes")):
                if ref in SPECIAL:
                    ty = SPECIAL[ref]
                elif ref in string_lists:
                    ty = "StringList"
                else:
                    ty = "Msg(%d)" % index[ref]
            elif kind == "map":
                ty = SCALARS[ref]
            else:
                sys.exit("unknown prost kind %s in %s" % (kind, dotted))
            flags = []
            if g["omitempty"]:
                flags.append("OMITEMPTY")
            if g["pointer"]:
                flags.append("POINTER")
            if g["inline"]:
                flags.append("INLINE")
            json_name = "" if g["inline"] else g["json"]
            used.add(ty.split("(")[0])
            used.add(card)
            used.update(flags)
            rows.append('        f(%d, "%s", %s, %s, %s),' % (
                tag, json_name, ty, card, " | ".join(flags) if flags else "0"))
        out.append('    // %d: %s' % (index[dotted], display))
        out.append('    Message { fields: &[')
        out.extend(rows)
        out.append('    ] },')
    out.append("];")
    out.append("")
    out.append("/// The top-level kinds `decode`/`encode` accept, by apiVersion and kind.")
    out.append("#[rustfmt::skip]")
    out.append("pub(crate) static KINDS: &[Kind] = &[")
    for api_version, kind, dotted in roots:
        out.append('    Kind { api_version: "%s", kind: "%s", msg: %d },' % (
            api_version, kind, index[dotted]))
    out.append("];")
    out.append("")
    tys = sorted(u for u in used if u not in ("One", "Repeated", "Map", "OMITEMPTY", "POINTER",
                                               "INLINE"))
    cards = sorted(u for u in used if u in ("One", "Repeated", "Map"))
    flag_names = sorted(u for u in used if u in ("OMITEMPTY", "POINTER", "INLINE"))
    head = [
        "// @generated by crates/krust-proto/gen/gen.py from k8s-pb 0.9.0 and the Go types of",
        "// k8s.io/api + k8s.io/apimachinery v0.35.7. Do not edit; re-run the generator.",
        "//! Field table of every protobuf message reachable from the supported kinds.",
        "",
        "use crate::schema::Card::{%s};" % ", ".join(cards),
        "use crate::schema::Ty::{%s};" % ", ".join(tys),
        "use crate::schema::{%s};" % ", ".join(flag_names + ["Kind", "Message", "f"]),
        "",
    ]
    out = head + out
    with open(args.out, "w", encoding="utf-8") as fh:
        fh.write("\n".join(out))
    # Format the few lines outside the `#[rustfmt::skip]` tables the way `cargo fmt` would.
    workspace = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..")
    subprocess.run(["rustfmt", "--edition", "2024", "--config-path", workspace, args.out], check=True)
    print("wrote %d messages, %d kinds to %s" % (len(ordered), len(roots), args.out),
          file=sys.stderr)


if __name__ == "__main__":
    main()
