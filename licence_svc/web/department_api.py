"""Department API (/api/v1/licences): issue, read, change and revoke from departments' own systems.

Every call carries a department bearer token; views parse, call one service, render.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, jsonify, request

from ..core.kinds import KINDS, get_kind
from ..core.masking import mask_number
from ..core.revocation import CATEGORIES, GENERIC
from ..errors import InvalidInput, PayloadTooLarge
from ..services import batches, claim_codes, lifecycle, records
from ..services.issuing import issue
from ..services.lifecycle import MAX_REASON
from ..services.records import MAX_PAGE, Issued
from .bodies import read_body
from .openapi import API, CREDIT_CODE_PATTERN, DATE_TIME, PDF_RESPONSE, errors, json_body, json_response, nullable, obj, operation, ref, schema_name
from .public import client, platform, principal, reject_unknown_args, require_token

bp = Blueprint("department_api", __name__, url_prefix="/api/v1")

MAX_BATCH_BYTES = 64 * 1024 * 1024
LIST_PARAMS = {"kind", "status", "holder", "issued_after", "cursor", "limit"}


@bp.before_request
def _authenticate() -> None:
    require_token("issue")


def _claim_codes(pairs: tuple[tuple[str, str], ...] | list[tuple[str, str]]) -> list[dict[str, str]]:
    """One-time codes for the holders' first sign-in, holders masked: printed on the notice handed to each."""
    return [{"holder": mask_number(h), "code": c} for h, c in pairs]


def issued_response(issued: Issued) -> Response:
    body = {**records.issued_summary(issued, platform().settings.base_url), "claim_codes": _claim_codes(issued.claim_codes)}
    resp = jsonify(body)
    resp.status_code = 201
    resp.headers["Location"] = f"/api/v1/licences/{issued.identifier}"
    if issued.replayed:
        resp.headers["Idempotent-Replayed"] = "true"
    return resp


@bp.post("/licences")
def create_licence() -> Response:
    body = read_body(checked_by_service=("data",))
    kind = get_kind(body["kind"]).name
    principal().require_kind(kind, client=client())
    key = request.headers.get("Idempotency-Key")
    if key is not None and not (1 <= len(key) <= 100 and key.isprintable()):
        raise InvalidInput.single("Idempotency-Key", "1-100 printable characters")
    issued = issue(
        platform(),
        kind=kind,
        data=body["data"],
        department=principal().department,
        actor=principal().actor,
        client=client(),
        idempotency_key=key,
    )
    return issued_response(issued)


@bp.get("/licences")
def list_licences() -> Response:
    reject_unknown_args(LIST_PARAMS)
    try:
        limit = int(request.args.get("limit", "50"))
    except ValueError:
        raise InvalidInput.single("limit", "must be an integer") from None
    return _listing({k: request.args[k] for k in LIST_PARAMS - {"limit"} if k in request.args}, limit)


@bp.post("/licences/search")
def search_licences() -> Response:
    """The listing with its filters in a JSON body: a holder's ID number in a query string ends up
    in every proxy's and browser's log; in a body it does not."""
    body = read_body()
    return _listing({k: v for k, v in body.items() if k != "limit"}, body.get("limit", 50))


def _listing(filters: dict[str, str], limit: int) -> Response:
    resp = jsonify(records.listing(platform(), principal(), limit=limit, **{k: filters.get(k) for k in sorted(LIST_PARAMS - {"limit"})}))
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/licences/<identifier>")
def get_licence(identifier: str) -> Response:
    return jsonify(records.record(platform(), principal(), identifier, client=client()))


@bp.get("/licences/<identifier>/pdf")
def get_pdf(identifier: str) -> Response:
    data = records.pdf(platform(), principal(), identifier, client=client())
    resp = Response(data, mimetype="application/pdf")
    resp.headers["Content-Disposition"] = f'attachment; filename="{identifier}.pdf"'
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.post("/licences/<identifier>/claim-codes")
def new_claim_codes(identifier: str) -> Response:
    """Fresh one-time claim codes for the holders (a lost notice); their unused codes stop working."""
    codes = claim_codes.remint(identifier, principal=principal(), client=client())
    return jsonify({"identifier": identifier, "claim_codes": _claim_codes(codes)})


@bp.get("/licences/<identifier>/events")
def get_events(identifier: str) -> Response:
    return jsonify(records.history(principal(), identifier, client=client()))


@bp.post("/licences/<identifier>/versions")
def new_version(identifier: str) -> Response:
    body = read_body(checked_by_service=("data",))
    issued = lifecycle.new_version(platform(), identifier, data=body["data"], actor=principal().actor, principal=principal(), client=client())
    return issued_response(issued)


@bp.post("/batches")
def create_batch() -> Response:
    """A JSON Lines body (or a multipart `file`), one record per line, for the kind in ?kind=."""
    PayloadTooLarge.check(request.content_length, MAX_BATCH_BYTES, "batch")
    upload = request.files.get("file")
    body = upload.read() if upload else request.get_data(cache=False)
    batch_id = batches.start_batch(platform(), principal(), kind=request.args.get("kind", ""), body=body)
    resp = jsonify(batches.batch_report(principal(), batch_id))
    resp.status_code = 202
    resp.headers["Location"] = f"/api/v1/batches/{batch_id}"
    return resp


@bp.get("/batches/<batch_id>")
def get_batch(batch_id: str) -> Response:
    return jsonify(batches.batch_report(principal(), batch_id))


def _status_change(change: Callable[..., Any], identifier: str, *fields: str) -> Response:
    body = read_body()
    extra = {k: body[k] for k in fields if k in body}
    row = change(identifier, reason=body["reason"], actor=principal().actor, principal=principal(), client=client(), **extra)
    return jsonify(records.summary(row, platform().settings.base_url))


@bp.post("/licences/<identifier>/revoke")
def revoke(identifier: str) -> Response:
    return _status_change(lifecycle.revoke, identifier, "category")


@bp.post("/licences/<identifier>/suspend")
def suspend(identifier: str) -> Response:
    return _status_change(lifecycle.suspend, identifier)


@bp.post("/licences/<identifier>/reinstate")
def reinstate(identifier: str) -> Response:
    return _status_change(lifecycle.reinstate, identifier)


# ---- the OpenAPI description of these views --------------------------------------------------

IDENTIFIER_PARAM = {"name": "identifier", "in": "path", "required": True, "schema": ref("Identifier"), "description": "证照标识"}
CREATED_HEADERS = {
    "Location": {"description": "the new licence's record", "required": True, "schema": {"type": "string", "format": "uri-reference"}},
    "Idempotent-Replayed": {"description": "\"true\" when an earlier request with this Idempotency-Key minted the licence", "schema": {"type": "string", "const": "true"}},
}
DEPT_ERRORS = (401, 403, 404, 422, 429, 503)


def openapi_schemas() -> dict[str, Any]:
    kinds = list(KINDS)
    summary_props: dict[str, Any] = {
        "identifier": ref("Identifier"),
        "kind": ref("Kind"),
        "version": {"type": "integer", "minimum": 1, "maximum": 999},
        "status": ref("LicenceStatus"),
        "status_reason": {"type": ["string", "null"], "maxLength": MAX_REASON, "description": "the department's own words for the last status change; never shown to the public"},
        "status_category": {
            "type": ["string", "null"],
            "enum": [*CATEGORIES, None],
            "description": "a revoked licence's public category, as verification reports show it ("
            + "; ".join(f"{k}: {v}" for k, v in CATEGORIES.items())
            + f"); null otherwise, and for a licence revoked without one ({GENERIC})",
        },
        "issued_at": DATE_TIME,
        "expires_at": nullable(DATE_TIME),
        "superseded_by": nullable(ref("Identifier")),
        "pdf_url": {"type": "string", "format": "uri"},
        "qr_text": {"type": "string"},
    }
    record_props = {
        **summary_props,
        "issuer": {"type": "string", "pattern": CREDIT_CODE_PATTERN, "description": "the issuing department's credit code"},
        "data": {"type": "object", "description": "the kind's data, as validated and stored"},
        "pdf_sha256": {"type": "string", "pattern": r"^[0-9a-f]{64}$"},
    }
    return {
    "LicenceRequest": {
        "title": "签发请求 Issue request",
        "oneOf": [
            obj({"kind": {"type": "string", "const": k}, "data": ref(schema_name(k))}, title=k) for k in kinds
        ],
    },
    "NewVersionRequest": obj(
        {"data": {"oneOf": [ref(schema_name(k)) for k in kinds], "description": "new data of the licence's own kind"}},
        title="变更请求 New version",
    ),
    "StatusChangeRequest": obj({"reason": {"type": "string", "minLength": 1, "maxLength": MAX_REASON}}, title="状态变更 Status change"),
    "LicenceSearch": obj(
        {
            "kind": {**ref("Kind"), "description": "a kind outside the token's scope is a 403"},
            "status": ref("LicenceStatus"),
            "holder": {"type": "string", "description": "first holder's ID number or credit code"},
            "issued_after": {"type": "string", "description": "ISO 8601 date or date-time (UTC when no offset)"},
            "cursor": {"type": "string", "description": "`next_cursor` of the previous page"},
            "limit": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 50},
        },
        [],
        title="证照查询 List filters",
    ),
    "RevokeRequest": obj(
        {
            "reason": {"type": "string", "minLength": 1, "maxLength": MAX_REASON, "description": "the department's own record of why; never shown to the public"},
            "category": {
                "type": "string",
                "enum": list(CATEGORIES),
                "description": "what verification reports show instead of the reason: "
                + "; ".join(f"{k}: {v}" for k, v in CATEGORIES.items())
                + f" (without it: {GENERIC})",
            },
        },
        ["reason"],
        title="吊销/注销 Revoke",
    ),
    "IssuedLicence": obj(
        {
            **{k: summary_props[k] for k in ("identifier", "kind", "status", "version", "issued_at", "pdf_url", "qr_text")},
            "claim_codes": ref("ClaimCodes"),
        },
        title="已签发 Issued",
    ),
    "ClaimCodes": {
        "type": "array",
        "description": "每位持证人的一次性领证码 One-time claim code per holder, for the notice handed to them; shown once.",
        "items": obj(
            {
                "holder": {"type": "string", "description": "masked id number or credit code"},
                "code": {"type": "string", "pattern": "^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$"},
            }
        ),
    },
    "ClaimCodesIssued": obj({"identifier": ref("Identifier"), "claim_codes": ref("ClaimCodes")}, title="领证码 Claim codes"),
    "LicenceSummary": obj(summary_props, title="证照摘要 Summary"),
    "LicenceRecord": obj(
        record_props,
        title="证照记录 Record (personal data: issuing department only)",
        allOf=[
            {
                "if": {"properties": {"kind": {"const": k}}},
                "then": {"properties": {"data": ref(schema_name(k))}},
            }
            for k in kinds
        ],
    ),
    "LicenceList": obj(
        {"items": {"type": "array", "items": ref("LicenceSummary"), "maxItems": MAX_PAGE}, "next_cursor": {"type": ["string", "null"]}},
        title="证照列表 List, newest first",
    ),
    "AuditEvent": obj(
        {
            "seq": {
                "type": ["integer", "null"],
                "minimum": 1,
                "description": "the event's place in the audit chain; null while it is recorded and not yet sealed into the chain (seconds)",
            },
            "at": DATE_TIME,
            "actor": {"type": "string"},
            "action": {"type": "string"},
            "outcome": {"type": "string"},
            "client": {"type": ["string", "null"]},
            "detail": {"type": ["string", "null"]},
        }
    ),
    "StatusChange": obj(
        {
            "at": DATE_TIME,
            "from": ref("LicenceStatus"),
            "to": ref("LicenceStatus"),
            "actor": {"type": "string"},
            "reason": {"type": "string"},
        }
    ),
    "History": obj(
        {
            "identifier": ref("Identifier"),
            "events": {"type": "array", "items": ref("AuditEvent")},
            "status_changes": {"type": "array", "items": ref("StatusChange")},
        },
        title="历史 History",
    ),
    "BatchReport": obj(
        {
            "batch_id": {"type": "string"},
            "kind": ref("Kind"),
            "status": {"type": "string", "enum": ["queued", "running", "done", "failed"]},
            "total": {"type": "integer", "minimum": 0},
            "issued": {"type": "integer", "minimum": 0},
            "skipped": {"type": "integer", "minimum": 0},
            "rejected": {"type": "integer", "minimum": 0},
            "done": {"type": "integer", "minimum": 0},
            "message": {"type": ["string", "null"], "description": "why a failed batch failed"},
            "errors": {
                "type": "array",
                "maxItems": 1000,
                "items": obj({"row": {"type": "integer"}, "field": {"type": "string"}, "reason": {"type": "string"}}),
                "description": "rejected rows (the first 1000)",
            },
            "created_at": DATE_TIME,
            "updated_at": DATE_TIME,
        },
        title="批量导入 Batch import progress",
    ),
    }


def openapi_paths() -> dict[str, Any]:
    status_change = {
        action: {
            "post": operation(
                f"{action}Licence",
                "licences",
                title,
                description,
                {"200": json_response("the licence's new summary", ref("LicenceSummary")), **errors(*DEPT_ERRORS, 409, 413)},
                parameters=[IDENTIFIER_PARAM],
                requestBody=json_body("RevokeRequest" if action == "revoke" else "StatusChangeRequest"),
            )
        }
        for action, title, description in (
            (
                "revoke",
                "吊销/注销 Revoke",
                "Final: a valid or suspended licence becomes revoked; verification says so at once, with the "
                "category (never the reason).",
            ),
            ("suspend", "暂停 Suspend", "A valid licence becomes suspended."),
            ("reinstate", "恢复 Reinstate", "A suspended licence becomes valid again."),
        )
    }
    return {
        f"{API}/licences": {
            "post": operation(
                "createLicence",
                "licences",
                "签发证照 Issue a licence",
                "Validates the data (every problem at once), signs the QR payload, renders and certifies the PDF. "
                "Repeat with the same Idempotency-Key to get the same licence back instead of a second one.",
                {
                    "201": json_response("issued", ref("IssuedLicence"), CREATED_HEADERS),
                    **errors(401, 403, 409, 413, 422, 429, 503),
                },
                parameters=[
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string", "minLength": 1, "maxLength": 100},
                        "description": "1-100 printable characters; reusing one with another body is a 409",
                    }
                ],
                requestBody=json_body("LicenceRequest"),
            ),
            "get": operation(
                "listLicences",
                "licences",
                "证照列表 List own licences",
                "The department's own licences of the token's kinds, newest first; follow `next_cursor`.",
                {"200": json_response("one page", ref("LicenceList")), **errors(401, 403, 422, 429, 503)},
                parameters=[
                    {"name": "kind", "in": "query", "schema": ref("Kind"), "description": "a kind outside the token's scope is a 403"},
                    {"name": "status", "in": "query", "schema": ref("LicenceStatus")},
                    {"name": "holder", "in": "query", "schema": {"type": "string"}, "description": "first holder's ID number or credit code"},
                    {"name": "issued_after", "in": "query", "schema": {"type": "string"}, "description": "ISO 8601 date or date-time (UTC when no offset)"},
                    {"name": "cursor", "in": "query", "schema": {"type": "string"}, "description": "`next_cursor` of the previous page"},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 50}},
                ],
            ),
        },
        f"{API}/licences/search": {
            "post": operation(
                "searchLicences",
                "licences",
                "证照列表（请求体）List own licences, filters in the body",
                "The same list as `GET /licences`, with the filters in a JSON body rather than the URL, so a "
                "holder's ID number does not land in a proxy's or browser's log. Prefer it for `holder`.",
                {"200": json_response("one page", ref("LicenceList")), **errors(401, 403, 413, 422, 429, 503)},
                requestBody=json_body("LicenceSearch"),
            )
        },
        f"{API}/licences/{{identifier}}": {
            "get": operation(
                "getLicence",
                "licences",
                "证照记录 Read a licence",
                "The full record, personal data included: only for the issuing department (audited).",
                {"200": json_response("the record", ref("LicenceRecord")), **errors(*DEPT_ERRORS)},
                parameters=[IDENTIFIER_PARAM],
            )
        },
        f"{API}/licences/{{identifier}}/pdf": {
            "get": operation(
                "getLicencePdf",
                "licences",
                "下载PDF Download the PDF",
                "The certified PDF exactly as issued (PAdES, embedded licence data).",
                {"200": PDF_RESPONSE, **errors(*DEPT_ERRORS)},
                parameters=[IDENTIFIER_PARAM],
            )
        },
        f"{API}/licences/{{identifier}}/claim-codes": {
            "post": operation(
                "createClaimCodes",
                "licences",
                "补发领证码 New claim codes",
                "New one-time claim codes for every holder of the licence (a lost notice); their unused codes stop working.",
                {"200": json_response("the new codes", ref("ClaimCodesIssued")), **errors(*DEPT_ERRORS)},
                parameters=[IDENTIFIER_PARAM],
            )
        },
        f"{API}/licences/{{identifier}}/events": {
            "get": operation(
                "getLicenceEvents",
                "licences",
                "历史 History",
                "The licence's audit events and its status changes with their reasons.",
                {"200": json_response("the history", ref("History")), **errors(*DEPT_ERRORS)},
                parameters=[IDENTIFIER_PARAM],
            )
        },
        f"{API}/licences/{{identifier}}/versions": {
            "post": operation(
                "createLicenceVersion",
                "licences",
                "变更 Issue a new version",
                "Issues the next version with new data; the old one becomes superseded and its QR says so.",
                {"201": json_response("issued", ref("IssuedLicence"), CREATED_HEADERS), **errors(*DEPT_ERRORS, 409, 413)},
                parameters=[IDENTIFIER_PARAM],
                requestBody=json_body("NewVersionRequest"),
            )
        },
        **{f"{API}/licences/{{identifier}}/{action}": item for action, item in status_change.items()},
        f"{API}/batches": {
            "post": operation(
                "createBatch",
                "licences",
                "批量导入 Start a batch import",
                "JSON Lines, one record (the kind's data) per line, imported in the background with the same code as "
                "`cli.py import`; poll the batch for progress and the rejected rows.",
                {
                    "202": json_response("accepted", ref("BatchReport"), {"Location": CREATED_HEADERS["Location"]}),
                    **errors(401, 403, 413, 422, 429, 503),
                },
                parameters=[{"name": "kind", "in": "query", "required": True, "schema": ref("Kind")}],
                requestBody={
                    "required": True,
                    "description": f"at most {MAX_BATCH_BYTES // (1024 * 1024)} MiB of UTF-8",
                    "content": {
                        "application/x-ndjson": {"schema": {"type": "string"}},
                        "multipart/form-data": {"schema": obj({"file": {"type": "string", "format": "binary"}})},
                    },
                },
            )
        },
        f"{API}/batches/{{batch_id}}": {
            "get": operation(
                "getBatch",
                "licences",
                "导入进度 Batch progress",
                "Progress and the rejected rows of one of the department's batches.",
                {"200": json_response("the batch", ref("BatchReport")), **errors(401, 403, 404, 429, 503)},
                parameters=[{"name": "batch_id", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9a-f]{16}$"}}],
            )
        },
    }
