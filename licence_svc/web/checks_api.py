"""Field-match checks (核验), POST /api/v1/checks: a department's bearer token with the check scope."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from ..core.fieldcheck import LONG_TERM, claim_fields
from ..core.kinds import KINDS
from ..services import checks
from .bodies import read_body
from .openapi import API, DATE_TIME, errors, json_response, obj, operation, ref
from .openapi import json_body as body_of
from .public import client, platform, require_token

bp = Blueprint("checks_api", __name__, url_prefix="/api/v1")

EXAMPLES = {
    "id_card": {"kind": "id_card", "holder": "110101199003071233", "claims": {"name": "张晓明", "birth_date": "1990-03-07"}, "purpose": "办理社会保障卡，核验申请人身份"},
    "driving_licence": {"kind": "driving_licence", "holder": "440305198501194170", "claims": {"vehicle_class": "C2"}, "purpose": "网约车驾驶员资格审核", "on": "2025-06-01"},
}


@bp.post("/checks")
def create_check() -> Response:
    principal = require_token("check")  # before the body: a token that may not check learns nothing more
    body = read_body(checked_by_service=("holder",))  # the service folds full-width and spaced numbers
    answer = checks.check(
        platform(),
        principal,
        kind=body["kind"],
        holder=body["holder"],
        claims=body["claims"],
        purpose=body["purpose"],
        grant=body.get("grant"),
        on=body.get("on"),
        client=client(),
    )
    resp = jsonify(answer)
    resp.headers["Cache-Control"] = "no-store"
    return resp


def openapi_paths() -> dict[str, Any]:
    request_body = body_of("CheckRequest")
    request_body["content"]["application/json"]["examples"] = {k: {"value": v} for k, v in EXAMPLES.items()}
    return {
        f"{API}/checks": {
            "post": operation(
                "createCheck",
                "checks",
                "信息核验 Field-match check",
                "Confirms claimed facts about a holder's licence without returning the record: one true/false "
                "flag per claimed field, whether the holder has a licence of the kind in force (not superseded) "
                "and whether it is valid on `on`, signed by the platform root (`signature` holds the answer "
                "without `signature`; verify it with the root certificate) so it can be filed as evidence. "
                "Needs a token with the `check` scope, a purpose, and either the holder's share code as `grant` "
                "or a check scope for the kind configured for the department (`cli.py check-scope grant`); "
                "checks without a grant are shown to the holder as not authorised by them. A refused check "
                "answers the same whether or not the holder has a licence. Every check is audited and appears "
                "in the holder's usage log; at most `LICENCE_CHECK_RATE_PER_MINUTE` per department and minute.",
                {"200": json_response("the signed answer", ref("CheckResult")), **errors(401, 403, 404, 410, 413, 422, 429, 503)},
                requestBody=request_body,
            )
        }
    }


def openapi_schemas() -> dict[str, Any]:
    fields = sorted({f for k in KINDS for f in claim_fields(k)})
    by_kind = "; ".join(f"{k}: {', '.join(claim_fields(k))}" for k in KINDS)
    claim = {
        "anyOf": [
            {"type": "string", "maxLength": 1000},
            {"type": "array", "items": {"type": "string", "maxLength": 10}, "minItems": 1, "maxItems": 17},
            {"type": "null"},
        ]
    }
    return {
        "CheckRequest": obj(
            {
                "kind": ref("Kind"),
                "holder": {"type": "string", "pattern": r"^[0-9A-Za-z]{18}$", "description": "the holder's id number (people) or unified social credit code (companies)"},
                "claims": {
                    "type": "object",
                    "maxProperties": len(fields),
                    "propertyNames": {"enum": fields},
                    "additionalProperties": claim,
                    "description": f"claimed value per field; the fields each kind accepts: {by_kind}. Household register: the "
                    "household's fields and those of the member who is `holder`. Values are compared after trimming, "
                    "full-width → half-width, upper case for codes, dates in any of 2024-03-07, 2024/3/7, 2024年3月7日, "
                    f"20240307; null or \"{LONG_TERM}\" for an open end date. vehicle_class: a class such as \"C2\" (or "
                    "several), true when the licence permits driving it on `on` (C1 permits C2, C3, C4). A field the kind "
                    "does not have, or a value that cannot be one of that field, is a 422 naming claims.<field>.",
                },
                "purpose": {"type": "string", "minLength": 1, "maxLength": 200, "description": "申请事由: why the department checks; shown to the holder"},
                "grant": {"type": "string", "minLength": 1, "maxLength": 2000, "description": "the holder's share code (or the text of its QR) authorising checks of this licence"},
                "on": {"type": "string", "format": "date", "description": "the date `valid` and vehicle_class are asked for (default: today, Beijing time)"},
            },
            ["kind", "holder", "claims", "purpose"],
            title="核验请求 Check request",
            examples=list(EXAMPLES.values()),
        ),
        "CheckResult": obj(
            {
                "type": {"type": "string", "const": "FieldCheckResult"},
                "check_id": {"type": "string", "pattern": "^[0-9a-f]{32}$", "description": "also in the platform's audit trail"},
                "kind": ref("Kind"),
                "holder": {"type": "string", "description": "masked id number or credit code"},
                "on": {"type": "string", "format": "date"},
                "licence_exists": {"type": "boolean", "description": "the holder has a licence of this kind in force (not superseded)"},
                "valid": {"type": "boolean", "description": "that licence's status is valid and `on` is within its validity period"},
                "fields": {
                    "type": "object",
                    "propertyNames": {"enum": fields},
                    "additionalProperties": {"type": "boolean"},
                    "description": "one flag per claimed field; all false when there is no licence",
                },
                "purpose": {"type": "string"},
                "department": {"type": "string", "description": "the checking department's credit code"},
                "checked_at": DATE_TIME,
                "authorised_by": {"type": "string", "enum": ["grant", "department_scope"]},
                "grant": {"type": ["string", "null"], "description": "the share grant's id when a grant authorised the check"},
                "signature": ref("SignedDocument"),
            },
            title="核验结果 Check result (signed; never the stored values)",
        ),
    }
