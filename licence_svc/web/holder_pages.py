"""The holder's pages (/me): sign-in, my licences, download, QR, share grants, who used my licence.

Cookies are scoped to /me, HttpOnly and SameSite=Lax (the OIDC callback arrives as a cross-site
top-level GET and needs its flow cookie; every change is a POST with a CSRF token), and Secure
unless ``settings.cookie_secure`` is off. Chromium treats http://127.0.0.1 and http://localhost as
potentially trustworthy and keeps Secure cookies set over them, so the local demo and the browser
test keep Secure on; turn it off only for plain http on another host.
Every POST carries a CSRF token: the session's, or before sign-in the double-submit cookie's.
Nothing personal is cached (Cache-Control: no-store).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, Response, current_app, g, redirect, render_template, request
from flask.sansio.blueprints import BlueprintSetupState
from werkzeug.wrappers import Response as BaseResponse

from ..core.dates import CHINA, cn_date, cn_datetime
from ..core.qr import qr_png
from ..errors import FieldProblem, InvalidInput, LicenceError, NotFound, RateLimited, Unauthenticated, Unavailable
from ..services import holders, shares
from ..services.holder_signin import ClaimCodeSignIn, OidcFlow, OidcSignIn, method_for
from ..services.holders import HolderSession, SignedIn
from ..services.platform import as_utc
from ..services.usage import MAX_PURPOSE
from ..services.setup import list_departments
from .public import platform

bp = Blueprint("holder_pages", __name__, url_prefix="/me")

SESSION_COOKIE = "lic_holder"
CSRF_COOKIE = "lic_csrf"  # before sign-in: double-submit token
FLOW_COOKIE = "lic_oidc"  # OpenID Connect state, nonce and PKCE verifier during the redirect
COOKIE_PATH = "/me"
CALLBACK_PATH = "/me/sign-in/oidc/callback"
_CJK = re.compile(r"[\u4e00-\u9fff]")
F = TypeVar("F", bound=Callable[..., Any])
SIGNIN_METHOD = "licence_holder_signin"  # app.extensions key of the configured sign-in method

# Field problems of the share service, as the form says them.
SHARE_PROBLEMS = {
    "purpose": f"请填写申请事由（不超过{MAX_PURPOSE}个字）",
    "scope": "请选择授权范围",
    "hours": f"有效期为1至{shares.MAX_HOURS}小时的整数",
    "recipient": "请选择接收部门，或选择“任意窗口”",
    "licence": "该证照已变更或已吊销，不能授权使用",
}
ERROR_TITLES = {400: "请求无效", 401: "请先登录", 403: "操作未被允许", 404: "没有找到", 410: "已失效", 422: "填写有误", 429: "尝试次数过多", 503: "服务暂时不可用"}
ERROR_TEXT = {404: "没有找到该证照或记录。", 410: "该授权已过期或已撤销。", 503: "服务暂时不可用，请稍后再试。"}


@bp.record_once
def _check_signin_config(state: BlueprintSetupState) -> None:
    """Build the sign-in method once: a misconfigured one stops the app at start-up, not at a
    holder's first visit."""
    state.app.extensions[SIGNIN_METHOD] = method_for(state.app.extensions["licence_platform"].settings)


def signin_method() -> ClaimCodeSignIn | OidcSignIn:
    return current_app.extensions[SIGNIN_METHOD]  # type: ignore[no-any-return]


def client() -> str:
    return request.remote_addr or "unknown"


def session() -> HolderSession:
    return g.holder_session  # type: ignore[no-any-return]


def _set_cookie(resp: BaseResponse, name: str, value: str, *, max_age: int | None = None) -> None:
    resp.set_cookie(
        name, value, max_age=max_age, path=COOKIE_PATH, secure=platform().settings.cookie_secure, httponly=True, samesite="Lax"
    )


def _clear_cookie(resp: BaseResponse, name: str) -> None:
    resp.delete_cookie(name, path=COOKIE_PATH, secure=platform().settings.cookie_secure, httponly=True, samesite="Lax")


def _signed_in_response(signed: SignedIn) -> BaseResponse:
    target = "/me/set-password" if signed.session.needs_password else "/me"
    resp = redirect(target, code=303)
    _set_cookie(resp, SESSION_COOKIE, signed.token)
    _clear_cookie(resp, CSRF_COOKIE)
    return resp


@bp.before_request
def _load_session() -> None:
    g.holder_session = holders.open_session(request.cookies.get(SESSION_COOKIE))


@bp.after_request
def _private(resp: Response) -> Response:
    resp.headers["Cache-Control"] = "no-store"  # frame denial, no Referer and the CSP: web/headers.py
    return resp


def _chinese(exc: LicenceError) -> str:
    if _CJK.search(exc.detail):
        return exc.detail
    return ERROR_TEXT.get(exc.http_status, "请求未能完成，请返回重试。")


@bp.errorhandler(LicenceError)
def _error_page(exc: LicenceError) -> tuple[str, int]:
    status = exc.http_status
    return render_template("holder/error.html", title=ERROR_TITLES.get(status, "出错了"), message=_chinese(exc), s=g.get("holder_session")), status


def holder_page(fn: F) -> F:
    """A page for a signed-in holder: without a session, to the sign-in page; a holder who came in
    with a claim code sets a password first; a POST must carry the session's CSRF token."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        s = g.get("holder_session")
        if s is None:
            return redirect("/me/sign-in", code=303)
        if request.method == "POST":
            holders.check_csrf(s.csrf, request.form.get("csrf"))
        if s.needs_password and fn.__name__ not in ("set_password", "sign_out"):
            return redirect("/me/set-password", code=303)
        return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _stored(value: datetime | str) -> datetime:
    return as_utc(datetime.fromisoformat(value) if isinstance(value, str) else value)


@bp.app_template_filter("beijing")
def beijing_time(value: datetime | str | None) -> str:
    """A stored UTC time as a holder reads it: Beijing time, to the minute (2026年11月29日 04:01)."""
    return "" if value is None else cn_datetime(_stored(value))


@bp.app_template_filter("beijing_seconds")
def beijing_seconds(value: datetime | str | None) -> str:
    """A moment to the second in Beijing time, as a verdict page gives its check time."""
    return "" if value is None else cn_datetime(_stored(value), seconds=True)


@bp.app_template_filter("beijing_date")
def beijing_date(value: datetime | str | None) -> str:
    """The day of a stored UTC time in Beijing (2026年11月29日)."""
    return "" if value is None else cn_date(_stored(value).astimezone(CHINA).date())


def _png_data_uri(text: str, scale: int = 4) -> str:
    return "data:image/png;base64," + base64.b64encode(qr_png(text, scale=scale)).decode("ascii")


# --- sign-in ---------------------------------------------------------------------------------


def _sign_in_page(*, error: str | None = None, status: int = 200, holder_id: str = "") -> Response:
    token = request.cookies.get(CSRF_COOKIE) or ""
    if not re.fullmatch(r"[A-Za-z0-9_-]{32,64}", token):
        token = holders.new_csrf_token()
    method = signin_method()
    body = render_template("holder/sign_in.html", method=method.name, csrf=token, error=error, holder_id=holder_id, s=None)
    resp = Response(body, status=status, mimetype="text/html")
    if status == 429:
        resp.headers["Retry-After"] = str(int(holders.FAILURE_WINDOW.total_seconds()))
    _set_cookie(resp, CSRF_COOKIE, token)
    return resp


@bp.get("/sign-in")
def sign_in() -> BaseResponse:
    if g.holder_session is not None and not g.holder_session.needs_password:
        return redirect("/me", code=303)
    return _sign_in_page()


@bp.post("/sign-in")
def sign_in_submit() -> BaseResponse:
    method = signin_method()
    if not isinstance(method, ClaimCodeSignIn):
        raise NotFound("该登录方式未启用")
    holders.check_csrf(request.cookies.get(CSRF_COOKIE), request.form.get("csrf"))
    holder_id = request.form.get("holder_id", "")[:40]
    try:
        signed = method.sign_in(holder_id, request.form.get("secret", ""), client=client())
    except (Unauthenticated, RateLimited) as exc:
        return _sign_in_page(error=exc.detail, status=exc.http_status, holder_id=holder_id)
    return _signed_in_response(signed)


def _oidc() -> OidcSignIn:
    method = signin_method()
    if not isinstance(method, OidcSignIn):
        raise NotFound("该登录方式未启用")
    return method


def _callback_url() -> str:
    return platform().settings.base_url.rstrip("/") + CALLBACK_PATH


@bp.get("/sign-in/oidc")
def oidc_start() -> BaseResponse:
    url, flow = _oidc().start(_callback_url())
    resp = redirect(url, code=303)
    _set_cookie(resp, FLOW_COOKIE, flow.to_cookie(), max_age=600)
    return resp


@bp.get("/sign-in/oidc/callback")
def oidc_callback() -> BaseResponse:
    method = _oidc()
    flow = OidcFlow.from_cookie(request.cookies.get(FLOW_COOKIE))
    params = {k: request.args.get(k, "") for k in ("code", "state", "error")}
    try:
        signed = method.finish(flow, params, redirect_uri=_callback_url(), client=client())
    except (Unauthenticated, RateLimited, Unavailable) as exc:
        page = _sign_in_page(error=_chinese(exc), status=exc.http_status)
        _clear_cookie(page, FLOW_COOKIE)
        return page
    resp = _signed_in_response(signed)
    _clear_cookie(resp, FLOW_COOKIE)
    return resp


@bp.route("/set-password", methods=["GET", "POST"])
@holder_page
def set_password() -> Any:
    s = session()
    if not s.needs_password:
        return redirect("/me", code=303)
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            signed = holders.set_password(s, request.form.get("password", ""), request.form.get("confirm", ""), client=client())
        except InvalidInput as exc:
            errors = {p.field: p.reason for p in exc.problems}
        else:
            resp = redirect("/me?password=set", code=303)
            _set_cookie(resp, SESSION_COOKIE, signed.token)
            return resp
    page = render_template("holder/set_password.html", s=s, errors=errors, min_length=holders.MIN_PASSWORD)
    return page, 422 if errors else 200


@bp.post("/sign-out")
@holder_page
def sign_out() -> BaseResponse:
    holders.sign_out(session(), client=client())
    resp = redirect("/me/sign-in", code=303)
    _clear_cookie(resp, SESSION_COOKIE)
    return resp


# --- the holder's licences -------------------------------------------------------------------


@bp.get("")
@bp.get("/")
@holder_page
def my_licences() -> str:
    s = session()
    return render_template(
        "holder/licences.html", s=s, licences=holders.my_licences(s.holder), password_set=request.args.get("password") == "set"
    )


@bp.get("/licences/<identifier>")
@holder_page
def licence(identifier: str) -> str:
    s = session()
    page = holders.licence_page(s.holder, identifier)
    return render_template(
        "holder/licence.html",
        s=s,
        lic=page.licence,
        fields=page.fields,
        qr=_png_data_uri(page.licence.qr_text),
        grants=page.grants,
        events=page.events,
    )


@bp.get("/licences/<identifier>/pdf")
@holder_page
def licence_pdf(identifier: str) -> Response:
    data = holders.download_pdf(platform(), session().holder, identifier, client=client())
    resp = Response(data, mimetype="application/pdf")
    resp.headers["Content-Disposition"] = f'attachment; filename="{identifier}.pdf"'
    return resp


def _share_form(lic: holders.HolderLicence, *, values: dict[str, str], errors: dict[str, str], status: int) -> tuple[str, int]:
    departments = sorted(list_departments(), key=lambda d: (bool(d["kinds"]), str(d["code"])))
    page = render_template(
        "holder/share.html",
        s=session(),
        lic=lic,
        departments=departments,
        scopes=shares.SCOPES,
        scope_labels=shares.SCOPE_LABELS,
        values=values,
        errors=errors,
        max_hours=shares.MAX_HOURS,
        max_purpose=MAX_PURPOSE,
    )
    return page, status


@bp.route("/licences/<identifier>/share", methods=["GET", "POST"])
@holder_page
def share(identifier: str) -> tuple[str, int]:
    s = session()
    lic = holders.my_licence(s.holder, identifier)
    if request.method == "GET":
        return _share_form(lic, values={"recipient": "", "purpose": "", "scope": "verify", "hours": "24"}, errors={}, status=200)
    values = {k: request.form.get(k, "").strip() for k in ("recipient", "purpose", "scope", "hours")}
    try:
        try:
            hours = int(values["hours"] or "24")
        except ValueError:
            raise InvalidInput([FieldProblem("hours", "not a number")]) from None
        grant, code = shares.create_grant(
            platform(),
            holder=s.holder,
            licence=identifier,
            purpose=values["purpose"],
            scope=values["scope"],
            recipient=values["recipient"] or None,
            hours=hours,
        )
    except InvalidInput as exc:
        errors = {p.field: SHARE_PROBLEMS.get(p.field, p.reason) for p in exc.problems}
        return _share_form(lic, values=values, errors=errors, status=422)
    page = render_template(
        "holder/shared.html",
        s=s,
        lic=lic,
        grant=grant,
        code=code,
        qr=_png_data_uri(shares.share_qr_text(platform(), code), scale=6),
        scope_label=shares.SCOPE_LABELS[grant.scope],
    )
    return page, 200


@bp.post("/grants/<grant_id>/revoke")
@holder_page
def revoke_grant(grant_id: str) -> BaseResponse:
    grant = shares.revoke_grant(holder=session().holder, grant_id=grant_id)
    return redirect(f"/me/licences/{grant.licence}#grants", code=303)
