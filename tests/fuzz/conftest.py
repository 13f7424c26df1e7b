"""Fixtures of the fuzz tests: the genuine world they mutate, the status sources they verify
against, and a limited child process for PDFs and images.

Example counts are sized so the whole directory runs in well under a minute on two shared cores;
``LICENCE_FUZZ=deep`` multiplies them by 20 for a longer hunt (``bench/fuzz_verify.py`` is the
million-input run).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from licence_svc.core.verify import StatusSource, verify_pdf
from tests.fuzz.runner import Sandbox, quiet_pyhanko
from tests.fuzz.world import World, build_world

settings.register_profile(
    "fuzz",
    deadline=None,  # a PDF takes 20-100 ms, a first example more: time is bounded per input instead
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    derandomize=False,
    print_blob=True,
)
settings.register_profile("fuzz-deep", parent=settings.get_profile("fuzz"))
PROFILE = "fuzz-deep" if os.environ.get("LICENCE_FUZZ") == "deep" else "fuzz"
SCALE = 20 if PROFILE == "fuzz-deep" else 1


def fuzz_settings(examples: int) -> settings:
    """The fuzz profile with ``examples`` examples (times 20 with LICENCE_FUZZ=deep)."""
    return settings(settings.get_profile(PROFILE), max_examples=examples * SCALE)


@pytest.fixture(scope="session")
def world() -> World:
    quiet_pyhanko()
    return build_world()


@pytest.fixture(scope="session")
def sources(world: World) -> dict[str, StatusSource]:
    return world.sources()


@pytest.fixture(scope="session")
def pdf_box(world: World, sources: dict[str, StatusSource]) -> Iterator[Sandbox]:
    """verify_pdf with the in-process inspector, in a child limited to 1 GiB and 20 s a PDF.
    Items are (pdf bytes, source name)."""

    def target(item: tuple[bytes, str]) -> Any:
        pdf, source = item
        return verify_pdf(pdf, trust=world.trust, now=world.now, source=sources[source])

    with Sandbox(target, timeout=20.0, memory=1 << 30, cpu=120) as box:
        yield box
