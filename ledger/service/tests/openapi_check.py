#!/usr/bin/env python3
"""Checks the ledger's OpenAPI document for ledger/service/tests/openapi.rs.

    openapi_check.py spec SPEC.json
        The document is OpenAPI 3.1 and valid under openapi-spec-validator.

    openapi_check.py responses SPEC.json CAPTURED.json
        Every captured answer (a list of {method, path, status, content_type,
        body}) is documented: its path matches one of the document's path
        templates, the operation exists, the status is declared (exactly, or by
        its range such as 4XX; `default` does not count), the content type is
        one the response declares, and the body validates against the declared
        schema (JSON Schema 2020-12, `#/components/...` references resolved
        through a registry holding the whole document). A JSON object body must
        not carry top-level properties the schema does not declare, unless the
        schema says additionalProperties explicitly: a bare `{"type": "object"}`
        documents nothing.

Prints every mismatch and exits 1 if there is any; exits 3 if a Python
module is missing (naming the pip package), 2 on bad usage.
"""

import json
import re
import sys

MISSING = 3


def need(module, package):
    try:
        return __import__(module)
    except ImportError:
        print(
            f"missing Python module {module!r}: pip install {package} "
            "(openapi-spec-validator brings jsonschema and referencing)",
            file=sys.stderr,
        )
        sys.exit(MISSING)


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def check_spec(spec_path):
    need("openapi_spec_validator", "openapi-spec-validator")
    from openapi_spec_validator import validate

    spec = load(spec_path)
    version = str(spec.get("openapi", ""))
    problems = []
    if not version.startswith("3.1"):
        problems.append(
            f"the document is OpenAPI {version!r}; it must be 3.1 (its schemas are "
            "JSON Schema 2020-12)"
        )
    try:
        validate(spec)
    except Exception as error:  # the validator raises its own hierarchy
        problems.extend(every_spec_error(spec, error))
    for problem in problems:
        print(problem)
    if problems:
        return 1
    print(f"valid OpenAPI {version}: {len(spec.get('paths', {}))} paths")
    return 0


def short(text, limit=400):
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + " ..."


def every_spec_error(spec, first):
    """Every error the validator finds (validate() stops at the first), briefly."""
    try:
        import openapi_spec_validator as v

        version = str(spec.get("openapi", ""))
        validator = v.OpenAPIV30SpecValidator if version.startswith("3.0") else v.OpenAPIV31SpecValidator
        errors = list(validator(spec).iter_errors())
    except Exception:  # an older validator, or a document it cannot walk
        errors = []
    if not errors:
        errors = [first]
    out = []
    for error in errors[:50]:
        where = "/".join(str(p) for p in getattr(error, "absolute_path", []) or [])
        message = getattr(error, "message", None) or str(error)
        out.append(f"openapi-spec-validator: at {where or '(root)'}: {short(message)}")
    if len(errors) > 50:
        out.append(f"... and {len(errors) - 50} more")
    return out


def template_regex(template):
    parts = re.split(r"(\{[^}/]+\})", template)
    pattern = "".join(
        "[^/]+" if part.startswith("{") and part.endswith("}") else re.escape(part)
        for part in parts
    )
    return re.compile(f"^{pattern}$")


def find_template(spec, path):
    """The path template serving `path`: a literal segment beats a parameter."""
    matches = [t for t in spec.get("paths", {}) if template_regex(t).match(path)]
    if not matches:
        return None
    return min(matches, key=lambda t: (t.count("{"), -len(t)))


def pointer_escape(token):
    return str(token).replace("~", "~0").replace("/", "~1")


def resolve_local(spec, node, seen=None):
    """Follows local $refs (components.responses and the like)."""
    seen = seen or set()
    while isinstance(node, dict) and "$ref" in node and len(node) <= 3:
        ref = node["$ref"]
        if not ref.startswith("#/") or ref in seen:
            return node
        seen.add(ref)
        target = spec
        for token in ref[2:].split("/"):
            token = token.replace("~1", "/").replace("~0", "~")
            target = target[token]
        node = target
    return node


def response_pointer(spec, tokens):
    """The JSON pointer (without '#/') of the response at `tokens`, following $refs."""
    pointer = "/".join(pointer_escape(t) for t in tokens)
    node = spec
    for token in tokens:
        node = node[token]
    for _ in range(10):
        if not (isinstance(node, dict) and str(node.get("$ref", "")).startswith("#/")):
            break
        pointer = node["$ref"][2:]
        node = resolve_local(spec, {"$ref": node["$ref"]})
    return pointer


def declared_properties(spec, schema, depth=0):
    """(names of declared properties, whether extras are explicitly allowed or
    governed); None when the schema is not about an object's keys at all."""
    schema = resolve_local(spec, schema)
    if not isinstance(schema, dict) or depth > 20:
        return set(), False
    names = set(schema.get("properties", {}))
    explicit = "additionalProperties" in schema or "patternProperties" in schema
    explicit = explicit or "unevaluatedProperties" in schema
    for key in ("allOf", "oneOf", "anyOf"):
        for sub in schema.get(key, []):
            sub_names, sub_explicit = declared_properties(spec, sub, depth + 1)
            names |= sub_names
            explicit = explicit or sub_explicit
    return names, explicit


def status_entry(responses, status):
    status = str(status)
    if status in responses:
        return status
    wildcard = status[0] + "XX"
    for key in responses:
        if key.upper() == wildcard:
            return key
    return None


def check_responses(spec_path, captured_path):
    need("jsonschema", "jsonschema")
    need("referencing", "referencing")
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    spec = load(spec_path)
    captured = load(captured_path)
    base = "urn:cbdc:openapi"
    registry = Registry().with_resource(
        base, Resource(contents=spec, specification=DRAFT202012)
    )
    mismatches = []
    checked = 0
    for capture in captured:
        method = capture["method"].lower()
        path = capture["path"].split("?", 1)[0]
        status = capture["status"]
        media = (capture.get("content_type") or "").split(";", 1)[0].strip().lower()
        body = capture.get("body")
        case = f"{capture['method']} {capture['path']} -> {status}"
        template = find_template(spec, path)
        if template is None:
            mismatches.append(f"{case}: no path template in the document matches {path}")
            continue
        operation = spec["paths"][template].get(method)
        if operation is None:
            mismatches.append(f"{case}: {template} documents no {method.upper()}")
            continue
        responses = operation.get("responses", {})
        key = status_entry(responses, status)
        if key is None:
            mismatches.append(
                f"{case}: status {status} is not documented for {method.upper()} "
                f"{template} (documented: {sorted(responses)})"
            )
            continue
        response = resolve_local(spec, responses[key])
        content = response.get("content", {})
        medias = {m.split(";", 1)[0].strip().lower(): m for m in content}
        if media not in medias:
            mismatches.append(
                f"{case}: answered {media!r}, the document declares {sorted(content)}"
            )
            continue
        schema = content[medias[media]].get("schema")
        if schema is None:
            mismatches.append(f"{case}: the {media} response declares no schema")
            continue
        pointer = response_pointer(spec, ["paths", template, method, "responses", key])
        pointer += "/" + "/".join(pointer_escape(t) for t in ["content", medias[media], "schema"])
        validator = Draft202012Validator({"$ref": f"{base}#/{pointer}"}, registry=registry)
        checked += 1
        for error in sorted(validator.iter_errors(body), key=lambda e: list(e.path)):
            where = "/".join(str(p) for p in error.absolute_path) or "(root)"
            mismatches.append(f"{case} [{template}]: at {where}: {error.message}")
        if isinstance(body, dict) and template != "/openapi.json":
            names, explicit = declared_properties(spec, schema)
            undeclared = sorted(set(body) - names)
            if undeclared and not explicit:
                mismatches.append(
                    f"{case} [{template}]: the body has properties the schema does not "
                    f"declare: {undeclared}"
                )
    for mismatch in mismatches:
        print(mismatch)
    print(f"{checked} of {len(captured)} captured answers validated, {len(mismatches)} mismatches")
    return 1 if mismatches else 0


def main(argv):
    if len(argv) == 3 and argv[1] == "spec":
        return check_spec(argv[2])
    if len(argv) == 4 and argv[1] == "responses":
        return check_responses(argv[2], argv[3])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
