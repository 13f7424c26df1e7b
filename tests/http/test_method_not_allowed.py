"""Every route answers a method it does not take with 405 problem+json and an ``Allow`` header
listing the methods the path does take (RFC 9110 §15.5.6)."""

from __future__ import annotations

import re
from typing import Any

from werkzeug.exceptions import MethodNotAllowed, NotFound

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def test_every_route_says_which_methods_it_allows(app: Any, client: Any) -> None:
    adapter = app.url_map.bind("localhost")
    paths = {re.sub(r"<(?:[a-z_]+:)?[a-z_]+>", "X1", rule.rule) for rule in app.url_map.iter_rules() if rule.endpoint != "static"}
    checked = 0
    for path in sorted(paths):
        for method in METHODS:
            try:
                adapter.match(path, method=method)
                continue  # some route takes it
            except NotFound:
                continue
            except MethodNotAllowed as exc:
                allowed = set(exc.valid_methods or ())
            resp = client.open(path, method=method)
            assert resp.status_code == 405, (method, path, resp.status_code)
            assert resp.content_type == "application/problem+json"
            said = {m.strip() for m in resp.headers.get("Allow", "").split(",")}
            assert said == allowed, (method, path, said, allowed)
            checked += 1
    assert checked > 50
