"""The check of a real response against the served OpenAPI document: the black-box HTTP tests use it
through the ``contract`` fixture (tests/http/conftest.py)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

API = "/api/v1"
DOC_URI = "urn:licence-openapi"
JSON_TYPES = ("application/json", "application/problem+json")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def resolve(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = doc
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def pointer(*parts: str) -> str:
    return "".join("/" + quote(p.replace("~", "~0").replace("/", "~1"), safe="") for p in parts)


class Contract:
    """The served document, and a check of one real response against the operation it answers."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.registry: Registry = Registry().with_resource(DOC_URI, Resource.from_contents(doc, default_specification=DRAFT202012))
        self.seen: set[tuple[str, str, str]] = set()

    def validator(self, *parts: str) -> Draft202012Validator:
        return Draft202012Validator(
            {"$ref": f"{DOC_URI}#{pointer(*parts)}"},
            registry=self.registry,
            format_checker=Draft202012Validator.FORMAT_CHECKER,
        )

    def check(self, resp: Any, method: str, path: str) -> Any:
        """Fail unless ``resp`` is what the document says ``method path`` may answer; returns the body."""
        op = self.doc["paths"][path][method.lower()]
        status = str(resp.status_code)
        text = resp.get_data(as_text=True)[:600] if resp.mimetype != "application/pdf" else "<pdf>"
        assert status in op["responses"], f"{method} {path} answered {status}, not documented: {text}"
        self.seen.add((method.upper(), path, status))
        spec = resolve(self.doc, op["responses"][status])
        for name, header in spec.get("headers", {}).items():
            value = resp.headers.get(name)
            if header.get("required"):
                assert value is not None, f"{method} {path} {status}: header {name} missing"
            if value is not None:
                errors = list(Draft202012Validator(header["schema"]).iter_errors(value))
                assert not errors, f"{method} {path} {status}: header {name}={value!r}: {errors[0].message}"
        content = spec.get("content", {})
        assert resp.mimetype in content, f"{method} {path} {status}: content type {resp.mimetype} not in {list(content)}"
        if resp.mimetype in JSON_TYPES:
            body = json.loads(resp.get_data())
            v = self.validator("paths", path, method.lower(), "responses", status, "content", resp.mimetype, "schema")
            if "$ref" in op["responses"][status]:  # a shared response: validate against its own schema
                name = op["responses"][status]["$ref"].rsplit("/", 1)[-1]
                v = self.validator("components", "responses", name, "content", resp.mimetype, "schema")
            problems = sorted(v.iter_errors(body), key=lambda e: list(e.absolute_path))
            assert not problems, f"{method} {path} {status}: {problems[0].json_path}: {problems[0].message}\n{text}"
            return body
        if resp.mimetype == "application/pdf":
            assert resp.get_data()[:5] == b"%PDF-"
            return resp.get_data()
        body = resp.get_data(as_text=True)
        errors = list(Draft202012Validator(content[resp.mimetype]["schema"]).iter_errors(body))
        assert not errors, f"{method} {path} {status}: {errors[0].message}"
        return body
