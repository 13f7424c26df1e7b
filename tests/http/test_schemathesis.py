"""Property-based: Schemathesis generates requests (valid and invalid) for every operation of the
served OpenAPI document and sends them through the WSGI app; no response may be a server error,
have a status the operation does not document, or a body outside the documented schema.

Bounded (max_examples per operation, no deadline) so it runs in CI on SQLite and PostgreSQL.
Path identifiers are swapped for real licences half of the time, so generated bodies reach
the record, PDF, history, versions and status-change code and not only the 422/404 paths.
Nothing is excluded: the multipart upload of POST /verify is fuzzed with random bytes (which the
QR reader must refuse with a 422), and the PDF download's body is checked for its content type.
"""

from __future__ import annotations

import zlib
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from tests.helpers import load_sample

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
MAX_EXAMPLES = 25


@pytest.fixture(scope="module")
def fuzz_env(app: Any, platform: Any, departments: dict[str, str]) -> dict[str, Any]:
    """The token of the department issuing id_card (also household_register and driving_licence) and
    one real licence of each of its kinds, for the path parameters."""
    from licence_svc.services.issuing import issue

    code = departments["id_card"]
    kinds = [k for k, c in departments.items() if c == code]
    idents = [
        issue(platform, kind=k, data=load_sample(k), department=code).identifier
        for k in kinds
    ]
    from licence_svc.services.setup import add_department, demo_code
    from licence_svc.services.tokens import create_token

    # A window of its own for the share routes: its guessed share codes count towards the per-department
    # limit, which must not throttle the demo window other tests use.
    window = demo_code("91110000000099901")
    add_department(platform, window, "模糊测试窗口", [], issue_key=False)
    window_token = create_token(window, [], label="fuzz window", scopes=["redeem"])[1]
    return {"token": platform.demo_tokens[code], "identifiers": idents, "window_token": window_token}


@pytest.fixture(scope="module")
def api_schema(app: Any, fuzz_env: dict[str, Any]) -> Any:
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


def _operations() -> list[tuple[str, str, GenerationMode]]:
    """(method, path, mode) of every documented operation; negative mode only where there is input."""
    from licence_svc.web.api_document import document

    return [
        (method.upper(), path, mode)
        for path, item in document("http://localhost")["paths"].items()
        for method, op in item.items()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        if mode is GenerationMode.POSITIVE or op.get("parameters") or op.get("requestBody")
    ]


# One pytest test per operation and mode, driven by Hypothesis directly (schemathesis' own pytest
# integration relies on pytest internals that pytest 9 no longer has).
@pytest.mark.parametrize(("method", "path", "mode"), _operations(), ids=lambda v: str(v))
def test_api_conforms_to_its_openapi_document(api_schema: Any, fuzz_env: dict[str, Any], method: str, path: str, mode: GenerationMode) -> None:
    token = fuzz_env["window_token"] if path.startswith("/api/v1/shares/") else fuzz_env["token"]
    headers = {"Authorization": f"Bearer {token}"}

    @given(case=api_schema[path][method].as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
        derandomize=True,
        database=None,
    )
    def run(case: Any) -> None:
        ident = (case.path_parameters or {}).get("identifier")
        if isinstance(ident, str):
            roll = zlib.crc32(ident.encode("utf-8", "surrogatepass"))
            if roll % 2:
                case.path_parameters["identifier"] = fuzz_env["identifiers"][roll % len(fuzz_env["identifiers"])]
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()
