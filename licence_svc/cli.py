"""Command line: the same services the HTTP API calls, with domain errors mapped to exit codes.

Exit codes: 0 success (for verify: the licence is valid), 1 verified but not valid,
2 invalid input or unreadable evidence, 3 not authorised, 4 not found, 5 conflict, 6 misconfigured,
7 unavailable, 8 (verify) genuine but its status not checked (``unchecked``: never valid).
"""

from __future__ import annotations

import functools
import json
import logging
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TextIO

import click
from cryptography.hazmat.primitives import serialization

from .core.dates import CHINA
from .core.revocation import CATEGORIES as REVOCATION_CATEGORIES
from .errors import InvalidInput, LicenceError
from .services import audit as audit_service
from .services import bulk, lifecycle, trustdocs
from .core.masking import mask_number
from .services import tokens as tokens_service
from .services import checks as checks_service
from .services import setup as setup_service
from .services.issuing import issue as issue_licence
from .services.platform import Platform, read_root_certificate
from .core.verify import UNCHECKED, Report
from .services.verifying import check_pdf, check_qr, check_qr_with, offline_sources


def _domain_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Map the one error root to a message and an exit code; anything else is a bug and shows its traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except LicenceError as exc:
            click.echo(f"error: {exc.title}: {exc.detail}" if not isinstance(exc, InvalidInput) else "error: invalid input", err=True)
            if isinstance(exc, InvalidInput):
                for p in exc.problems:
                    click.echo(f"  {p.field}: {p.reason}", err=True)
            sys.exit(exc.exit_code)

    return wrapper


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError as exc:
        raise InvalidInput.single("data", f"file {path} not found") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput.single("data", f"not UTF-8 JSON: {exc}") from exc


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    tmp.replace(path)


def _platform(*, create_schema: bool = False) -> Platform:
    platform = Platform.open(create_schema=create_schema)
    return platform


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log progress to stderr.")
def main(verbose: bool) -> None:
    """电子证照平台 — electronic licence platform."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not verbose:
        # pyhanko logs expected validation failures (a self-signed signer, say) as warnings with
        # tracebacks; the report already says what failed, and a traceback reads like a crash.
        for name in ("pyhanko", "pyhanko_certvalidator"):
            logging.getLogger(name).setLevel(logging.ERROR)


@main.command()
@click.option("--demo", is_flag=True, help="Also create three demo departments and print their API tokens once.")
@click.option("--force", is_flag=True, help="Replace existing keys (invalidates every licence signed so far).")
@_domain_errors
def init(demo: bool, force: bool) -> None:
    """Create the database and the platform PKI; safe to run again."""
    platform = Platform.open(create_schema=True)
    result = setup_service.initialise(platform, demo=demo, force=force)
    for item in result.created:
        click.echo(f"created {item}")
    if not result.created:
        click.echo("already initialised; nothing changed")
    if result.demo_tokens:
        click.echo("DEMO API tokens (shown once; only their hashes are stored):")
        for code, token in result.demo_tokens.items():
            click.echo(f"  {code}  {token}")
    if demo:
        click.echo("WARNING: demo departments and keys are for trying the platform, never for real licences.", err=True)


@main.command("export-root")
@_domain_errors
def export_root() -> None:
    """Print the platform root certificate (PEM) for verifiers to trust."""
    platform = _platform()
    click.echo(platform.keys.root_cert().public_bytes(serialization.Encoding.PEM).decode("ascii"), nl=False)


@main.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
@_domain_errors
def departments(ctx: click.Context, as_json: bool) -> None:
    """List departments and the licence kinds each may issue."""
    if ctx.invoked_subcommand is not None:
        return
    _platform(create_schema=True)
    rows = setup_service.list_departments()
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        click.echo(f"{row['code']}  {row['name']}  {','.join(row['kinds'])}")  # type: ignore[arg-type]


@departments.command("add")
@click.argument("code")
@click.option("--name", required=True, help="Chinese name, as printed on licences and in the seal.")
@click.option("--kinds", default="", help="Comma-separated licence kinds it may issue; none: a service window (综合窗口).")
@_domain_errors
def departments_add(code: str, name: str, kinds: str) -> None:
    """Register a department and issue its signing certificate."""
    platform = _platform(create_schema=True)
    dept = setup_service.add_department(platform, code.strip().upper(), name, [k.strip() for k in kinds.split(",") if k.strip()])
    click.echo(f"created department {dept.code} {dept.name}")


def _echo_claim_codes(codes: tuple[tuple[str, str], ...] | list[tuple[str, str]]) -> None:
    """Each holder's one-time sign-in code, for the paper notice (shown once: only hashes are kept)."""
    for holder, code in codes:
        click.echo(f"claim code for holder {mask_number(holder)}: {code}", err=True)


@main.command()
@_domain_errors
def housekeeping() -> None:
    """Delete spent rows: old failed-authentication counts, ended holder sessions, used or expired
    claim codes (the audit trail keeps the events). Safe to run from cron at any time."""
    _platform()
    from .services.housekeeping import prune

    for table, count in prune().items():
        click.echo(f"{table}: {count} deleted")


@main.command("claim-codes")
@click.argument("identifier")
@_domain_errors
def claim_codes(identifier: str) -> None:
    """New one-time claim codes for a licence's holders (a lost notice); older unused codes stop working."""
    _platform()
    from .services.claim_codes import remint

    _echo_claim_codes(remint(identifier.strip()))  # NotFound names an unknown identifier


@main.command()
@click.option("--kind", required=True, help="id_card, household_register, degree_certificate, driving_licence or business_licence.")
@click.option("--data", "data_file", required=True, type=click.Path(dir_okay=False, path_type=Path), help="JSON object with the kind's fields, UTF-8.")
@click.option("--department", default=None, help="Issuing department code (may be omitted when only one may issue the kind).")
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Where to write the signed PDF.")
@_domain_errors
def issue(kind: str, data_file: Path, department: str | None, out_file: Path) -> None:
    """Issue one licence; prints its identifier alone on the last line."""
    data = _read_json(data_file)
    platform = _platform()
    platform.check_ready()
    issued = issue_licence(platform, kind=kind, data=data, department=department, actor=_actor())
    _write_atomically(out_file, issued.pdf)
    click.echo(f"issued {issued.kind} version {issued.version:03d}; PDF written to {out_file}", err=True)
    _echo_claim_codes(issued.claim_codes)
    click.echo(issued.identifier)


def _actor() -> str:
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _status_command(name: str, action: Callable[..., Any], doc: str) -> None:
    @main.command(name, help=doc)
    @click.argument("identifier")
    @click.option("--reason", required=True, help="Why; recorded with who and when, and shown by verification.")
    @_domain_errors
    def command(identifier: str, reason: str) -> None:
        _platform()
        row = action(identifier.strip(), reason=reason, actor=_actor())
        click.echo(f"{row.identifier} is now {row.status}")


@main.command("revoke")
@click.argument("identifier")
@click.option("--reason", required=True, help="Why, in the department's own words; recorded with who and when, never shown to the public.")
@click.option(
    "--category",
    default=None,
    metavar="CODE",
    help="What verification shows instead of the reason: " + ", ".join(f"{k} ({v})" for k, v in REVOCATION_CATEGORIES.items()) + ".",
)
@_domain_errors
def revoke(identifier: str, reason: str, category: str | None) -> None:
    """Revoke a licence (吊销/注销); final."""
    _platform()
    row = lifecycle.revoke(identifier.strip(), reason=reason, category=category, actor=_actor())
    click.echo(f"{row.identifier} is now {row.status}" + (f" ({row.status_category})" if row.status_category else ""))


_status_command("suspend", lifecycle.suspend, "Suspend a licence until reinstated.")
_status_command("reinstate", lifecycle.reinstate, "Reinstate a suspended licence.")


@main.command()
@click.argument("identifier")
@click.option("--data", "data_file", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The complete new field set, JSON.")
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Where to write the new PDF.")
@_domain_errors
def change(identifier: str, data_file: Path, out_file: Path) -> None:
    """Issue the next version of a licence (变更); the old version becomes superseded."""
    data = _read_json(data_file)
    platform = _platform()
    platform.check_ready()
    issued = lifecycle.new_version(platform, identifier.strip(), data=data, actor=_actor())
    _write_atomically(out_file, issued.pdf)
    click.echo(f"issued version {issued.version:03d}; {identifier.strip()} is superseded", err=True)
    _echo_claim_codes(issued.claim_codes)
    click.echo(issued.identifier)


@main.command("rotate-key")
@click.argument("department")
@_domain_errors
def rotate_key(department: str) -> None:
    """Give a department a new signing key; licences signed with the old one still verify."""
    kid = setup_service.rotate_key(_platform(), department.strip().upper())
    click.echo(f"new signing key {kid} for {department}")


@main.command("withdraw-key")
@click.argument("kid")
@click.option("--reason", required=True)
@_domain_errors
def withdraw_key(kid: str, reason: str) -> None:
    """Withdraw a signing key: every licence signed with it fails verification with the reason."""
    setup_service.withdraw_key(_platform(), kid.strip(), reason=reason)
    click.echo(f"signing key {kid} withdrawn")


class _ImportProgress:
    """The import's progress on stderr: a bar with rate and ETA on a terminal; plain periodic
    ``import:`` lines otherwise (logs, CI). Fed by ``bulk.run_import(on_progress=...)``."""

    def __init__(self, total: int | None, out: TextIO | None = None, every: float = 5.0) -> None:
        # sys.stderr looked up now, not at import: a test runner may have replaced it.
        self.total, self.out, self.every = total, out or sys.stderr, every
        self.start = self.last = time.monotonic()
        self.tty = self.out.isatty()

    def update(self, s: bulk.Summary, *, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self.last < (0.2 if self.tty else self.every):
            return
        self.last = now
        done = s.total
        rate = done / max(now - self.start, 1e-9)
        eta = (self.total - done) / rate if (self.total and rate > 0) else 0
        counts = f"{done}/{self.total or '?'} issued {s.issued} skipped {s.skipped} rejected {s.rejected} · {rate:.1f}/s"
        if self.tty:
            width = 30
            frac = done / self.total if self.total else 0
            bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
            self.out.write(f"\r[{bar}] {frac:5.1%} {counts} · ETA {eta:5.0f}s ")
            if final:
                self.out.write("\n")
        else:
            self.out.write(f"import: {counts} · ETA {eta:.0f}s\n")
        self.out.flush()


@main.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--kind", required=True)
@click.option("--department", required=True, help="Issuing department code.")
@click.option("--workers", type=int, default=None, help="Worker processes (default: every core).")
@click.option("--key-column", default="record_number", show_default=True, help="Column with the department's own record number (part of each row's natural key).")
@click.option("--errors", "errors_file", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Error report (default FILE.errors.csv).")
@_domain_errors
def import_(file: Path, kind: str, department: str, workers: int | None, key_column: str, errors_file: Path | None) -> None:
    """Convert a stock of paper licences: CSV (header = field names) or JSON Lines, streamed.

    Rerunning the same file after an interruption issues only what is missing.
    """
    platform = _platform()
    platform.check_ready()
    progress = _ImportProgress(bulk.count_rows(file))
    summary = bulk.run_import(
        file,
        kind=kind,
        department=department.strip().upper(),
        actor=_actor(),
        workers=workers,
        key_column=key_column,
        errors_path=errors_file,
        on_progress=progress.update,
    )
    progress.update(summary, final=True)
    report = errors_file or file.with_name(file.name + ".errors.csv")
    click.echo(
        f"issued {summary.issued}, skipped as already issued {summary.skipped}, rejected {summary.rejected} "
        f"in {summary.seconds:.1f}s ({summary.total / max(summary.seconds, 1e-9):.1f} rows/s)"
    )
    if summary.rejected:
        click.echo(f"rejected rows: see {report}")
        sys.exit(1)


@main.group()
def token() -> None:
    """API tokens of department clients (only their hashes are stored)."""


@token.command("create")
@click.option("--department", required=True, help="The department's code.")
@click.option("--kinds", default=None, help="Comma-separated kinds the token may act on (default: all the department's).")
@click.option("--expires", default=None, help="Expiry: an ISO date/time, or a duration like 90d or 12h.")
@click.option("--label", default="", help="What the token is for, e.g. the client system's name.")
@click.option("--scopes", default="issue", show_default=True, help="Comma-separated: issue (licences), redeem (holders' share codes), check (field-match checks).")
@_domain_errors
def token_create(department: str, kinds: str | None, expires: str | None, label: str, scopes: str) -> None:
    """Create a token; it is printed once, alone on the last line."""
    _platform()
    kind_list = [k.strip() for k in kinds.split(",") if k.strip()] if kinds else None
    scope_list = [x.strip() for x in scopes.split(",") if x.strip()]
    token_id, value = tokens_service.create_token(
        department.strip().upper(), kind_list, label=label, expires_at=_expiry(expires), scopes=scope_list
    )
    click.echo(f"token {token_id} for {department.strip().upper()} (store it now: it is not kept)", err=True)
    click.echo(value)


def _expiry(text: str | None) -> datetime | None:
    if not text:
        return None
    text = text.strip()
    units = {"d": "days", "h": "hours", "m": "minutes"}
    if text[:-1].isdigit() and text[-1] in units:
        return datetime.now(timezone.utc) + timedelta(**{units[text[-1]]: int(text[:-1])})
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput.single("expires", "an ISO 8601 date/time or a duration such as 90d, 12h") from None
    return value if value.tzinfo else value.replace(tzinfo=CHINA)


@token.command("list")
@click.option("--department", default=None)
@click.option("--json", "as_json", is_flag=True)
@_domain_errors
def token_list(department: str | None, as_json: bool) -> None:
    """List tokens (never their values)."""
    _platform()
    rows = tokens_service.list_tokens(department.strip().upper() if department else None)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for r in rows:
        state = "revoked" if r["revoked"] else (f"expires {r['expires_at']}" if r["expires_at"] else "active")
        click.echo(f"{r['token_id']}  {r['department']}  {','.join(r['kinds'])}  [{','.join(r['scopes'])}]  {state}  {r['label']}")  # type: ignore[arg-type]


@token.command("revoke")
@click.argument("token_id")
@_domain_errors
def token_revoke(token_id: str) -> None:
    """Revoke a token at once."""
    _platform()
    tokens_service.revoke_token(token_id)
    click.echo(f"token {token_id} revoked")


@main.group("check-scope")
def check_scope() -> None:
    """Kinds a department may check (核验) without the holder's grant; each such check is reported to the holder."""


@check_scope.command("grant")
@click.option("--department", required=True, help="The department's code.")
@click.option("--kind", required=True, help="The licence kind it may check without a grant.")
@_domain_errors
def check_scope_grant(department: str, kind: str) -> None:
    _platform()
    added = checks_service.grant_check_scope(department, kind)
    click.echo(f"check scope {kind.strip()} for {department.strip().upper()} {'granted' if added else 'already granted'}")


@check_scope.command("revoke")
@click.option("--department", required=True, help="The department's code.")
@click.option("--kind", required=True)
@_domain_errors
def check_scope_revoke(department: str, kind: str) -> None:
    _platform()
    checks_service.revoke_check_scope(department, kind)
    click.echo(f"check scope {kind.strip()} for {department.strip().upper()} revoked")


@check_scope.command("list")
@click.option("--department", default=None)
@click.option("--json", "as_json", is_flag=True)
@_domain_errors
def check_scope_list(department: str | None, as_json: bool) -> None:
    _platform()
    rows = checks_service.list_check_scopes(department)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for r in rows:
        click.echo(f"{r['department']}  {r['kind']}  {r['kind_label']}  since {r['created_at']}")


@main.group()
def matters() -> None:
    """The catalogue of service matters (事项) and the materials each requires."""


@matters.command("load")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@_domain_errors
def matters_load(file: Path) -> None:
    """Replace the whole catalogue with FILE (JSON, or YAML for .yaml/.yml), in one transaction.

    Every problem is listed at once; the old catalogue stays when there is any.
    """
    from .services import matters as matters_service

    _platform()
    result = matters_service.load_file(file, actor=_actor())
    click.echo(f"loaded {result.matters} matters with {result.materials} materials from {file}")


@matters.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_domain_errors
def matters_list(as_json: bool) -> None:
    """List the catalogue: each matter and its materials."""
    from .services import matters as matters_service

    _platform()
    rows = [m.as_dict() for m in matters_service.catalogue()]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for m in rows:
        click.echo(f"{m['code']}  {m['name']}" + (f"  ({m['department']})" if m["department"] else ""))
        for mat in m["materials"]:
            source = mat["kind_label"] or "纸质材料"
            click.echo(f"    {mat['id']}  {mat['name']}  [{source}]" + ("" if mat["required"] else "  (可选)"))


@main.group()
def audit() -> None:
    """The audit trail (全过程留痕): verify the hash chain, sign its head."""


@audit.command("verify")
@_domain_errors
def audit_verify() -> None:
    """Walk the chain, the signed checkpoints and the events not yet sealed; report the first
    broken link (exit 1)."""
    report = audit_service.verify_trail(_platform())
    click.echo(f"{report.events} events, head at {report.head_seq}, {report.checkpoints} signed checkpoints")
    click.echo(f"{report.pending} events recorded and not yet sealed, in {report.streams} streams")
    if report.broken is None:
        click.echo("audit trail intact")
        return
    where = f"event {report.broken.seq}" if report.broken.stream is None else f"stream {report.broken.stream} event {report.broken.seq}"
    click.echo(f"BROKEN at {where}: {report.broken.reason}")
    sys.exit(1)


@audit.command("seal")
@_domain_errors
def audit_seal() -> None:
    """Fold every recorded event into the chain now (web processes do it in the background)."""
    platform = _platform()
    sealed = audit_service.seal_all(platform)
    seq, head = audit_service.head()
    click.echo(f"sealed {sealed} events; chain head at event {seq}: {head}")


@audit.command("checkpoint")
@_domain_errors
def audit_checkpoint() -> None:
    """Seal what was recorded, then sign the chain head with the platform root key."""
    platform = _platform()
    audit_service.seal_all(platform)
    seq, head = audit_service.checkpoint(platform)
    click.echo(f"signed checkpoint at event {seq}: {head}")


@main.command("trust-list")
@_domain_errors
def trust_list() -> None:
    """Print the signed trust list (JSON) for offline verifiers."""
    click.echo(json.dumps(trustdocs.signed_trust_list(_platform()), indent=1))


@main.command("status-list")
@_domain_errors
def status_list() -> None:
    """Print the signed status list (JSON) for offline verifiers."""
    click.echo(json.dumps(trustdocs.signed_status_list(_platform()), indent=1))


@main.command()
@click.argument("pdf_file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--qr", "qr", default=None, help="QR text as scanned (the link or its payload).")
@click.option("--offline", is_flag=True, help="Check only signatures and trust, not the register's status.")
@click.option("--trust-list", "trust_file", type=click.Path(dir_okay=False, path_type=Path), help="With --qr: verify with this signed trust list only (no register, no database).")
@click.option("--status-list", "status_file", type=click.Path(dir_okay=False, path_type=Path), help="With --trust-list: take status from this signed status list.")
@click.option("--root", "root_file", type=click.Path(dir_okay=False, path_type=Path), help="Root certificate (PEM) the lists must be signed by; default the platform's.")
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
@_domain_errors
def verify(
    pdf_file: Path | None,
    qr: str | None,
    offline: bool,
    trust_file: Path | None,
    status_file: Path | None,
    root_file: Path | None,
    as_json: bool,
) -> None:
    """Verify a licence PDF or a scanned QR text; exit 0 only when it is valid."""
    if (pdf_file is None) == (qr is None):
        raise InvalidInput.single("evidence", "give either a PDF file or --qr TEXT")
    if trust_file is not None:
        if qr is None:
            raise InvalidInput.single("trust-list", "offline lists verify QR texts (--qr)")
        root = read_root_certificate(root_file) if root_file else _platform().root_cert()
        trust, source = offline_sources(
            root, _read_json(trust_file), _read_json(status_file) if status_file else None
        )
        report = check_qr_with(qr, trust, source)
        _print_report(report, as_json)
        sys.exit(_verdict_exit(report))
    platform = _platform()
    if qr is not None:
        report = check_qr(platform, qr, offline=offline, actor=_actor())
    else:
        assert pdf_file is not None
        try:
            pdf = pdf_file.read_bytes()
        except OSError as exc:
            raise InvalidInput.single("file", f"cannot read {pdf_file}: {exc.strerror}") from exc
        report = check_pdf(platform, pdf, offline=offline, sandbox=True, actor=_actor())
    _print_report(report, as_json)
    sys.exit(_verdict_exit(report))


UNCHECKED_EXIT = 8


def _verdict_exit(report: Report) -> int:
    """0 only for valid; ``unchecked`` has its own code, so a script never mistakes it for valid
    nor for a licence found wanting."""
    return 0 if report.valid else (UNCHECKED_EXIT if report.verdict == UNCHECKED else 1)


def _print_report(report: Report, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(f"verdict: {report.verdict}")
        for check in report.checks:
            mark = {True: "ok  ", False: "FAIL", None: "--  "}[check.passed]
            click.echo(f"  [{mark}] {check.name}: {check.reason}")
        for notice in report.warnings:
            click.echo(f"  [NOTE] {notice.message}")
        if report.licence:
            lic = report.licence
            click.echo(f"licence: {lic['identifier']} {lic['kind_label']} holder {lic['holder']} issuer {lic['issuer']['name'] or lic['issuer']['code']}")


if __name__ == "__main__":  # pragma: no cover
    main()
