"""Command line: the same services the HTTP API calls, with domain errors mapped to exit codes.

Exit codes: 0 success (for verify: the licence is valid), 1 verified but not valid,
2 invalid input or unreadable evidence, 3 not authorised, 4 not found, 6 misconfigured, 7 unavailable.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from cryptography.hazmat.primitives import serialization

from .errors import InvalidInput, LicenceError
from .services import setup as setup_service
from .services.issuing import issue as issue_licence
from .services.platform import Platform
from .services.verifying import check_pdf, check_qr


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


def _platform(*, create_schema: bool = False) -> Platform:
    platform = Platform.open(create_schema=create_schema)
    return platform


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log progress to stderr.")
def main(verbose: bool) -> None:
    """电子证照平台 — electronic licence platform."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


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
@click.option("--kinds", required=True, help="Comma-separated licence kinds it may issue.")
@_domain_errors
def departments_add(code: str, name: str, kinds: str) -> None:
    """Register a department and issue its signing certificate."""
    platform = _platform(create_schema=True)
    dept = setup_service.add_department(platform, code.strip().upper(), name, [k.strip() for k in kinds.split(",") if k.strip()])
    click.echo(f"created department {dept.code} {dept.name}")


@main.command()
@click.option("--kind", required=True, help="id_card, household_register, degree_certificate, driving_licence or business_licence.")
@click.option("--data", "data_file", required=True, type=click.Path(dir_okay=False, path_type=Path), help="JSON object with the kind's fields, UTF-8.")
@click.option("--department", default=None, help="Issuing department code (may be omitted when only one may issue the kind).")
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Where to write the signed PDF.")
@_domain_errors
def issue(kind: str, data_file: Path, department: str | None, out_file: Path) -> None:
    """Issue one licence; prints its identifier alone on the last line."""
    try:
        data = json.loads(data_file.read_text(encoding="utf-8-sig"))
    except FileNotFoundError as exc:
        raise InvalidInput.single("data", f"file {data_file} not found") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput.single("data", f"not UTF-8 JSON: {exc}") from exc
    platform = _platform()
    platform.check_ready()
    issued = issue_licence(platform, kind=kind, data=data, department=department)
    tmp = out_file.with_name(out_file.name + ".part")
    tmp.write_bytes(issued.pdf)
    tmp.replace(out_file)
    click.echo(f"issued {issued.kind} version {issued.version:03d}; PDF written to {out_file}", err=True)
    click.echo(issued.identifier)


@main.command()
@click.argument("pdf_file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--qr", "qr", default=None, help="QR text as scanned (the link or its payload).")
@click.option("--offline", is_flag=True, help="Check only signatures and trust, not the register's status.")
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
@_domain_errors
def verify(pdf_file: Path | None, qr: str | None, offline: bool, as_json: bool) -> None:
    """Verify a licence PDF or a scanned QR text; exit 0 only when it is valid."""
    if (pdf_file is None) == (qr is None):
        raise InvalidInput.single("evidence", "give either a PDF file or --qr TEXT")
    platform = _platform()
    if qr is not None:
        report = check_qr(platform, qr, offline=offline)
    else:
        assert pdf_file is not None
        try:
            pdf = pdf_file.read_bytes()
        except OSError as exc:
            raise InvalidInput.single("file", f"cannot read {pdf_file}: {exc.strerror}") from exc
        report = check_pdf(platform, pdf, offline=offline)
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(f"verdict: {report.verdict}")
        for check in report.checks:
            mark = {True: "ok  ", False: "FAIL", None: "--  "}[check.passed]
            click.echo(f"  [{mark}] {check.name}: {check.reason}")
        if report.licence:
            lic = report.licence
            click.echo(f"licence: {lic['identifier']} {lic['kind_label']} holder {lic['holder']} issuer {lic['issuer']['name'] or lic['issuer']['code']}")
    sys.exit(0 if report.valid else 1)


if __name__ == "__main__":  # pragma: no cover
    main()
