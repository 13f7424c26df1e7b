"""Connections kept between requests stay each process's own: a process forked while one is open
(a test harness, a pre-forking server) opens its own, and the parent's server session is neither
shared nor ended by the child."""

from __future__ import annotations

import os
from typing import Any

from licence_svc.services.verifying import check_qr
from licence_svc.storage import db


def test_a_forked_child_opens_its_own_connection_and_leaves_the_parents_alone(platform: Any, issued_samples: dict[str, Any]) -> None:
    qr = issued_samples["id_card"].qr_text
    db.close()
    db.connect()  # the parent's connection is open, nothing prepared on it yet
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child checks twice on a connection of its own, then leaves without clean-up
        try:
            verdicts = [check_qr(platform, qr).verdict for _ in range(2)]
            os.write(write, ",".join(verdicts).encode())
        finally:
            os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    assert os.read(read, 100).decode() == "valid,valid" and status == 0
    os.close(read)
    assert [check_qr(platform, qr).verdict for _ in range(2)] == ["valid", "valid"]  # the parent's session still works
