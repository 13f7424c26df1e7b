"""Department API (/api/v1/licences): issue, read, change and revoke from departments' own systems.

Every call carries a department bearer token; views parse, call one service, render.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, jsonify, request

from ..core.kinds import get_kind
from ..core.masking import mask_number
from ..errors import FieldProblem, InvalidInput, PayloadTooLarge
from ..services import batches, claim_codes, lifecycle, records
from ..services.issuing import Issued, issue
from .public import client, platform, principal, reject_unknown_args, require_token

bp = Blueprint("department_api", __name__, url_prefix="/api/v1")

MAX_JSON_BYTES = 2 * 1024 * 1024  # a record with a 512 KiB photo fits with room to spare
MAX_BATCH_BYTES = 64 * 1024 * 1024
LIST_PARAMS = {"kind", "status", "holder", "issued_after", "cursor", "limit"}


@bp.before_request
def _authenticate() -> None:
    require_token("issue")


def json_body(allowed: dict[str, type], required: tuple[str, ...]) -> dict[str, Any]:
    """The request's JSON object, with only the documented fields, of the documented types."""
    PayloadTooLarge.check(request.content_length, MAX_JSON_BYTES, "JSON body")
    raw = request.stream.read(MAX_JSON_BYTES + 1)  # also bounds a chunked body without Content-Length
    PayloadTooLarge.check(len(raw), MAX_JSON_BYTES, "JSON body")
    try:
        body = json.loads(raw) if request.is_json else None
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise InvalidInput.single("body", "must be a JSON object (Content-Type: application/json)")
    problems = [FieldProblem(k, "unknown field") for k in body if k not in allowed]
    problems += [FieldProblem(k, "missing") for k in required if k not in body]
    problems += [
        FieldProblem(k, f"must be a {'string' if t is str else 'JSON object'}")
        for k, t in allowed.items()
        if k in body and not isinstance(body[k], t)
    ]
    if problems:
        raise InvalidInput(problems)
    return body


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
    body = json_body({"kind": str, "data": dict}, ("kind", "data"))
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
    return jsonify(
        records.listing(
            platform(),
            principal(),
            kind=request.args.get("kind"),
            status=request.args.get("status"),
            holder=request.args.get("holder"),
            issued_after=request.args.get("issued_after"),
            cursor=request.args.get("cursor"),
            limit=limit,
        )
    )


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
    body = json_body({"data": dict}, ("data",))
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


def _status_change(change: Callable[..., Any], identifier: str) -> Response:
    body = json_body({"reason": str}, ("reason",))
    row = change(identifier, reason=body["reason"], actor=principal().actor, principal=principal(), client=client())
    return jsonify(records.summary(row, platform().settings.base_url))


@bp.post("/licences/<identifier>/revoke")
def revoke(identifier: str) -> Response:
    return _status_change(lifecycle.revoke, identifier)


@bp.post("/licences/<identifier>/suspend")
def suspend(identifier: str) -> Response:
    return _status_change(lifecycle.suspend, identifier)


@bp.post("/licences/<identifier>/reinstate")
def reinstate(identifier: str) -> Response:
    return _status_change(lifecycle.reinstate, identifier)
