"""The API reference page (docs/api-reference.md), rendered from the node's OpenAPI document.

tests/api/test_reference.py renders it from a live app and compares it with the committed page,
so the page cannot drift from the code (`UPDATE_API_REFERENCE=1` rewrites it).
"""

from typing import Any

HEADER = """# HTTP API reference

Generated from the node's `/openapi.json` by `flavum/api/reference.py`; do not edit by hand
(regenerate with `UPDATE_API_REFERENCE=1 pytest tests/api/test_reference.py`). The guides are
in [api.md](api.md). Every refusal is a 4xx with an `ErrorBody`.
"""


def render(openapi: dict[str, Any]) -> str:
    """Markdown: one section per operation (parameters, body, response), then every schema."""
    lines = [HEADER, "## Operations", ""]
    for path, operations in openapi["paths"].items():
        for method, op in operations.items():
            lines += _operation(method.upper(), path, op)
    lines += ["## Schemas", ""]
    for name, schema in openapi["components"]["schemas"].items():
        lines += _schema(name, schema)
    return "\n".join(lines).rstrip() + "\n"


def _operation(method: str, path: str, op: dict[str, Any]) -> list[str]:
    lines = [f"### `{method} {path}`", ""]
    if op.get("description"):
        lines += [" ".join(op["description"].split()), ""]
    for param in op.get("parameters", []):
        bounds = _bounds(param["schema"])
        lines.append(f"- {param['in']} `{param['name']}`: {_type(param['schema'])}{bounds}")
    body = op.get("requestBody", {}).get("content", {}).get("application/json")
    if body is not None:
        lines.append(f"- body: {_type(body['schema'])}")
    ok = op["responses"].get("200", {}).get("content", {}).get("application/json")
    if ok is not None:
        lines.append(f"- returns: {_type(ok['schema'])}")
    return [*lines, ""]


def _schema(name: str, schema: dict[str, Any]) -> list[str]:
    lines = [f"### {name}", ""]
    if schema.get("description"):
        lines += [" ".join(schema["description"].split()), ""]
    required = set(schema.get("required", []))
    lines += ["| field | type | |", "|---|---|---|"]
    for field, spec in schema.get("properties", {}).items():
        note = spec.get("description", "")
        optional = "" if field in required else " (optional)"
        lines.append(f"| `{field}` | {_type(spec)}{optional} | {note} |")
    if schema.get("additionalProperties") is True:
        lines.append("| … | | more fields may follow |")
    return [*lines, ""]


def _type(spec: dict[str, Any]) -> str:
    """A schema as a short type: `Hash`-like strings show their pattern's meaning."""
    if "$ref" in spec:
        name = spec["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    if "anyOf" in spec:
        return " or ".join(_type(s) for s in spec["anyOf"])
    kind = spec.get("type", "any")
    if kind == "array":
        return f"list of {_type(spec.get('items', {}))}"
    if kind == "object" and isinstance(spec.get("additionalProperties"), dict):
        return f"map to {_type(spec['additionalProperties'])}"
    if kind == "string" and "pattern" in spec:
        return f"string `{spec['pattern']}`"
    return str(kind)


def _bounds(spec: dict[str, Any]) -> str:
    limits = [f"{word} {spec[key]}" for key, word in (("minimum", "≥"), ("maximum", "≤"))
              if key in spec]
    default = [f"default {spec['default']}"] if "default" in spec else []
    shown = limits + default
    return f" ({', '.join(shown)})" if shown else ""
