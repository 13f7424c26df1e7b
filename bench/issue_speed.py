"""Issuance speed against the naive pipeline, measured in one run on one core.

Run: .venv/bin/python bench/issue_speed.py [--n 40] [--kind id_card|all] [--cpu 0] [--json out.json]

Two pipelines on the same data, alternating licence by licence so that both see the same machine:

- naive: sign the QR payload, build the QR with qrcode's ``make()`` (automatic mask selection),
  draw the page with this project's reportlab layout, embed licence.json and certify with
  ``pyhanko.sign.signers.sign_pdf`` using pyhanko's in-process RFC 3161 ``DummyTimeStamper``
  (no ``bytes_reserved``: pyhanko estimates the size with a dry run). Signer and time-stamper
  objects are built once. No database.
- ours: ``services.issuing.issue`` in-process with the database (SQLite in a temporary directory
  unless DATABASE_URL is set): validation, identifier, payload, QR, page, PAdES certification
  with time-stamp, PDF store, licence record and audit events.

Both are timed with wall clock and with process CPU time (the machine may be shared: CPU time is
what one core spends, wall time includes waiting for it; fsync's kernel work counts, its wait for
the disk does not). Medians and the ratios are printed, and a stage breakdown of ours:

- the pure stages (validation and payload, QR, page, PDF preparation, CMS) are timed by running
  the same core functions on their own;
- the storage stages are timed inside the measured issues themselves, by wrapping the functions
  ``issue()`` calls: ``store: PDF file`` (PdfStore.put: written, fsynced, renamed, folder
  fsynced), ``db: department and key look-ups``, ``db: status position`` and ``db+audit: issue
  transaction`` (licence, holders, claim codes, audit events, commit). ``store+db+audit`` is
  their sum (per issue, then the median);
- ``other`` is what is left of the issue's median by difference (JSON, hashes, records, logging).

A fresh store creates a shard folder for almost every PDF (65,536 of them), so the PDF stage
here includes syncing new folders, which a store in service mostly skips. ``--cpu N`` pins the
process to one CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from common import department_code, emit, load_sample, median_of, throwaway_platform


def _timed(fn: Callable[[], object]) -> tuple[float, float]:
    w, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w, time.process_time() - c


STORAGE_STAGES = ("store: PDF file", "db: department and key look-ups", "db: status position", "db+audit: issue transaction")


@contextmanager
def storage_timers(platform: Any, spent: dict[str, list[float]]) -> Iterator[Callable[[], None]]:
    """Wrap the storage calls ``issue()`` makes so their CPU time is added up per issue; the
    yielded function closes one issue's account (appends to ``spent``, stage by stage)."""
    from licence_svc.services import issuing

    current = dict.fromkeys(STORAGE_STAGES, 0.0)

    def timed(stage: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            c = time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                current[stage] += time.process_time() - c

        return wrapper

    patches = [
        (platform.pdfs, "put", "store: PDF file"),
        (platform, "signer_for", "db: department and key look-ups"),
        (issuing, "resolve_department", "db: department and key look-ups"),
        (issuing, "free_status_index", "db: status position"),
        (issuing, "_store", "db+audit: issue transaction"),
    ]
    saved = [(obj, name, getattr(obj, name)) for obj, name, _ in patches]
    for obj, name, stage in patches:
        setattr(obj, name, timed(stage, getattr(obj, name)))

    def close_issue() -> None:
        for stage in STORAGE_STAGES:
            spent[stage].append(current[stage])
            current[stage] = 0.0
        spent["store+db+audit"].append(sum(spent[stage][-1] for stage in STORAGE_STAGES))

    try:
        yield close_issue
    finally:
        for obj, name, original in saved:
            if obj is platform or obj is platform.pdfs:
                delattr(obj, name)  # the instance attribute goes, the class's method is back
            else:
                setattr(obj, name, original)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=40, help="licences per pipeline (and kind)")
    ap.add_argument("--kind", default="id_card", help="a kind, or 'all'")
    ap.add_argument("--cpu", type=int, default=None, help="pin the process to this CPU")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    platform, _ = throwaway_platform()

    import qrcode
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.embed import EmbeddedFileObject, EmbeddedFileParams, FileSpec, embed_file
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
    from pyhanko_certvalidator.registry import SimpleCertificateStore
    from qrcode.constants import ERROR_CORRECT_M
    from qrcode.util import MODE_ALPHA_NUM, QRData

    from licence_svc.core import fonts, pdfsign, render
    from licence_svc.core.identifiers import new_licence_id
    from licence_svc.core.kinds import KINDS, validate
    from licence_svc.core.masking import mask_name
    from licence_svc.core.payload import Claims, data_digest, qr_text, sign_claims
    from licence_svc.core.qr import QrMatrix, qr_matrix
    from licence_svc.services.issuing import issue
    from licence_svc.storage.models import Department

    fonts.ensure_loaded()
    kinds = list(KINDS) if args.kind == "all" else [args.kind]

    def naive_qr(text: str) -> QrMatrix:
        qr = qrcode.QRCode(version=None, error_correction=ERROR_CORRECT_M, box_size=1, border=0)
        qr.add_data(QRData(text, mode=MODE_ALPHA_NUM))
        qr.make()  # best fit and automatic mask selection
        modules = tuple(tuple(bool(m) for m in row) for row in qr.modules)
        return QrMatrix(qr.version, len(modules), modules)

    results: dict[str, Any] = {"n": args.n, "database": platform.settings.database_url.split(":", 1)[0], "kinds": {}}
    all_naive_w: list[float] = []
    all_ours_w: list[float] = []
    all_naive_c: list[float] = []
    all_ours_c: list[float] = []
    for kind in kinds:
        spec = KINDS[kind]
        dept = Department.get_by_id(department_code(kind))
        data = load_sample(kind)
        _, fast_signer, creds = platform.signer_for(dept)
        root = pdfsign.to_asn1_cert(platform.root_cert())
        tsa = platform.keys.tsa()
        naive_signer = signers.SimpleSigner(
            signing_cert=pdfsign.to_asn1_cert(creds.cert),
            signing_key=pdfsign._to_asn1_key(creds),
            cert_registry=SimpleCertificateStore.from_certs([root]),
        )
        naive_tsa = DummyTimeStamper(
            tsa_cert=pdfsign.to_asn1_cert(tsa.cert), tsa_key=pdfsign._to_asn1_key(tsa), certs_to_embed=[root]
        )

        def naive_once() -> bytes:
            clean = validate(kind, data, can_render=fonts.can_render)
            lid = new_licence_id(spec.kind_code, dept.code)
            claims = Claims(str(lid), kind, dept.code, int(time.time()), None, mask_name(spec.holder_name(clean)), data_digest(clean), 7)
            text = qr_text(platform.settings.base_url, sign_claims(claims, creds.key, creds.kid))  # type: ignore[arg-type]
            fast_qr, render.qr_matrix = render.qr_matrix, naive_qr  # the page with qrcode's own make()
            try:
                page = render.render_pdf(render.RenderRequest(spec, clean, str(lid), dept.name, date.today(), text))
            finally:
                render.qr_matrix = fast_qr
            attachment = json.dumps({"identifier": str(lid), "data": clean, "qr_text": text}, ensure_ascii=False, indent=1).encode()
            writer = IncrementalPdfFileWriter(__import__("io").BytesIO(page))
            stream = EmbeddedFileObject.from_file_data(
                writer, data=attachment, mime_type="application/json", params=EmbeddedFileParams(embed_size=True, embed_checksum=True)
            )
            embed_file(
                writer,
                FileSpec(file_spec_string="licence.json", file_name="licence.json", embedded_data=stream, af_relationship=generic.NameObject("/Data")),
            )
            meta = signers.PdfSignatureMetadata(
                field_name="LicenceSignature", md_algorithm="sha256", subfilter=fields.SigSeedSubFilter.PADES,
                certify=True, docmdp_permissions=fields.MDPPerm.NO_CHANGES, reason="bench", location=dept.name, name=dept.name,
            )
            out = signers.sign_pdf(writer, meta, signer=naive_signer, timestamper=naive_tsa)
            return out.getvalue()  # type: ignore[no-any-return]

        def ours_once() -> None:
            issue(platform, kind=kind, data=data, department=dept.code)

        naive_once(), ours_once()  # warm-up: fonts, keys, QR layouts, SQL
        nw: list[float] = []
        nc: list[float] = []
        ow: list[float] = []
        oc: list[float] = []
        storage: dict[str, list[float]] = {k: [] for k in (*STORAGE_STAGES, "store+db+audit")}
        with storage_timers(platform, storage) as close_issue:
            for _ in range(args.n):  # alternate, so both pipelines see the same load
                w, c = _timed(naive_once)
                nw.append(w), nc.append(c)
                w, c = _timed(ours_once)
                ow.append(w), oc.append(c)
                close_issue()

        # Where ours spends its time, stage by stage (same functions issue() calls).
        stages: dict[str, list[float]] = {k: [] for k in ("validate+payload", "qr_matrix", "render_page_without_qr", "pdf_prepare_and_digest", "cms_and_timestamp")}
        issue_cpu = statistics.median(oc)
        for _ in range(max(5, args.n // 2)):
            c0 = time.process_time()
            clean = validate(kind, data, can_render=fonts.can_render)
            lid = new_licence_id(spec.kind_code, dept.code)
            claims = Claims(str(lid), kind, dept.code, int(time.time()), None, mask_name(spec.holder_name(clean)), data_digest(clean), 7)
            text = qr_text(platform.settings.base_url, sign_claims(claims, creds.key, creds.kid))  # type: ignore[arg-type]
            c1 = time.process_time()
            qr_matrix(text)
            c2 = time.process_time()
            page = render.render_pdf(render.RenderRequest(spec, clean, str(lid), dept.name, date.today(), text))
            c3 = time.process_time()
            attachment = json.dumps({"identifier": str(lid), "data": clean, "qr_text": text}, ensure_ascii=False, indent=1).encode()
            pdfsign.sign_licence_pdf(page, attachment=attachment, signer=fast_signer, reason="bench")
            c4 = time.process_time()
            fast_signer.cms.sign(bytes(32))
            c5 = time.process_time()
            cms = c5 - c4
            stages["validate+payload"].append(c1 - c0)
            stages["qr_matrix"].append(c2 - c1)
            stages["render_page_without_qr"].append(c3 - c2 - (c2 - c1))
            stages["pdf_prepare_and_digest"].append(c4 - c3 - cms)
            stages["cms_and_timestamp"].append(cms)
        med = {k: statistics.median(v) for k, v in stages.items() if v}
        med.update({k: statistics.median(v) for k, v in storage.items()})
        med["other (by difference)"] = issue_cpu - sum(v for k, v in med.items() if k not in STORAGE_STAGES)
        kind_result = {
            "naive_median_ms": {"wall": median_of(nw), "cpu": median_of(nc)},
            "ours_median_ms": {"wall": median_of(ow), "cpu": median_of(oc)},
            "speedup": {
                "wall": round(statistics.median(nw) / statistics.median(ow), 2),
                "cpu": round(statistics.median(nc) / statistics.median(oc), 2),
            },
            "ours_stages_cpu_median_ms": {k: round(v * 1000, 2) for k, v in med.items()},
        }
        results["kinds"][kind] = kind_result
        all_naive_w += nw
        all_ours_w += ow
        all_naive_c += nc
        all_ours_c += oc
        print(f"{kind}: naive {kind_result['naive_median_ms']} ms, ours {kind_result['ours_median_ms']} ms, speed-up {kind_result['speedup']}", flush=True)
    results["overall"] = {
        "naive_median_ms": {"wall": median_of(all_naive_w), "cpu": median_of(all_naive_c)},
        "ours_median_ms": {"wall": median_of(all_ours_w), "cpu": median_of(all_ours_c)},
        "speedup": {
            "wall": round(statistics.median(all_naive_w) / statistics.median(all_ours_w), 2),
            "cpu": round(statistics.median(all_naive_c) / statistics.median(all_ours_c), 2),
        },
        "licences_per_second_one_core": {
            "naive": round(1 / statistics.median(all_naive_c), 1),
            "ours": round(1 / statistics.median(all_ours_c), 1),
        },
    }
    emit(results, args.json, ensure_ascii=False)


if __name__ == "__main__":
    main()
