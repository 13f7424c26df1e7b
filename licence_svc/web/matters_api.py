"""Service matters (/api/v1/matters): the catalogue, and which of a matter's materials an applicant's
shared e-licences satisfy, so the window asks for paper only for the rest.

The catalogue is public (it is the published list of 政务服务事项); the materials check needs a
service window's token (scope redeem) and the applicant's share codes.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from ..core.kinds import KINDS
from ..core.matters import CODE_PATTERN, HOLDER_ROLES, MATERIAL_ID_PATTERN, MAX_NAME
from ..errors import InvalidInput
from ..services import matters
from ..services.shares import MAX_CODE_TEXT
from ..services.tokens import Principal
from .bodies import read_body
from .openapi import API, errors, json_response, nullable, obj, operation, problem, ref
from .openapi import json_body as body_of
from .public import client, reject_unknown_args, require_token

bp = Blueprint("matters_api", __name__, url_prefix="/api/v1")

MATERIALS_PARAMS = {"holder", "grant"}


@bp.get("/matters")
def list_matters() -> Response:
    return jsonify({"matters": [m.as_dict() for m in matters.catalogue()]})


@bp.get("/matters/<code>/materials")
def matter_materials(code: str) -> Response:
    principal = require_token(None)  # the service checks the redeem scope
    reject_unknown_args(MATERIALS_PARAMS)
    holders = request.args.getlist("holder")
    if len(holders) > 1:
        raise InvalidInput.single("holder", "give one applicant")
    return _materials(principal, code, holders[0] if holders else None, request.args.getlist("grant"))


@bp.post("/matters/<code>/materials")
def matter_materials_by_body(code: str) -> Response:
    """The same check with the applicant and the share codes in a JSON body, out of the URL: an ID
    number and share codes (bearer secrets) in a query string end up in proxies' and browsers' logs."""
    principal = require_token("redeem")  # before the body: a token that may not redeem learns nothing more
    body = read_body(checked_by_service=("holder",))  # the service trims and upper-cases the number
    return _materials(principal, code, body["holder"], body.get("grants", []))


def _materials(principal: Principal, code: str, holder: str | None, grants: list[str]) -> Response:
    report = matters.materials(principal, code, holder=holder, grants=grants, client=client())
    resp = jsonify(report)
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _materials_responses(*statuses: int) -> dict[str, Any]:
    """What the materials check answers, by GET or by POST."""
    return {
        "200": json_response("per material: satisfied or not, and why", ref("MatterMaterials")),
        "403": problem("无权限: the token lacks the redeem scope, or a grant is for another department or another holder"),
        "404": problem("不存在: no such service matter, or no grant with a share code"),
        **errors(*statuses),
    }


def openapi_paths() -> dict[str, Any]:
    return {
        f"{API}/matters": {
            "get": operation(
                "listMatters",
                "matters",
                "办事事项 Service matters",
                "The catalogue of service matters (政务服务事项) and the materials each requires, with the licence "
                "kind that satisfies each (null: paper only). Loaded by the operator with `cli.py matters load`.",
                {"200": json_response("the catalogue, by code", ref("MatterList")), **errors(503)},
                security=[],
            )
        },
        f"{API}/matters/{{code}}/materials": {
            "get": operation(
                "getMatterMaterials",
                "matters",
                "免交材料 Materials satisfied by e-licences",
                "For a service window (token scope `redeem`): which of the matter's materials the applicant's "
                "shared e-licences satisfy, so those need no paper. Pass one `grant` per licence the applicant "
                "shared with this window; a material is satisfied when a grant covers a licence of its kind, "
                "belonging to the applicant (or, for a legal representative's material, to the company's legal "
                "representative), that is valid now. The answer depends only on the grants given: it never says "
                "whether the applicant has a licence they did not share. Each licence looked at is logged for its holders.",
                _materials_responses(401, 410, 422, 429, 503),
                parameters=[
                    {"name": "code", "in": "path", "required": True, "schema": {"type": "string", "pattern": CODE_PATTERN}, "description": "事项编码"},
                    {
                        "name": "holder",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string", "minLength": 18, "maxLength": 18},
                        "description": "the applicant's ID number (公民身份号码) or unified social credit code",
                    },
                    {
                        "name": "grant",
                        "in": "query",
                        "required": False,
                        "style": "form",
                        "explode": True,
                        "schema": {"type": "array", "maxItems": matters.MAX_GRANTS, "items": {"type": "string", "minLength": 1, "maxLength": MAX_CODE_TEXT}},
                        "description": "share codes (XXXXX-XXXXX, or the link the holder's QR encodes), one per shared licence; repeat the parameter",
                    },
                ],
            ),
            "post": operation(
                "checkMatterMaterials",
                "matters",
                "免交材料（请求体）Materials satisfied by e-licences, applicant in the body",
                "The same check as the GET, with the applicant and the share codes in a JSON body rather than "
                "the URL, so neither an ID number nor a share code (a bearer secret) lands in a proxy's or "
                "browser's log. Prefer it.",
                _materials_responses(401, 410, 413, 422, 429, 503),
                parameters=[
                    {"name": "code", "in": "path", "required": True, "schema": {"type": "string", "pattern": CODE_PATTERN}, "description": "事项编码"},
                ],
                requestBody=body_of("MaterialsRequest"),
            ),
        },
    }


def openapi_schemas() -> dict[str, Any]:
    name = {"type": "string", "minLength": 1, "maxLength": MAX_NAME}
    kind = {**nullable(ref("Kind")), "description": "the licence kind that satisfies the material; null: paper only"}
    kind_label = {"type": ["string", "null"], "enum": [k.label for k in KINDS.values()] + [None]}
    material_id = {"type": "string", "pattern": MATERIAL_ID_PATTERN}
    code = {"type": "string", "pattern": CODE_PATTERN}
    return {
        "MaterialsRequest": obj(
            {
                "holder": {"type": "string", "minLength": 18, "maxLength": 18, "description": "the applicant's ID number (公民身份号码) or unified social credit code"},
                "grants": {
                    "type": "array",
                    "maxItems": matters.MAX_GRANTS,
                    "items": {"type": "string", "minLength": 1, "maxLength": MAX_CODE_TEXT},
                    "description": "share codes (XXXXX-XXXXX, or the link the holder's QR encodes), one per shared licence",
                },
            },
            ["holder"],
            title="免交材料核验请求 Materials check",
        ),
        "MatterMaterial": obj(
            {
                "id": material_id,
                "name": name,
                "kind": kind,
                "kind_label": kind_label,
                "holder_role": {"type": "string", "enum": list(HOLDER_ROLES), "description": "; ".join(f"{k}: {v}" for k, v in HOLDER_ROLES.items())},
                "required": {"type": "boolean"},
            },
            title="所需材料 Material",
        ),
        "Matter": obj(
            {"code": code, "name": name, "department": {**name, "type": ["string", "null"], "description": "受理部门"}, "materials": {"type": "array", "items": ref("MatterMaterial")}},
            title="办事事项 Service matter",
        ),
        "MatterList": obj({"matters": {"type": "array", "items": ref("Matter")}}, title="事项目录 Catalogue"),
        "MaterialAnswer": obj(
            {
                "id": material_id,
                "name": name,
                "kind": kind,
                "kind_label": kind_label,
                "required": {"type": "boolean"},
                "satisfied": {"type": "boolean", "description": "true: a valid e-licence shared by the holder stands in for the paper"},
                "licence": {**nullable(ref("Identifier")), "description": "the licence that satisfies it; null when not satisfied"},
                "reason": {"type": "string", "description": "为什么（中文）, for the window's screen"},
            },
            title="材料核验结果 Material answer",
        ),
        "MatterMaterials": obj(
            {
                "matter": obj({"code": code, "name": name}),
                "holder": {"type": "string", "description": "the applicant, masked (1101**********1233)"},
                "materials": {"type": "array", "items": ref("MaterialAnswer")},
                "paper_needed": {"type": "array", "items": {"type": "string"}, "description": "names of the required materials still to be handed in on paper"},
                "all_electronic": {"type": "boolean", "description": "true: no required material needs paper"},
            },
            title="免交材料 Materials satisfied by e-licences",
        ),
    }
