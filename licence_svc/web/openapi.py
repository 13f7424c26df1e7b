"""The API's own description: an OpenAPI 3.1 document of /api/v1, and a readable page of it.

The document is Python data built from the same constants the views and services use (kinds and
their fields, status codes, verdicts, size limits), so it cannot say one thing while the code does
another; ``tests/http/test_openapi.py`` checks real responses against it and that every route is in it.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from flask import Blueprint, Response, jsonify, render_template

from .. import __version__
from ..core import verify as pipeline
from ..core.checkdigits import CREDIT_ALPHABET
from ..core.kinds import ETHNICITIES, KINDS, MAX_PHOTO_BYTES, VEHICLE_CLASSES, FieldSpec, KindSpec
from ..core.revocation import CATEGORIES, GENERIC
from ..core.statuslist import CODES
from ..services.lifecycle import MAX_REASON
from ..services.records import MAX_PAGE
from .bodies import MAX_JSON_BYTES
from .department_api import MAX_BATCH_BYTES
from .public import platform
from .verify_api import MAX_PDF_BYTES, MAX_QR_TEXT

bp = Blueprint("openapi", __name__)

API = "/api/v1"
JSON = "application/json"
PROBLEM = "application/problem+json"

IDENTIFIER_PATTERN = (
    r"^1\.2\.156\.3005\.2\.[0-9A-Z]{21}\.[0-9A-Z]{18}\.[0-9A-Z]{8,32}\.[0-9]{3}\.[0-9A-Z]$"
)
ID_NUMBER_PATTERN = r"^[1-9][0-9]{16}[0-9X]$"
CREDIT_CODE_PATTERN = rf"^[{CREDIT_ALPHABET}]{{18}}$"
BASE64_PATTERN = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
CHECK_NAMES = tuple(pipeline.CHECK_LABELS)  # every check a report may hold, in pipeline order


DATE_TIME = {"type": "string", "format": "date-time"}
PDF_RESPONSE = {
    "description": "the PDF",
    "headers": {"Content-Disposition": {"required": True, "schema": {"type": "string", "pattern": "^attachment"}}},
    "content": {"application/pdf": {"schema": {"type": "string", "contentMediaType": "application/pdf"}}},
}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` or null (3.1 style: a type list, or anyOf for a $ref)."""
    if "$ref" in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    return {**schema, "type": [schema["type"], "null"]}


def obj(properties: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    """A closed object: only the named properties; all required unless ``required`` says otherwise."""
    return {
        "type": "object",
        "additionalProperties": False,
        "required": list(properties) if required is None else required,
        "properties": properties,
        **extra,
    }


def schema_name(kind: str) -> str:
    return "".join(part.capitalize() for part in kind.split("_")) + "Data"


# ---- licence data: one schema per kind, from the field specs in core.kinds --------------------


def field_schema(spec: FieldSpec) -> dict[str, Any]:
    """The canonical (normalised) form of one field, as the register stores and returns it."""
    t = spec.type
    s: dict[str, Any]
    if t == "date":
        s = {"type": "string", "format": "date"}
    elif t == "enum":
        s = {"type": "string", "enum": list(spec.choices)}
    elif t == "ethnicity":
        s = {"type": "string", "enum": list(ETHNICITIES), "description": "GB/T 3304 name without 族 (输入 汉族 亦可, 存为 汉)"}
    elif t == "id_number":
        s = {"type": "string", "pattern": ID_NUMBER_PATTERN, "description": "GB 11643 公民身份号码; check digit, birth date and sex must agree"}
    elif t == "credit_code":
        s = {"type": "string", "pattern": CREDIT_CODE_PATTERN, "description": "GB 32100 统一社会信用代码 with a valid check character"}
    elif t == "digits12":
        s = {"type": "string", "pattern": r"^[0-9]{12}$"}
    elif t == "code":
        s = {"type": "string", "minLength": 1, "maxLength": spec.max_length, "pattern": r"^[0-9A-Za-z-]+$"}
    elif t == "photo":
        s = {
            "type": "string",
            "contentEncoding": "base64",
            "contentMediaType": "image/jpeg",
            "pattern": BASE64_PATTERN,
            "maxLength": (MAX_PHOTO_BYTES + 2) // 3 * 4,
            "description": f"JPEG or PNG, at most {MAX_PHOTO_BYTES // 1024} KiB, standard base64",
        }
    elif t == "vehicle_classes":
        s = {
            "type": "array",
            "items": {"type": "string", "enum": list(VEHICLE_CLASSES)},
            "minItems": 1,
            "uniqueItems": True,
            "description": "准驾车型, in GA/T order (a string such as \"C1E\" is also accepted and normalised to a list)",
        }
    elif t == "members":
        s = {"type": "array", "items": ref("HouseholdMember"), "minItems": 1, "maxItems": 30, "description": "exactly one member is 户主"}
    else:
        s = {"type": "string", "minLength": 1, "maxLength": spec.max_length, "description": "printable text the document fonts can render"}
    s = {"title": spec.label, **s}
    if spec.nullable or spec.optional:
        s = nullable(s)
        if spec.nullable:
            s["description"] = "null: 长期 (no end date)"
    return s


def kind_data_schema(kind: KindSpec) -> dict[str, Any]:
    required = [f.name for f in kind.fields if not f.optional]
    return obj(
        {f.name: field_schema(f) for f in kind.fields},
        required,
        title=f"{kind.label} {kind.name}",
        description="Dates must not go backwards; birth date and sex must agree with the ID number. "
        "Text is stored trimmed.",
    )


# ---- the document ----------------------------------------------------------------------------


def licence_props() -> dict[str, Any]:
    """The masked licence facts a verification report and a share redemption both show."""
    return {
        "kind": ref("Kind"),
        "kind_label": {"type": "string"},
        "issuer": obj({"code": {"type": "string"}, "name": {"type": ["string", "null"]}}),
        "holder": {"type": "string", "description": "masked name (张*明)"},
        "issued_at": DATE_TIME,
        "expires_at": nullable(DATE_TIME),
    }


def schemas() -> dict[str, Any]:
    kinds = list(KINDS)
    statuses = list(CODES)
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
    out: dict[str, Any] = {
        "Kind": {"type": "string", "enum": kinds, "description": "; ".join(f"{k.name}: {k.label}" for k in KINDS.values())},
        "LicenceStatus": {"type": "string", "enum": statuses},
        "Identifier": {"type": "string", "pattern": IDENTIFIER_PATTERN, "description": "证照标识 (GB/T 36904 shape)"},
        "HouseholdMember": obj({f.name: field_schema(f) for f in KINDS["household_register"].member_fields}, title="户内成员"),
    }
    out.update({schema_name(k.name): kind_data_schema(k) for k in KINDS.values()})
    out.update(
        {
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
            "VerifyQrRequest": obj({"qr": {"type": "string", "minLength": 1, "maxLength": MAX_QR_TEXT, "description": "the QR text as scanned: the verification link or its payload"}}),
            "VerifyUpload": obj(
                {"file": {"type": "string", "format": "binary", "description": f"a licence PDF (at most {MAX_PDF_BYTES // (1024 * 1024)} MiB) or a photo or scan of one (PNG, JPEG)"}}
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
                    "seq": {"type": "integer", "minimum": 1},
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
            "Check": obj(
                {
                    "name": {"type": "string", "enum": list(CHECK_NAMES)},
                    "label": {"type": "string", "description": "the check's name in Chinese, as the pages show it"},
                    "passed": {"type": ["boolean", "null"], "description": "null: not checked (offline, or an earlier stage failed)"},
                    "reason": {"type": "string", "description": "why, in English; stable wording for programs to match"},
                    "reason_zh": {"type": "string", "description": "the same reason in Chinese, as the pages show it"},
                }
            ),
            "VerifiedLicence": obj(
                {
                    "identifier": {"type": "string", "description": "as the signed payload claims it"},
                    **licence_props(),
                    "holder_id": {"type": "string", "description": "masked ID number or credit code; only when the register knows the licence"},
                    "superseded_by": {**nullable(ref("Identifier")), "description": "only when the register knows the licence"},
                },
                ["identifier", "kind", "kind_label", "issuer", "holder", "issued_at", "expires_at"],
                title="核验到的证照 (masked)",
            ),
            "AnnotatedCopy": obj(
                {
                    "purpose": {"type": "string", "description": "申请事由: the only use the copy is valid for"},
                    "recipient": obj({"code": {"type": "string"}, "name": {"type": "string"}}, title="the organisation the copy was handed to"),
                    "expires_at": DATE_TIME,
                    "expired": {"type": "boolean"},
                    "grant": {"type": "string", "description": "the holder's share grant"},
                    "redemption": {"type": "string", "description": "the redemption that handed the copy out"},
                    "notice": {"type": "string", "description": "the annotation printed on every page"},
                },
                title="加注件 Annotated copy",
            ),
            "VerifyReport": obj(
                {
                    "verdict": {"type": "string", "enum": list(pipeline.VERDICTS), "description": "; ".join(f"{k}: {v}" for k, v in pipeline.VERDICT_LABELS.items())},
                    "verdict_label": {"type": "string", "enum": list(pipeline.VERDICT_LABELS.values())},
                    "valid": {"type": "boolean"},
                    "evidence": {
                        "type": "string",
                        "enum": ["qr", "pdf", "image", "scan"],
                        "description": "qr: QR text; pdf: a signed licence PDF; image: a photo or scan (PNG, JPEG); scan: a PDF without a signature (a scan saved as PDF)",
                    },
                    "checks": {"type": "array", "items": ref("Check")},
                    "licence": nullable(ref("VerifiedLicence")),
                    "checked_at": DATE_TIME,
                    "freshness": obj(
                        {
                            "trust_as_of": nullable(DATE_TIME),
                            "status_source": {"type": ["string", "null"], "enum": ["register", "status_list", None]},
                            "status_as_of": nullable(DATE_TIME),
                        }
                    ),
                    "copy": {
                        **nullable(ref("AnnotatedCopy")),
                        "description": "an annotated copy (加注件) handed to a window through a holder's grant; null for the licence itself",
                    },
                    "warnings": {
                        "type": "array",
                        "items": ref("Notice"),
                        "description": "what the person checking must know that does not change the verdict; pages show these prominently",
                    },
                },
                title="核验报告 Verification report",
            ),
            "Notice": obj(
                {
                    "code": {"type": "string", "description": (
                        "stable, for programs: other_host (the QR links to another host than this platform), "
                        "compare_printed_text (a picture: the clerk compares the printed text with the signed fields shown), "
                        "printed_text_not_compared (a picture whose printed text could not be read by the platform), "
                        "other_codes_ignored (a picture also holds codes that are not licence links)"
                    )},
                    "message": {"type": "string", "description": "in English"},
                    "message_zh": {"type": "string", "description": "in Chinese, as the pages show it"},
                },
                title="提示 Notice",
            ),
            "SignedDocument": obj(
                {
                    "alg": {"type": "string", "const": "ES256"},
                    "kid": {"type": "string", "pattern": r"^[0-9a-f]{16}$"},
                    "payload": {"type": "string", "pattern": r"^[A-Za-z0-9_-]*$", "description": "base64url of canonical JSON"},
                    "signature": {"type": "string", "pattern": r"^[A-Za-z0-9_-]+$", "description": "base64url DER ECDSA-SHA256 over the payload bytes"},
                },
                title="签名文档 Signed document (verify with the root certificate)",
            ),
            "Problem": obj(
                {
                    "type": {"type": "string", "format": "uri"},
                    "title": {"type": "string"},
                    "status": {"type": "integer", "minimum": 400, "maximum": 599},
                    "detail": {"type": "string"},
                    "instance": {"type": "string"},
                    "errors": {
                        "type": "array",
                        "minItems": 1,
                        "items": obj({"field": {"type": "string"}, "reason": {"type": "string"}}),
                        "description": "invalid input only: every problem at once",
                    },
                    "request_id": {"type": "string", "description": "internal errors only"},
                },
                ["type", "title", "status", "detail", "instance"],
                title="RFC 9457 problem",
            ),
        }
    )
    return out


def problem(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description, "content": {PROBLEM: {"schema": ref("Problem")}}}
    if headers:
        out["headers"] = headers
    return out


RETRY_AFTER = {"Retry-After": {"description": "seconds", "required": True, "schema": {"type": "string", "pattern": "^[0-9]+$"}}}
RESPONSES = {
    "Unauthenticated": problem(
        "未认证: missing, unknown, expired or revoked token",
        {"WWW-Authenticate": {"required": True, "schema": {"type": "string", "pattern": "^Bearer "}}},
    ),
    "Forbidden": problem("无权限: another department's licence, or a kind outside the token's scope"),
    "NotFound": problem("不存在: no such licence"),
    "Conflict": problem("冲突: the licence's status does not allow this, or Idempotency-Key reused with another body"),
    "PayloadTooLarge": problem("请求过大: body over the limit"),
    "InvalidInput": problem("输入无效: `errors` lists every {field, reason}; unreadable evidence has no `errors`"),
    "RateLimited": problem("请求过多: too many failed authentications from this address", RETRY_AFTER),
    "Unavailable": problem("暂不可用: the register is down; retry later", RETRY_AFTER),
    "Gone": problem("已失效: the share grant has expired or the holder revoked it"),
}


def errors(*codes: int) -> dict[str, Any]:
    names = {
        401: "Unauthenticated",
        403: "Forbidden",
        404: "NotFound",
        409: "Conflict",
        410: "Gone",
        413: "PayloadTooLarge",
        422: "InvalidInput",
        429: "RateLimited",
        503: "Unavailable",
    }
    return {str(c): {"$ref": f"#/components/responses/{names[c]}"} for c in codes}


def json_response(description: str, schema: dict[str, Any], headers: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description, "content": {JSON: {"schema": schema}}}
    if headers:
        out["headers"] = headers
    return out


def json_body(schema_ref: str, description: str = "") -> dict[str, Any]:
    return {"required": True, "description": description or f"at most {MAX_JSON_BYTES // (1024 * 1024)} MiB", "content": {JSON: {"schema": ref(schema_ref)}}}


IDENTIFIER_PARAM = {"name": "identifier", "in": "path", "required": True, "schema": ref("Identifier"), "description": "证照标识"}
CREATED_HEADERS = {
    "Location": {"description": "the new licence's record", "required": True, "schema": {"type": "string", "format": "uri-reference"}},
    "Idempotent-Replayed": {"description": "\"true\" when an earlier request with this Idempotency-Key minted the licence", "schema": {"type": "string", "const": "true"}},
}
DEPT_ERRORS = (401, 403, 404, 422, 429, 503)


def operation(op_id: str, tag: str, summary: str, description: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"operationId": op_id, "tags": [tag], "summary": summary, "description": description, **extra, "responses": responses}


def paths() -> dict[str, Any]:
    public: dict[str, Any] = {"security": []}
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
        f"{API}/verify": {
            "post": operation(
                "verify",
                "verification",
                "核验 Verify",
                "Verify scanned QR text, a licence PDF, or a photo or scan of one. Evidence that can be read always "
                "gets a report, forgeries included (200); evidence that cannot be read is a 422.",
                {"200": json_response("the report", ref("VerifyReport")), **errors(413, 422, 503)},
                requestBody={
                    "required": True,
                    "content": {
                        JSON: {"schema": ref("VerifyQrRequest")},
                        "multipart/form-data": {
                            "schema": ref("VerifyUpload"),
                            "encoding": {"file": {"contentType": "application/pdf, image/png, image/jpeg"}},
                        },
                    },
                },
                **public,
            )
        },
        f"{API}/trust-list": {
            "get": operation(
                "getTrustList",
                "trust",
                "信任列表 Trust list",
                "The signed list of department signing keys and the kinds each may issue, for offline verifiers.",
                {"200": json_response("signed by the platform root", ref("SignedDocument")), **errors(503)},
                **public,
            )
        },
        f"{API}/status": {
            "get": operation(
                "getStatusList",
                "trust",
                "状态列表 Status list",
                "The signed status list (per issuer, a status code per position), rebuilt from the register.",
                {"200": json_response("signed by the platform root", ref("SignedDocument")), **errors(503)},
                **public,
            )
        },
        f"{API}/root-certificate": {
            "get": operation(
                "getRootCertificate",
                "trust",
                "根证书 Root certificate",
                "The platform root certificate (PEM): the one trust anchor verifiers need.",
                {
                    "200": {"description": "PEM", "content": {"application/x-pem-file": {"schema": {"type": "string", "pattern": "^-----BEGIN CERTIFICATE-----"}}}},
                    **errors(503),
                },
                **public,
            )
        },
        f"{API}/openapi.json": {
            "get": operation(
                "getOpenApi",
                "meta",
                "接口描述 This document",
                "OpenAPI 3.1 description of this API.",
                {"200": json_response("OpenAPI document", {"type": "object"})},
                **public,
            )
        },
    }


def _features() -> list[Any]:
    """Feature blueprints describe their own routes: each module has openapi_paths() and openapi_schemas().

    Imported here, not at the top: they import this module's helpers."""
    from . import checks_api, matters_api, shares_api

    return [shares_api, checks_api, matters_api]


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
        "paths": {**paths(), **{k: v for m in _features() for k, v in m.openapi_paths().items()}},
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "lic_<id>_<secret>",
                    "description": "Department API token (cli.py token create): scoped to one department and some of its kinds.",
                }
            },
            "schemas": {**schemas(), **{k: v for m in _features() for k, v in m.openapi_schemas().items()}},
            "responses": RESPONSES,
        },
    }


# ---- the readable page -----------------------------------------------------------------------


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
        return schema["$ref"].rsplit("/", 1)[-1]
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


@bp.get(f"{API}/openapi.json")
def openapi_json() -> Response:
    resp = jsonify(document(platform().settings.base_url))
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp


@bp.get("/api/docs")
def api_docs() -> str:
    return render_template("api_docs.html", api=page_model(document(platform().settings.base_url)))
