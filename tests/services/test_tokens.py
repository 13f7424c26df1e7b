"""services.tokens: a token's scope is its own kinds narrowed to what its department may issue
*now*, read at every authentication (not the kinds stored when the token was made)."""

from __future__ import annotations

from typing import Any

import pytest

from licence_svc.errors import NotAuthorised
from licence_svc.services.tokens import authenticate, create_token
from licence_svc.storage.models import Department
from tests.helpers import client_address, credit_code


def test_a_kind_taken_from_the_department_is_taken_from_its_tokens(platform: Any) -> None:
    from licence_svc.services.setup import add_department

    code = credit_code()  # a department of this test's own: nobody else's tokens change
    add_department(platform, code, "示例市测试收窄局", ["id_card", "driving_licence"])
    _, token = create_token(code)  # all the department's kinds
    before = authenticate(f"Bearer {token}", client=client_address())
    assert before.kinds == {"id_card", "driving_licence"}
    before.require_kind("driving_licence")  # the twin: allowed while the department may issue it

    Department.update(kinds="id_card").where(Department.code == code).execute()  # driving licences moved elsewhere

    after = authenticate(f"Bearer {token}", client=client_address())
    assert after.kinds == {"id_card"}
    with pytest.raises(NotAuthorised, match="driving_licence"):
        after.require_kind("driving_licence")
    after.require_kind("id_card")
