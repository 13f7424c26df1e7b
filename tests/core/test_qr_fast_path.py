"""The fast QR path makes exactly the symbol qrcode's own ``make()`` makes: same version, same
codewords, same mask (penalty scores equal for every mask), module for module."""

from __future__ import annotations

import qrcode
from hypothesis import given, settings
from hypothesis import strategies as st
from qrcode.constants import ERROR_CORRECT_M
from qrcode.util import MODE_ALPHA_NUM, QRData, create_data, lost_point

from licence_svc.core.qr import _ALPHANUMERIC, _alphanumeric_codewords, _layout, _rs_remainder, qr_matrix

ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


def reference(text: str) -> qrcode.QRCode:
    qr = qrcode.QRCode(version=None, error_correction=ERROR_CORRECT_M, box_size=1, border=0)
    qr.add_data(QRData(text, mode=MODE_ALPHA_NUM) if set(text) <= _ALPHANUMERIC else text)
    qr.make()
    return qr


@settings(max_examples=80, deadline=None)
@given(st.one_of(st.text(alphabet=ALNUM, min_size=1, max_size=419), st.text(alphabet="abcXYZ张明 0123/:?=", min_size=1, max_size=120)))
def test_symbol_equals_qrcode_make(text: str) -> None:
    qr = reference(text)
    matrix = qr_matrix(text)
    assert matrix.version == qr.version
    assert matrix.modules == tuple(tuple(bool(m) for m in row) for row in qr.modules)


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=ALNUM, min_size=1, max_size=419))
def test_alphanumeric_codewords_equal_qrcode(text: str) -> None:
    qr = qrcode.QRCode(version=None, error_correction=ERROR_CORRECT_M)
    qr.add_data(QRData(text, mode=MODE_ALPHA_NUM))
    version = qr.best_fit()
    assert _alphanumeric_codewords(text) == (version, create_data(version, ERROR_CORRECT_M, qr.data_list))


@settings(max_examples=25, deadline=None)
@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", min_size=30, max_size=400))
def test_penalty_equals_qrcode_lost_point_for_every_mask(text: str) -> None:
    qr = qrcode.QRCode(version=None, error_correction=ERROR_CORRECT_M, box_size=1, border=0)
    qr.add_data(QRData(text, mode=MODE_ALPHA_NUM))
    qr.best_fit()
    layout = _layout(qr.version)
    for pattern in range(8):
        qr.makeImpl(True, pattern)  # the matrices qrcode scores
        rows = [sum(1 << (layout.size - 1 - c) for c, m in enumerate(row) if m) for row in qr.modules]
        assert layout.planes.penalty(layout.planes.pack(rows)) == lost_point(qr.modules)


def test_reed_solomon_for_every_block_size_at_level_m() -> None:
    from qrcode import base

    data = list(range(1, 41))
    for ec in (10, 16, 18, 22, 24, 26, 28, 30):  # every EC block size of versions 1-40 at level M
        gen = base.Polynomial([1], 0)
        for i in range(ec):
            gen = gen * base.Polynomial([1, base.gexp(i)], 0)
        mod = base.Polynomial(data, len(gen) - 1) % gen
        expected = [mod[i + len(mod) - ec] if i + len(mod) - ec >= 0 else 0 for i in range(ec)]
        assert _rs_remainder(data, ec) == expected
