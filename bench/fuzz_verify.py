"""Fuzz bench: a million mutated QR texts through ``verify_qr`` and ten thousand mutated PDFs through
``verify_pdf``, on every core, counting per class of input how many were tried, how fast, how many
crashed (any exception but a LicenceError), hung, or were taken as genuine though their signed
bytes changed. The last three must be 0.

The genuine inputs come from an in-memory platform (tests/fuzz/world.py: pure core, no database),
the mutators from tests/fuzz/mutate.py, the judging from tests/fuzz/runner.py, so the bench and
the fuzz tests in the suite share one definition of the rule.

QR texts are verified in the lane process under a 2 s timer each; PDFs in a forked child of the
lane limited like the upload sandbox (services.sandbox: address space and CPU, here per file) with
a wall-clock limit, killed and replaced when a file overruns. Each QR text is checked against one
of three status sources in turn: none (offline), the signed status list, and a register that
knows the genuine licences.

Run: .venv/bin/python bench/fuzz_verify.py [--qr 1000000] [--pdf 10000] [--lanes 2]
     [--json bench/results/fuzz_verify.json]
"""

from __future__ import annotations

import argparse
import base64
import collections
import hashlib
import multiprocessing
import os
import platform as platform_module
import random
import sys
import time
import traceback
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from common import ROOT, emit

sys.path.insert(0, str(ROOT))

import cbor2  # noqa: E402

from licence_svc.core import annotate, cose  # noqa: E402
from licence_svc.core.payload import payload_from_text  # noqa: E402
from licence_svc.core.verify import verify_pdf, verify_qr  # noqa: E402
from licence_svc.services import sandbox as upload_sandbox  # noqa: E402
from tests.fuzz import mutate  # noqa: E402
from tests.fuzz.runner import CRASH, DIED, HANG, Outcome, Sandbox, quiet_pyhanko, timed_outcome  # noqa: E402
from tests.fuzz.world import BASE_URL, World, build_world, copy_section, page_for  # noqa: E402

QR_TIMEOUT = 2.0
PDF_TIMEOUT = 30.0  # the upload sandbox's wall-clock limit (services.sandbox.WALL_SECONDS)
SOURCES = ("offline", "status_list", "register")
REPRODUCERS_KEPT = 5
LISTED = ("suspended", "revoked", "superseded")  # what the world's status list says of three licences

# Input classes: name → (share of the inputs of its kind, whether a genuine key re-signed it).
QR_CLASSES = {
    "qr_bitflip": (0.16, False),  # bits of the signed COSE bytes flipped, bytes inserted, cut, ...
    "qr_truncated": (0.08, False),  # the text cut anywhere
    "qr_text_edit": (0.14, False),  # characters inserted, deleted, swapped, case changed
    "qr_cose_structure": (0.10, False),  # tag, array, headers, signature length
    "qr_claims_resigned": (0.22, True),  # claims of any type and range, signed with the genuine key
    "qr_cbor_resigned": (0.10, True),  # bytes of the claims mutated, signed with the genuine key
    "qr_random_base32": (0.08, False),
    "qr_hostile_link": (0.10, False),  # other hosts, several /V/, queries, unicode, absurd lengths
    "qr_genuine": (0.02, False),  # control: must all be genuine
}
PDF_CLASSES = {
    "pdf_mutated": 0.45,  # bytes and tokens of a genuine licence or annotated copy
    "pdf_signed_byte": 0.10,  # one bit inside the signed byte range
    "pdf_hostile_alone": 0.15,  # xref/object streams, nesting, lengths, bombs, loops, ...
    "pdf_hostile_update": 0.20,  # the same appended to a genuine file as an incremental update
    "pdf_attachment_signed": 0.08,  # licence.json of any shape, certified for real
    "pdf_genuine": 0.02,  # control
}


# -- one lane (a process per core) ------------------------------------------------------------------


class Tally:
    """Counts for one input class."""

    def __init__(self) -> None:
        self.tried = 0
        self.seconds = 0.0
        self.outcomes: collections.Counter[str] = collections.Counter()
        self.crashes: collections.Counter[str] = collections.Counter()
        self.hangs = 0
        self.accepted = 0  # taken as genuine (valid or unchecked)
        self.accepted_changed = 0  # ... though the signed content changed: a failure of the rule
        self.accepted_resigned = 0  # re-signed with the genuine key and accepted: legitimate offline
        self.control_failed = 0  # genuine inputs (the control classes) not taken as genuine
        self.generator_errors = 0
        self.reproducers: list[dict[str, Any]] = []

    def add(self, outcome: Outcome, seconds: float, *, changed: bool, resigned: bool, source: str, sample: Callable[[], dict[str, Any]]) -> None:
        self.tried += 1
        self.seconds += seconds
        self.outcomes[outcome.kind if outcome.kind != "verdict" else outcome.detail] += 1
        bad = None
        if outcome.kind in (CRASH, DIED):
            self.crashes[outcome.signature()] += 1
            bad = "crash"
        elif outcome.kind == HANG:
            self.hangs += 1
            bad = "hang"
        elif outcome.accepted:
            self.accepted += 1
            if changed and (not resigned or source == "register"):
                # re-signed claims are genuine offline; the register binds the issued payload
                self.accepted_changed += 1
                bad = "accepted"
            elif changed:
                self.accepted_resigned += 1
        if bad and len(self.reproducers) < REPRODUCERS_KEPT:
            self.reproducers.append({"problem": bad, "source": source, "outcome": outcome.detail[-1500:], **sample()})

    def generator_error(self, trace: str) -> None:
        """Making the input failed (the mutator's fault, not the pipeline's)."""
        self.generator_errors += 1
        if len(self.reproducers) < REPRODUCERS_KEPT:
            self.reproducers.append({"problem": "bench generator error", "traceback": trace[-1500:]})

    def merge(self, other: Tally) -> None:
        self.tried += other.tried
        self.seconds += other.seconds
        self.outcomes.update(other.outcomes)
        self.crashes.update(other.crashes)
        self.hangs += other.hangs
        self.accepted += other.accepted
        self.accepted_changed += other.accepted_changed
        self.accepted_resigned += other.accepted_resigned
        self.control_failed += other.control_failed
        self.generator_errors += other.generator_errors
        self.reproducers += other.reproducers[: REPRODUCERS_KEPT - len(self.reproducers)]


def _shares(classes: dict[str, float], total: int) -> dict[str, int]:
    counts = {name: int(total * share) for name, share in classes.items()}
    first = next(iter(counts))
    counts[first] += total - sum(counts.values())
    return counts


def _schedule(counts: dict[str, int], rng: random.Random) -> list[str]:
    order = [name for name, n in counts.items() for _ in range(n)]
    rng.shuffle(order)  # interleaved: every class sees the same machine load
    return order


def _content(text: str) -> tuple[bytes, bytes] | None:
    """What the signature covers (protected header, payload), if the text parses that far."""
    try:
        msg = cose.parse_sign1(payload_from_text(text))
    except Exception:  # noqa: BLE001 - cannot be genuine either
        return None
    return msg.protected, msg.payload


def _qr_input(world: World, name: str, rng: random.Random) -> tuple[str, str]:
    """(text, kind of the licence it came from)."""
    kind = rng.choice(sorted(world.licences))
    lic = world.licences[kind]
    if name == "qr_bitflip":
        signed = lic.signed
        for _ in range(rng.choice([1, 1, 2, 3])):
            signed = mutate.mutate_bytes(signed, rng)
        return world.text(signed), kind
    if name == "qr_truncated":
        return lic.qr_text[: rng.randrange(len(lic.qr_text))], kind
    if name == "qr_text_edit":
        text = lic.qr_text
        for _ in range(rng.choice([1, 1, 2, 4])):
            text = mutate.mutate_text(text, rng)
        return text, kind
    if name == "qr_cose_structure":
        return world.text(mutate.mutate_cose(lic.signed, rng)), kind
    if name == "qr_claims_resigned":
        claims = mutate.mutate_claims(world.claims_map(kind), rng, now=int(world.now.timestamp()))
        return world.text(world.sign_payload(mutate.encode_claims(claims, rng))), kind
    if name == "qr_cbor_resigned":
        raw = lic.claims_cbor
        for _ in range(rng.choice([1, 1, 2, 4])):
            raw = mutate.mutate_bytes(raw, rng)
        return world.text(world.sign_payload(raw)), kind
    if name == "qr_random_base32":
        return mutate.random_b32(rng), kind
    if name == "qr_hostile_link":
        return mutate.hostile_link(lic.signed, rng), kind
    return lic.qr_text, kind


def _pdf_input(world: World, name: str, rng: random.Random, pages: dict[str, bytes]) -> tuple[bytes, bytes]:
    """(pdf, the genuine file it came from, or b"" for none)."""
    base_name = rng.choice(["licence", "copy", "long_term"])
    original = world.pdfs[base_name]
    if name == "pdf_mutated":
        pdf = original
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            pdf = mutate.mutate_pdf(pdf, rng)
        return pdf, original
    if name == "pdf_signed_byte":
        return mutate.flip_signed_byte(original, rng), original
    if name == "pdf_hostile_alone":
        return mutate.hostile_structure(rng), b""
    if name == "pdf_hostile_update":
        return original + mutate.hostile_update(original, rng), original
    if name == "pdf_attachment_signed":
        copy = rng.random() < 0.5
        lic = world.licences["id_card"]
        doc: dict[str, Any] = dict(lic.attachment)
        if copy:
            section = copy_section(world, expires_at=world.now + timedelta(days=3))
            doc["copy"] = {**section.as_attachment(), "made_at": world.now.isoformat()}
        attachment = mutate.attachment_bytes_variant(mutate.mutate_attachment(doc, rng), rng)
        return world.sign_pdf(pages["copy" if copy else "licence"], attachment, copy=copy), b""
    return original, b""


def lane(index: int, qr_total: int, pdf_total: int, seed: int) -> dict[str, Any]:
    """Run this lane's share of every class; returns the tallies (as plain data) and its seconds."""
    quiet_pyhanko()
    world = LANE_WORLD
    sources = world.sources()
    rng = random.Random(seed)
    genuine = {kind: (cbor2.loads(lic.signed).value[0], cbor2.loads(lic.signed).value[2]) for kind, lic in world.licences.items()}
    tallies: dict[str, Tally] = collections.defaultdict(Tally)
    started = time.perf_counter()

    for i, name in enumerate(_schedule(_shares({k: v[0] for k, v in QR_CLASSES.items()}, qr_total), rng)):
        try:
            text, kind = _qr_input(world, name, rng)
        except Exception:  # noqa: BLE001 - a bug of the bench's own: counted and shown, not fatal
            tallies[name].generator_error(traceback.format_exc())
            continue
        source = SOURCES[i % len(SOURCES)]
        t = time.perf_counter()
        outcome = timed_outcome(lambda: verify_qr(text, trust=world.trust, now=world.now, source=sources[source], base_url=BASE_URL), QR_TIMEOUT)
        elapsed = time.perf_counter() - t
        changed = _content(text) != genuine[kind] if outcome.accepted else False
        tallies[name].add(outcome, elapsed, changed=changed, resigned=QR_CLASSES[name][1], source=source, sample=lambda: {"text": text[:3000]})
        if name == "qr_genuine" and not (outcome.accepted or (source == "status_list" and outcome.detail in LISTED)):
            tallies[name].control_failed += 1  # a genuine text refused (the status list marks three of them)
    qr_seconds = time.perf_counter() - started

    pages = {
        "licence": page_for(world.licences["id_card"], now=world.now),
        "copy": page_for(world.licences["id_card"], now=world.now, overlay=annotate.overlay(copy_section(world, expires_at=datetime(2030, 1, 1, tzinfo=timezone.utc)))),
    }

    def target(item: tuple[bytes, str]) -> Any:
        pdf, source = item
        return verify_pdf(pdf, trust=world.trust, now=world.now, source=sources[source])

    pdf_started = time.perf_counter()
    with Sandbox(target, timeout=PDF_TIMEOUT, memory=upload_sandbox.MEMORY_LIMIT, cpu=upload_sandbox.CPU_SECONDS) as box:
        for i, name in enumerate(_schedule(_shares(PDF_CLASSES, pdf_total), rng)):
            try:
                pdf, original = _pdf_input(world, name, rng, pages)
            except Exception:  # noqa: BLE001 - as above
                tallies[name].generator_error(traceback.format_exc())
                continue
            source = ("offline", "register")[i % 2]
            t = time.perf_counter()
            outcome = box.run((pdf, source))
            elapsed = time.perf_counter() - t
            # a hostile file of its own or a re-certified one never had genuine signed bytes
            changed = mutate.signed_bytes_changed(original, pdf) if original else name != "pdf_genuine"
            resigned = name == "pdf_attachment_signed"  # certified with the genuine key: acceptable offline
            tallies[name].add(outcome, elapsed, changed=changed, resigned=resigned, source=source, sample=lambda: _pdf_sample(pdf, name, index))
            if name == "pdf_genuine" and not outcome.accepted:
                tallies[name].control_failed += 1
        restarts = box.restarts
    return {
        "tallies": {name: vars(t) for name, t in tallies.items()},
        "qr_seconds": qr_seconds,
        "pdf_seconds": time.perf_counter() - pdf_started,
        "pdf_child_restarts": restarts,
    }


def _pdf_sample(pdf: bytes, name: str, lane_index: int) -> dict[str, Any]:
    """A reproducer: small files inline, larger ones written under the system temp directory."""
    digest = hashlib.sha256(pdf).hexdigest()
    if len(pdf) <= 4096:
        return {"pdf_base64": base64.b64encode(pdf).decode("ascii"), "sha256": digest}
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"fuzz_verify-{name}-{digest[:16]}.pdf"
    path.write_bytes(pdf)
    return {"pdf_file": str(path), "sha256": digest, "bytes": len(pdf)}


LANE_WORLD: World  # built once in the parent, inherited by the forked lanes


def _lane_process(queue: Any, args: tuple[int, int, int, int]) -> None:
    try:
        queue.put(lane(*args))
    except BaseException as exc:  # the bench itself failed: say so rather than wait forever
        queue.put({"error": repr(exc)})
        raise


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--qr", type=int, default=1_000_000, help="QR texts in all")
    ap.add_argument("--pdf", type=int, default=10_000, help="PDFs in all")
    ap.add_argument("--lanes", type=int, default=min(2, len(os.sched_getaffinity(0))))
    ap.add_argument("--seed", type=int, default=20261207)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    global LANE_WORLD
    started = time.perf_counter()
    LANE_WORLD = build_world()
    jobs = [(i, args.qr // args.lanes + (i < args.qr % args.lanes), args.pdf // args.lanes + (i < args.pdf % args.lanes), args.seed + i) for i in range(args.lanes)]
    # Plain processes, not a Pool: a pool's workers are daemons, which may not start the PDF child.
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    lanes = [ctx.Process(target=_lane_process, args=(queue, job)) for job in jobs]
    for process in lanes:
        process.start()
    results = [queue.get() for _ in lanes]
    for process in lanes:
        process.join()
    failed = [r["error"] for r in results if "error" in r]
    if failed:
        raise SystemExit(f"a lane failed: {failed}")
    wall = time.perf_counter() - started

    merged: dict[str, Tally] = {}
    for result in results:
        for name, data in result["tallies"].items():
            tally = Tally()
            tally.__dict__.update(data)
            tally.outcomes = collections.Counter(data["outcomes"])
            tally.crashes = collections.Counter(data["crashes"])
            merged.setdefault(name, Tally()).merge(tally)
    qr_seconds = max(r["qr_seconds"] for r in results)
    pdf_seconds = max(r["pdf_seconds"] for r in results)

    classes: dict[str, Any] = {}
    for name in [*QR_CLASSES, *PDF_CLASSES]:
        t = merged.get(name, Tally())
        classes[name] = {
            "inputs": t.tried,
            # per core: inputs over the seconds spent verifying them (mutating them not counted)
            "inputs_per_s_per_core": round(t.tried / t.seconds, 1) if t.seconds else None,
            "crashes": sum(t.crashes.values()),
            "hangs": t.hangs,
            "accepted_as_genuine": t.accepted,
            "accepted_with_changed_signed_bytes": t.accepted_changed,
            "accepted_resigned_by_genuine_key_offline": t.accepted_resigned,
            "genuine_refused": t.control_failed,
            "bench_generator_errors": t.generator_errors,
            "outcomes": dict(t.outcomes.most_common()),
            "crash_kinds": dict(t.crashes.most_common(10)),
            "reproducers": t.reproducers,
        }
    qr_total = sum(classes[n]["inputs"] for n in QR_CLASSES)
    pdf_total = sum(classes[n]["inputs"] for n in PDF_CLASSES)
    totals = {
        "qr_inputs": qr_total,
        "qr_inputs_per_s_all_lanes": round(qr_total / qr_seconds, 1),
        "pdf_inputs": pdf_total,
        "pdf_inputs_per_s_all_lanes": round(pdf_total / pdf_seconds, 1),
        "crashes": sum(c["crashes"] for c in classes.values()),
        "hangs": sum(c["hangs"] for c in classes.values()),
        "accepted_with_changed_signed_bytes": sum(c["accepted_with_changed_signed_bytes"] for c in classes.values()),
        "genuine_refused": sum(c["genuine_refused"] for c in classes.values()),
        "bench_generator_errors": sum(c["bench_generator_errors"] for c in classes.values()),
        "pdf_child_restarts": sum(r["pdf_child_restarts"] for r in results),
        "wall_seconds": round(wall, 1),
    }
    results_doc = {
        "rule": "every input ends in a Report or a LicenceError within its time limit; no input whose signed bytes changed is taken as genuine (valid or unchecked)",
        "totals": totals,
        "passed": not (totals["crashes"] or totals["hangs"] or totals["accepted_with_changed_signed_bytes"] or totals["genuine_refused"]),
        "classes": classes,
        "limits": {
            "qr_seconds_each": QR_TIMEOUT,
            "pdf_wall_seconds_each": PDF_TIMEOUT,
            "pdf_cpu_seconds_each": upload_sandbox.CPU_SECONDS,
            "pdf_address_space_bytes": upload_sandbox.MEMORY_LIMIT,
        },
        "environment": {
            "lanes": args.lanes,
            "seed": args.seed,
            "python": platform_module.python_version(),
            "cpus": os.cpu_count(),
            "run_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        },
    }
    emit(results_doc, args.json, ensure_ascii=False)
    if not results_doc["passed"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
