"""The readable page of the API's description (/api/docs): the OpenAPI document flattened for
a template, operations by tag and each schema's properties, with no external resources."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, render_template

from .api_document import document
from .public import platform

bp = Blueprint("api_docs", __name__)


def _resolve(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = doc
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def _type_text(schema: dict[str, Any]) -> str:
    """A short human form of a schema: `string (date)`, `IdCardData`, `array of Check`, `string | null`."""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "anyOf" in schema or "oneOf" in schema:
        return " | ".join(_type_text(s) for s in schema.get("anyOf", schema.get("oneOf", [])))
    if "const" in schema:
        return json.dumps(schema["const"], ensure_ascii=False)
    t = schema.get("type", "any")
    text = " | ".join(t) if isinstance(t, list) else t
    if schema.get("format"):
        text += f" ({schema['format']})"
    if t == "array" and "items" in schema:
        text = f"array of {_type_text(schema['items'])}"
    return text


def _constraints(schema: dict[str, Any]) -> str:
    parts = []
    if "enum" in schema:
        parts.append("one of " + ", ".join(str(v) for v in schema["enum"] if v is not None))
    for key, label in (("minLength", "min length"), ("maxLength", "max length"), ("minimum", "≥"), ("maximum", "≤"), ("minItems", "min items"), ("maxItems", "max items"), ("pattern", "pattern"), ("default", "default")):
        if key in schema:
            parts.append(f"{label} {schema[key]}")
    if isinstance(schema.get("items"), dict) and "enum" in schema["items"]:
        parts.append("items one of " + ", ".join(schema["items"]["enum"]))
    return "; ".join(parts)


def page_model(doc: dict[str, Any]) -> dict[str, Any]:
    """The document flattened for the template: operations by tag, and each schema's properties."""
    ops = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            params = [
                {
                    "name": p["name"],
                    "in": p["in"],
                    "required": p.get("required", False),
                    "type": _type_text(p["schema"]),
                    "constraints": _constraints(_resolve(doc, p["schema"])),
                    "description": p.get("description", ""),
                }
                for p in op.get("parameters", [])
            ]
            body = [
                {"media": media, "type": _type_text(c["schema"])}
                for media, c in op.get("requestBody", {}).get("content", {}).items()
            ]
            responses = []
            for status, resp in op["responses"].items():
                resp = _resolve(doc, resp)
                for media, c in (resp.get("content") or {"": {"schema": {}}}).items():
                    responses.append({"status": status, "description": resp["description"], "media": media, "type": _type_text(c["schema"]) if c["schema"] else ""})
            ops.append(
                {
                    "id": op["operationId"],
                    "method": method.upper(),
                    "path": path,
                    "tag": op["tags"][0],
                    "summary": op["summary"],
                    "description": op["description"],
                    "secured": op.get("security", doc["security"]) != [],
                    "params": params,
                    "body": body,
                    "responses": responses,
                }
            )
    models = []
    for name, schema in doc["components"]["schemas"].items():
        props = [
            {
                "name": prop,
                "required": prop in schema.get("required", []),
                "type": _type_text(sub),
                "title": sub.get("title", ""),
                "constraints": _constraints(sub if "type" in sub else {}),
                "description": sub.get("description", ""),
            }
            for prop, sub in schema.get("properties", {}).items()
        ]
        variants = [_type_text(s.get("properties", {}).get("data", s)) for s in schema.get("oneOf", [])]
        models.append(
            {
                "name": name,
                "title": schema.get("title", ""),
                "description": schema.get("description", ""),
                "type": "" if props or variants else _type_text(schema),
                "constraints": "" if props else _constraints(schema),
                "props": props,
                "variants": variants,
            }
        )
    return {"info": doc["info"], "server": doc["servers"][0]["url"], "tags": doc["tags"], "operations": ops, "models": models}


@bp.get("/api/docs")
def api_docs() -> str:
    return render_template("api_docs.html", api=page_model(document(platform().settings.base_url)))
