"""Department API (/api/v1/licences): issue, read, change and revoke from departments' own systems.

Every call carries a department bearer token; views parse, call one service, render.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, jsonify, request

from ..core.kinds import get_kind
from ..core.masking import mask_number
from ..errors import InvalidInput, PayloadTooLarge
from ..services import batches, claim_codes, lifecycle, records
from ..services.issuing import Issued, issue
from .bodies import json_object
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
    body = json_object({"kind": str, "data": dict}, ("kind", "data"))
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
    body = json_object({k: int if k == "limit" else str for k in LIST_PARAMS}, ())
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
    body = json_object({"data": dict}, ("data",))
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


def _status_change(change: Callable[..., Any], identifier: str, **fields: type) -> Response:
    body = json_object({"reason": str, **fields}, ("reason",))
    extra = {k: body[k] for k in fields if k in body}
    row = change(identifier, reason=body["reason"], actor=principal().actor, principal=principal(), client=client(), **extra)
    return jsonify(records.summary(row, platform().settings.base_url))


@bp.post("/licences/<identifier>/revoke")
def revoke(identifier: str) -> Response:
    return _status_change(lifecycle.revoke, identifier, category=str)


@bp.post("/licences/<identifier>/suspend")
def suspend(identifier: str) -> Response:
    return _status_change(lifecycle.suspend, identifier)


@bp.post("/licences/<identifier>/reinstate")
def reinstate(identifier: str) -> Response:
    return _status_change(lifecycle.reinstate, identifier)
