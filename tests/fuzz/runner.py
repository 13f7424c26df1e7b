"""Running untrusted inputs through the verification pipeline and saying how each one ended.

The rule under test: every input ends in a verdict (a :class:`Report` that also serialises) or a
:class:`LicenceError`; any other exception is a crash, and an input that does not finish within
its time limit is a hang.

:class:`Sandbox` runs a function on each input in a forked child process with memory and CPU
limits, and kills and replaces the child when an input overruns: the PDF fuzz uses it, as the
HTTP upload path parses PDFs in a limited process too. :func:`time_limit` is the in-process
variant (an interval timer) for the cheap QR inputs.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import resource
import signal
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from licence_svc.core.verify import Report
from licence_svc.errors import LicenceError

VERDICT, ERROR, CRASH, HANG, DIED = "verdict", "error", "crash", "hang", "died"
GENUINE = ("valid", "unchecked")  # verdicts that vouch for the evidence


@dataclass(frozen=True)
class Outcome:
    """How one input ended: ``kind`` is verdict / error / crash / hang / died; ``detail`` the
    verdict, the error class and message, or the traceback."""

    kind: str
    detail: str

    @property
    def ok(self) -> bool:
        return self.kind in (VERDICT, ERROR)

    @property
    def accepted(self) -> bool:
        """Taken as genuine: valid, or ``unchecked`` (genuine, status not asked)."""
        return self.kind == VERDICT and self.detail in GENUINE

    def signature(self) -> str:
        """What identifies a crash for counting: exception type and the innermost frame."""
        if self.kind != CRASH:
            return self.kind
        lines = [line for line in self.detail.strip().splitlines() if line.startswith('  File "')]
        where = lines[-1].strip() if lines else ""
        return f"{self.detail.strip().splitlines()[-1].split(':')[0]} at {where}"


class Hang(BaseException):
    """Raised by the interval timer; a BaseException so no ``except Exception`` in the code
    under test can swallow it."""


def _alarm(signum: int, frame: Any) -> None:
    raise Hang()


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`Hang` in this (main) thread after ``seconds`` of wall time."""
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def outcome_of(fn: Callable[[], Any]) -> Outcome:
    """Run ``fn`` (which returns a Report, or a string for the image reader, or anything for the
    document openers) and classify how it ended. A report must also serialise, as the API and the
    pages do with it."""
    try:
        result = fn()
        if isinstance(result, Report):
            json.dumps(result.as_dict(), ensure_ascii=False).encode("utf-8")  # as the API sends it
            return Outcome(VERDICT, result.verdict)
        return Outcome(VERDICT, type(result).__name__)
    except LicenceError as exc:
        return Outcome(ERROR, f"{type(exc).__name__}: {exc.detail[:200]}")
    except Hang:
        raise
    except BaseException:  # noqa: BLE001 - anything else is what we are looking for
        return Outcome(CRASH, traceback.format_exc())


def timed_outcome(fn: Callable[[], Any], seconds: float) -> Outcome:
    """:func:`outcome_of` under an in-process time limit."""
    try:
        with time_limit(seconds):
            return outcome_of(fn)
    except Hang:
        return Outcome(HANG, f"over {seconds} s")


# -- a child process with limits ----------------------------------------------------------------


def quiet_pyhanko() -> None:
    """pyhanko logs every malformed input it meets, with a traceback: thousands of them here."""
    for name in ("pyhanko", "pyhanko_certvalidator"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def _cpu_used() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _address_space() -> int:
    """Bytes of address space this process has mapped now (/proc/self/statm: its size in pages)."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[0]) * resource.getpagesize()


def _child(conn: Connection, target: Callable[[Any], Outcome], memory: int, cpu: int) -> None:
    quiet_pyhanko()
    # ``memory`` more than the parent had mapped when it forked us: a forked child inherits the
    # test session's address space, which grows with every module run before this one (threads,
    # browsers, caches), so an absolute limit left a late child no room at all.
    limit = _address_space() + memory
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the parent, which ends us
    while True:
        try:
            item = conn.recv()
        except EOFError:
            return
        if item is None:
            return
        # RLIMIT_CPU counts the process's whole life: set afresh, it is a limit per item.
        soft = int(_cpu_used()) + 1 + cpu
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard if hard == resource.RLIM_INFINITY else max(hard, soft)))
        conn.send(outcome_of(lambda: target(item)))


class Sandbox:
    """A forked child that applies ``target`` to each item sent, under an address-space limit
    (``memory`` bytes beyond what it inherited), a CPU limit (``cpu`` seconds) and a wall-clock ``timeout`` per item. ``target`` is inherited
    through fork, so it may close over anything (a trust store, keys).

    :meth:`run` returns the item's :class:`Outcome`; an overrun item gives ``hang`` (the child is
    killed and replaced), a child that dies (a signal, the CPU limit) gives ``died``.
    """

    def __init__(self, target: Callable[[Any], Any], *, timeout: float = 10.0, memory: int = 1 << 30, cpu: int = 60) -> None:
        self.target, self.timeout, self.memory, self.cpu = target, timeout, memory, cpu
        self._ctx = multiprocessing.get_context("fork")
        self._proc: Any = None
        self._conn: Connection | None = None
        self.restarts = 0

    def _start(self) -> None:
        parent, child = self._ctx.Pipe()
        self._proc = self._ctx.Process(target=_child, args=(child, self.target, self.memory, self.cpu), daemon=True)
        self._proc.start()
        child.close()
        self._conn = parent

    def _kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.join(5)
        if self._conn is not None:
            self._conn.close()
        self._proc = self._conn = None
        self.restarts += 1

    def run(self, item: Any) -> Outcome:
        if self._proc is None or not self._proc.is_alive():
            if self._proc is not None:
                self._kill()
            self._start()
        assert self._conn is not None
        try:
            self._conn.send(item)
            if self._conn.poll(self.timeout):
                result = self._conn.recv()
                assert isinstance(result, Outcome)
                return result
        except (EOFError, BrokenPipeError, ConnectionResetError):
            code = self._proc.exitcode if self._proc is not None else None
            self._kill()
            return Outcome(DIED, f"child died (exit code {code})")
        self._kill()
        return Outcome(HANG, f"over {self.timeout} s")

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.send(None)
            except (BrokenPipeError, OSError):
                pass
        if self._proc is not None:
            self._proc.join(2)
            if self._proc.is_alive():
                self._proc.kill()
        self._proc = self._conn = None

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
