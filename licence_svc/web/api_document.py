"""The API's own description: the OpenAPI 3.1 document of /api/v1, assembled from what each
blueprint declares next to its views (``openapi_paths()``, ``openapi_schemas()``), and served.

``tests/http/test_openapi.py`` checks real responses against it and that every route is in it;
``web/bodies.py`` validates request bodies against the schemas it holds.
"""

from __future__ import annotations

import functools
from types import ModuleType
from typing import Any

from flask import Blueprint, Response, jsonify

from .. import __version__
from . import checks_api, department_api, matters_api, public, shares_api, verify_api
from .openapi import API, RESPONSES, document_schemas, json_response, licence_schemas, operation
from .public import platform

bp = Blueprint("openapi", __name__)


@bp.get(f"{API}/openapi.json")
def openapi_json() -> Response:
    resp = jsonify(document(platform().settings.base_url))
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp


def openapi_paths() -> dict[str, Any]:
    return {
        f"{API}/openapi.json": {
            "get": operation(
                "getOpenApi",
                "meta",
                "接口描述 This document",
                "OpenAPI 3.1 description of this API.",
                {"200": json_response("OpenAPI document", {"type": "object"})},
                security=[],
            )
        },
    }


# Blueprints that describe API operations, in the order the document lists them.
DESCRIBED: tuple[ModuleType, ...] = (department_api, verify_api, public)
FEATURES: tuple[ModuleType, ...] = (shares_api, checks_api, matters_api)


def paths() -> dict[str, Any]:
    """Every operation, as the blueprints declare them."""
    out: dict[str, Any] = {}
    for module in DESCRIBED:
        out.update(module.openapi_paths())
    out.update(openapi_paths())
    for module in FEATURES:
        out.update(module.openapi_paths())
    return out


def schemas() -> dict[str, Any]:
    """Every component schema: the shared ones, and those the blueprints declare."""
    out = licence_schemas()
    for module in (department_api, verify_api):
        out.update(module.openapi_schemas())
    out.update(document_schemas())
    for module in FEATURES:
        out.update(module.openapi_schemas())
    return out


@functools.lru_cache(maxsize=8)
def document(server_url: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of /api/v1, served from ``server_url``; built once per URL, so
    callers must not change it."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "电子证照平台 API (Electronic licence platform)",
            "version": __version__,
            "description": "发证部门签发、查询、变更、吊销电子证照；窗口与第三方核验证照。\n\n"
            "Departments issue, read, change and revoke licences with a bearer token scoped to their "
            "department and kinds. Verification, the trust list, the status list and the root "
            "certificate are public. Errors are RFC 9457 problem+json.",
        },
        "servers": [{"url": server_url.rstrip("/")}],
        "tags": [
            {"name": "licences", "description": "发证部门 Department API (bearer token)"},
            {"name": "verification", "description": "核验 Verification (public)"},
            {"name": "sharing", "description": "授权调取 Share codes redeemed by service windows (redeem scope)"},
            {"name": "checks", "description": "信息核验 Field-match checks (check scope)"},
            {"name": "matters", "description": "办事事项 Service matters and the materials e-licences satisfy"},
            {"name": "trust", "description": "信任与状态 Trust anchors and status (public)"},
            {"name": "meta", "description": "接口描述 This description"},
        ],
        "security": [{"bearerAuth": []}],
        "paths": paths(),
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "lic_<id>_<secret>",
                    "description": "Department API token (cli.py token create): scoped to one department and some of its kinds.",
                }
            },
            "schemas": schemas(),
            "responses": RESPONSES,
        },
    }
