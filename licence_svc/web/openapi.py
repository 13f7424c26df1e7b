"""Builders of the API's OpenAPI 3.1 description: schema pieces, responses and operations.

Each blueprint declares the operations and schemas of its own views next to them with these
builders (``openapi_paths()`` and ``openapi_schemas()``); ``web/api_document.py`` assembles the
document. The schemas are Python data built from the same constants the views and services use
(kinds and their fields, status codes, size limits), so the description cannot say one thing while
the code does another. This module imports no blueprint.
"""

from __future__ import annotations

from typing import Any

from ..core.checkdigits import CREDIT_ALPHABET
from ..core.kinds import ETHNICITIES, KINDS, MAX_PHOTO_BYTES, VEHICLE_CLASSES, FieldSpec, KindSpec
from ..core.statuslist import CODES
from .bodies import JSON, MAX_JSON_BYTES

API = "/api/v1"
PROBLEM = "application/problem+json"

IDENTIFIER_PATTERN = (
    r"^1\.2\.156\.3005\.2\.[0-9A-Z]{21}\.[0-9A-Z]{18}\.[0-9A-Z]{8,32}\.[0-9]{3}\.[0-9A-Z]$"
)
ID_NUMBER_PATTERN = r"^[1-9][0-9]{16}[0-9X]$"
CREDIT_CODE_PATTERN = rf"^[{CREDIT_ALPHABET}]{{18}}$"
BASE64_PATTERN = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"


DATE_TIME = {"type": "string", "format": "date-time"}
PDF_RESPONSE = {
    "description": "the PDF",
    "headers": {"Content-Disposition": {"required": True, "schema": {"type": "string", "pattern": "^attachment"}}},
    "content": {"application/pdf": {"schema": {"type": "string", "contentMediaType": "application/pdf"}}},
}


def ref(name: str) -> dict[str, str]:
    """A reference to the component schema ``name``."""
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
    """The component schema of a kind's data: id_card → IdCardData."""
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
    """A kind's data as the register stores it (core.kinds also accepts other input forms)."""
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


def licence_schemas() -> dict[str, Any]:
    """What every part of the API speaks of: kinds, statuses, identifiers, and each kind's data."""
    out: dict[str, Any] = {
        "Kind": {"type": "string", "enum": list(KINDS), "description": "; ".join(f"{k.name}: {k.label}" for k in KINDS.values())},
        "LicenceStatus": {"type": "string", "enum": list(CODES)},
        "Identifier": {"type": "string", "pattern": IDENTIFIER_PATTERN, "description": "证照标识 (GB/T 36904 shape)"},
        "HouseholdMember": obj({f.name: field_schema(f) for f in KINDS["household_register"].member_fields}, title="户内成员"),
    }
    out.update({schema_name(k.name): kind_data_schema(k) for k in KINDS.values()})
    return out


def document_schemas() -> dict[str, Any]:
    """The signed documents several operations answer with, and the problem document of every error."""
    return {
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


def problem(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    """A problem+json response (web/problems.py's shape)."""
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
    """The shared error responses of ``codes``, by reference."""
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
    """A JSON response of ``schema``."""
    out: dict[str, Any] = {"description": description, "content": {JSON: {"schema": schema}}}
    if headers:
        out["headers"] = headers
    return out


def json_body(schema_ref: str, description: str = "") -> dict[str, Any]:
    """A required JSON request body of the component schema ``schema_ref``: web/bodies.py
    validates the request against it."""
    return {"required": True, "description": description or f"at most {MAX_JSON_BYTES // (1024 * 1024)} MiB", "content": {JSON: {"schema": ref(schema_ref)}}}


def operation(op_id: str, tag: str, summary: str, description: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """One operation; ``extra`` holds parameters, requestBody, security."""
    return {"operationId": op_id, "tags": [tag], "summary": summary, "description": description, **extra, "responses": responses}


