#!/usr/bin/env python3
"""Checks JSON documents against the schemas of docs/openapi.yaml.

Usage: openapi_check.py OPENAPI.yaml TARGET [FILE...]
TARGET is a component schema name ("Job") or an operation's response,
"METHOD PATH STATUS" ("GET /v1/jobs 200"). Each FILE (standard input when
none) holds one JSON document. OpenAPI 3.0 schemas are turned into JSON
Schema (nullable, local $refs inlined) and checked with python3-jsonschema;
every violation is printed with its path and the exit status is 1.
"""
import json
import sys

import jsonschema
import yaml


def resolve(node, doc, seen=()):
    """Inlines local $refs and turns `nullable: true` into a null type."""
    if isinstance(node, list):
        return [resolve(x, doc, seen) for x in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/") or ref in seen:
            raise SystemExit("unsupported or recursive $ref: " + ref)
        target = doc
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        return resolve(target, doc, seen + (ref,))
    out = {k: resolve(v, doc, seen) for k, v in node.items()
           if k not in ("nullable", "example", "xml", "externalDocs", "deprecated")}
    if node.get("nullable"):
        out = {"anyOf": [out, {"type": "null"}]}
    return out


def target_schema(doc, target):
    parts = target.split()
    if len(parts) == 1:
        return doc["components"]["schemas"][target]
    method, path, status = parts
    response = doc["paths"][path][method.lower()]["responses"][status]
    if "$ref" in response:
        response = resolve(response, doc)
    return response["content"]["application/json"]["schema"]


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    with open(sys.argv[1]) as f:
        doc = yaml.safe_load(f)
    schema = resolve(target_schema(doc, sys.argv[2]), doc)
    validator = jsonschema.Draft7Validator(schema)
    files = sys.argv[3:] or ["-"]
    bad = 0
    for name in files:
        text = sys.stdin.read() if name == "-" else open(name).read()
        for err in validator.iter_errors(json.loads(text)):
            where = "/".join(str(p) for p in err.absolute_path) or "(root)"
            print("%s: %s: %s: %s" % (name, sys.argv[2], where, err.message))
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
