"""Share redemption API (/api/v1/shares): a service window redeems a holder's share code.

Every call carries a department bearer token with the ``redeem`` scope; views parse, call one
service, render.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from ..core.verify import VERDICT_LABELS, VERDICTS
from ..services import shares
from ..services.usage import MAX_PURPOSE
from .bodies import read_body
from .openapi import API, CREDIT_CODE_PATTERN, DATE_TIME, PDF_RESPONSE, errors, json_response, licence_props, nullable, obj, operation, ref
from .openapi import json_body as body_of
from .public import client, platform, principal, require_token

bp = Blueprint("shares_api", __name__, url_prefix="/api/v1")


@bp.before_request
def _authenticate() -> None:
    require_token("redeem")


@bp.post("/shares/redeem")
def redeem() -> Response:
    body = read_body()
    return jsonify(shares.redeem(platform(), principal(), body["code"], client=client()))


@bp.get("/shares/redemptions/<redemption_id>/pdf")
def redemption_pdf(redemption_id: str) -> Response:
    data = shares.redemption_copy(platform(), principal(), redemption_id, client=client())
    resp = Response(data, mimetype="application/pdf")
    resp.headers["Content-Disposition"] = f'attachment; filename="copy-{redemption_id}.pdf"'
    resp.headers["Cache-Control"] = "no-store"
    return resp


# ---- the OpenAPI description -----------------------------------------------------------------


def openapi_schemas() -> dict[str, Any]:
    return {
        "ShareRedeemRequest": obj(
            {
                "code": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": shares.MAX_CODE_TEXT,
                    "description": "授权码 the share code as the holder shows it (XXXXX-XXXXX; case, dashes and O/0, I/L/1 forgiven) "
                    "or the link its QR encodes",
                    "examples": ["K7Q2M-9XA3P"],
                }
            },
            title="凭授权码调取 Redeem a share code",
        ),
        "ShareGrant": obj(
            {
                "grant_id": {"type": "string", "pattern": r"^[0-9a-f]{16}$"},
                "licence": ref("Identifier"),
                "kind": ref("Kind"),
                "kind_label": {"type": "string"},
                "recipient": {"type": ["string", "null"], "pattern": CREDIT_CODE_PATTERN, "description": "the department the holder named; null: any service window"},
                "recipient_name": {"type": ["string", "null"]},
                "purpose": {"type": "string", "minLength": 1, "maxLength": MAX_PURPOSE, "description": "申请事由, as the holder wrote it"},
                "scope": {"type": "string", "enum": list(shares.SCOPES), "description": "; ".join(f"{k}: {v}" for k, v in shares.SCOPE_LABELS.items())},
                "scope_label": {"type": "string", "enum": list(shares.SCOPE_LABELS.values())},
                "created_at": DATE_TIME,
                "expires_at": DATE_TIME,
                "revoked_at": nullable(DATE_TIME),
                "bound_to": {"type": ["string", "null"], "description": "the window an any-window grant was first redeemed by; only it may use the grant again"},
                "state": {"type": "string", "enum": list(shares.STATE_LABELS)},
                "state_label": {"type": "string", "enum": list(shares.STATE_LABELS.values())},
            },
            title="授权 Share grant (no holder id)",
        ),
        "SharedLicence": obj(
            {
                "identifier": ref("Identifier"),
                **licence_props(),
                "version": {"type": "integer", "minimum": 1, "maximum": 999},
                "status": ref("LicenceStatus"),
                "valid": {"type": "boolean"},
                "verdict": {"type": "string", "enum": list(VERDICTS)},
                "verdict_label": {"type": "string", "enum": list(VERDICT_LABELS.values())},
                "holder_id": {"type": "string", "description": "masked ID number or credit code"},
                "superseded_by": {**nullable(ref("Identifier")), "description": "the newer version, when the shared one was superseded after the grant"},
            },
            title="证照核验结果 The licence as the register verifies it now (masked)",
        ),
        "ShareRedemption": obj(
            {
                "grant": ref("ShareGrant"),
                "redemption_id": {"type": "string", "pattern": r"^[0-9a-f]{24}$"},
                "licence": ref("SharedLicence"),
                "data": {"type": "object", "description": "the licence data as stored (the kind's schema); only when the scope is data or pdf"},
                "pdf_url": {
                    "type": "string",
                    "format": "uri-reference",
                    "description": "the annotated copy (加注件) to download; only when the scope is pdf and the licence is in force",
                },
                "receipt": {
                    **ref("SignedDocument"),
                    "description": "回执 signed by the platform root: body {type: ShareReceipt, licence, verdict, grant, redemption, "
                    "department {code, name}, purpose, scope, redeemed_at, grant_expires_at, copy_sha256}",
                },
            },
            ["grant", "redemption_id", "licence", "receipt"],
            title="授权调取结果 Redemption",
        ),
    }


def openapi_paths() -> dict[str, Any]:
    return {
        f"{API}/shares/redeem": {
            "post": operation(
                "redeemShare",
                "sharing",
                "凭授权码调取 Redeem a share code",
                "A service window (token with the `redeem` scope) presents the code a holder gave it and gets what the "
                "grant allows: the licence's current verification (verify), its data (data), an annotated copy (pdf), "
                "and a receipt signed by the platform. A grant for any window is bound to the first department that "
                "redeems it. Unknown codes are 404 and count towards a per-department limit (429); a grant for another "
                "department is 403 and reported to the holder; expired or revoked grants are 410. Every redemption "
                "appears in the holder's usage log with the department and purpose.",
                {"200": json_response("what the grant allows, with a signed receipt", ref("ShareRedemption")), **errors(401, 403, 404, 410, 413, 422, 429, 503)},
                requestBody=body_of("ShareRedeemRequest"),
            )
        },
        f"{API}/shares/redemptions/{{redemption_id}}/pdf": {
            "get": operation(
                "getShareCopy",
                "sharing",
                "下载加注件 Download the annotated copy",
                "The annotated copy (加注件) made at a redemption with the pdf scope: signed by the platform, annotated "
                "with the purpose, the receiving department and the grant's expiry. Only for the department that "
                "redeemed it, and only while the grant is active.",
                {"200": PDF_RESPONSE, **errors(401, 403, 404, 410, 429, 503)},
                parameters=[
                    {"name": "redemption_id", "in": "path", "required": True, "schema": {"type": "string", "pattern": r"^[0-9a-f]{24}$"}, "description": "`redemption_id` of the redemption"}
                ],
            )
        },
    }

