"""Licence PDFs, checked with the tools a reader has: pdftotext, pdffonts, pdfinfo, and a QR reader
on a 150 dpi rendering of each page."""

from __future__ import annotations

import copy
import random
import re
import shutil
import subprocess
from dataclasses import replace
from datetime import date
from typing import Any

import pytest
import zxingcpp
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from licence_svc.core import fonts
from licence_svc.core.checkdigits import id_number_check_char
from licence_svc.core.kinds import KINDS, validate
from licence_svc.core.render import RenderRequest, render_pdf
from tests.helpers import load_sample

ISSUERS = {
    "id_card": "北京市公安局东城分局",
    "household_register": "北京市公安局东城分局",
    "degree_certificate": "南京大学",
    "driving_licence": "深圳市公安局交通警察支队",
    "business_licence": "北京市东城区市场监督管理局",
}
ISSUED_ON = date(2024, 1, 15)


def qr_text(seed: int = 11) -> str:
    """A realistic verification text: upper-case URL + base32 payload, 419 characters (version 12)."""
    rng = random.Random(seed)
    prefix = "HTTPS://LICENCE.EXAMPLE.GOV.CN/V/"
    return prefix + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(419 - len(prefix)))


QR_TEXT = qr_text()


def make_request(kind: str, **data_overrides: Any) -> RenderRequest:
    """A request for the validated sample of ``kind``, with some data fields replaced."""
    record = {**load_sample(kind), **data_overrides}
    data = validate(kind, record, can_render=fonts.can_render)
    return RenderRequest(
        kind=KINDS[kind],
        data=data,
        identifier=f"{KINDS[kind].kind_code}-20240115-000042",
        issuer_name=ISSUERS[kind],
        issued_on=ISSUED_ON,
        qr_text=QR_TEXT,
    )


def with_check(first17: str) -> str:
    return first17 + id_number_check_char(first17)


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} (poppler-utils) is not installed")
    return path


def run(*args: str, stdin: bytes) -> bytes:
    return subprocess.run(args, input=stdin, capture_output=True, check=True, timeout=60).stdout


def pdf_text(pdf: bytes) -> str:
    return run(tool("pdftotext"), "-enc", "UTF-8", "-", "-", stdin=pdf).decode("utf-8")


def squeeze(text: str) -> str:
    """Text without white space: pdftotext breaks wrapped values into lines."""
    return re.sub(r"\s+", "", text)


def page_images(pdf: bytes) -> list[Image.Image]:
    """Every page as a 150 dpi grey image, as a phone or scanner would see a print-out."""
    out = run(tool("pdftoppm"), "-r", "150", "-gray", "-", stdin=pdf)
    images = []
    header = re.compile(rb"P5\s+(\d+)\s+(\d+)\s+255\s")  # pdftoppm writes one binary PGM per page
    pos = 0
    while pos < len(out):
        m = header.match(out, pos)
        assert m, "pdftoppm output is not a series of PGM images"
        w, h = int(m.group(1)), int(m.group(2))
        images.append(Image.frombytes("L", (w, h), out[m.end() : m.end() + w * h]))
        pos = m.end() + w * h
    return images


@pytest.fixture(scope="session")
def pdfs() -> dict[str, bytes]:
    """The sample of every kind, rendered once for the session."""
    return {kind: render_pdf(make_request(kind)) for kind in KINDS}


def expected_text(kind: str) -> list[str]:
    """Values a reader must find on the pages, formatted as the real document prints them."""
    d = load_sample(kind)
    if kind == "id_card":
        return [d["name"], d["sex"], d["ethnicity"], "1990年03月07日", d["address"], d["id_number"],
                d["issuing_authority"], "2020.05.01-2040.05.01", "中华人民共和国居民身份证"]
    if kind == "household_register":
        values = [d["household_number"], d["household_type"], d["address"], d["registration_authority"],
                  "户主姓名刘䶮", "3人", "居民户口簿", "常住人口登记卡"]
        for m in d["members"]:
            values += [m["name"], m["relation"], m["ethnicity"], m["id_number"], m["birthplace"]]
        return values + ["1978年11月02日", "1980年06月15日", "2008年09月21日"]
    if kind == "degree_certificate":
        return [d["name"], d["id_number"], d["discipline"], d["institution"], d["certificate_number"],
                "1998年12月30日", "2023年06月20日", "硕士学位证书"]
    if kind == "driving_licence":
        return [d["licence_number"], d["name"], d["nationality"], d["address"], "C1E", "1985-01-19",
                "2006-04-12", "2018-04-12至2028-04-12", d["archive_number"], d["issuing_authority"],
                "中华人民共和国机动车驾驶证"]
    return [d["credit_code"], d["name"], d["entity_type"], d["legal_representative"], d["registered_capital"],
            "2019年08月08日", "营业期限2019年08月08日至长期", d["domicile"], d["business_scope"],
            d["registration_authority"], "营业执照"]


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_field_value_comes_back_as_text(pdfs: dict[str, bytes], kind: str) -> None:
    text = squeeze(pdf_text(pdfs[kind]))
    missing = [v for v in expected_text(kind) if squeeze(v) not in text]
    assert not missing
    for common in (ISSUERS[kind], "2024年01月15日", "电子证照专用章", "扫码核验",
                   f"证照标识：{KINDS[kind].kind_code}-20240115-000042"):
        assert common in text


@pytest.mark.parametrize("kind", list(KINDS))
def test_labels_come_from_the_kind(pdfs: dict[str, bytes], kind: str) -> None:
    text = squeeze(pdf_text(pdfs[kind]))
    spec = KINDS[kind]
    labels = [f.label for f in spec.fields + spec.member_fields if f.type not in ("photo", "members") and f.printed]
    # the two halves of a period are printed together, as on the real documents
    labels = [label for label in labels if label[-1] not in "起止自至"]
    assert [label for label in labels if label not in text] == []


def test_rare_name_characters_come_back_exactly(pdfs: dict[str, bytes]) -> None:
    text = pdf_text(pdfs["household_register"])
    assert "刘䶮" in text  # CJK Extension A, U+4DAE
    assert "王淑𠮷" in text  # Extension B, U+20BB7: needs the fixed ToUnicode CMap
    assert "\u20bb" not in text  # what reportlab's own CMap gives back


def test_household_register_has_a_front_page_and_one_page_per_member(pdfs: dict[str, bytes]) -> None:
    pages = pdf_text(pdfs["household_register"]).split("\f")[:-1]
    members = load_sample("household_register")["members"]
    assert len(pages) == 1 + len(members)
    assert "户内人数" in pages[0]
    for page, member in zip(pages[1:], members):
        assert member["name"] in page and member["id_number"] in page


def test_more_members_give_more_pages() -> None:
    members = load_sample("household_register")["members"]
    extra = copy.deepcopy(members[2])
    extra.update(name="刘子轩", relation="子", sex="男", birth_date="2012-03-04", id_number=with_check("11010120120304001"))
    pdf = render_pdf(make_request("household_register", members=[*members, extra]))
    pages = pdf_text(pdf).split("\f")[:-1]
    assert len(pages) == 5 and "刘子轩" in pages[4] and "第5页/共5页" in squeeze(pages[4])


@pytest.mark.parametrize("kind", list(KINDS))
def test_fonts_are_embedded_subsets_and_nothing_else(pdfs: dict[str, bytes], kind: str) -> None:
    out = run(tool("pdffonts"), "-", stdin=pdfs[kind]).decode()
    rows = out.splitlines()[2:]
    assert rows
    for row in rows:
        name, *_, emb, sub, uni, _obj, _gen = row.split()
        assert (emb, sub, uni) == ("yes", "yes", "yes"), row
        assert re.match(r"^[A-Z]{6}\+(WenQuanYiZenHei|HanaMinB)", name), row
    families = {row.split()[0].split("+")[1] for row in rows}
    assert ("HanaMinB" in families) == (kind == "household_register")  # only 𠮷 needs Hanazono


@pytest.mark.parametrize("kind", list(KINDS))
def test_the_qr_code_reads_back_from_a_150_dpi_rendering(pdfs: dict[str, bytes], kind: str) -> None:
    images = page_images(pdfs[kind])
    assert len(images) == (4 if kind == "household_register" else 1)
    for img in images:
        found = zxingcpp.read_barcodes(img, formats=zxingcpp.BarcodeFormat.QRCode)
        assert [r.text for r in found] == [QR_TEXT]


def test_the_qr_code_is_45_to_50_mm_wide(pdfs: dict[str, bytes]) -> None:
    (img,) = page_images(pdfs["id_card"])
    (found,) = zxingcpp.read_barcodes(img, formats=zxingcpp.BarcodeFormat.QRCode)
    pos = found.position
    width_px = pos.top_right.x - pos.top_left.x  # the symbol without its quiet zone
    symbol_mm = width_px / 150 * 25.4
    assert 38 <= symbol_mm <= 43  # 65 of the 73 modules of the 48 mm square


def test_metadata_names_the_kind_and_identifier_but_not_the_holder(pdfs: dict[str, bytes]) -> None:
    info = run(tool("pdfinfo"), "-enc", "UTF-8", "-", stdin=pdfs["id_card"]).decode()
    title = re.search(r"^Title:\s+(.*)$", info, re.M)
    assert title and title.group(1) == f"居民身份证 {KINDS['id_card'].kind_code}-20240115-000042"
    assert "张晓明" not in info and "110101199003071233" not in info
    assert re.search(r"^CreationDate:.*2024", info, re.M)  # the issue date, not the clock


def test_rendering_is_deterministic() -> None:
    req = make_request("degree_certificate")
    assert render_pdf(req) == render_pdf(req)
    assert render_pdf(req) != render_pdf(replace(req, issued_on=date(2024, 1, 16)))


def test_open_ended_validity_prints_as_long_term() -> None:
    text = squeeze(pdf_text(render_pdf(make_request("id_card", valid_until=None))))
    assert "有效期限2020.05.01-长期" in text


def test_photo_is_drawn_only_when_given(pdfs: dict[str, bytes]) -> None:
    lister = tool("pdfimages")
    with_photo = run(lister, "-list", "-", stdin=pdfs["id_card"]).decode().splitlines()[2:]
    req = make_request("id_card")
    without = render_pdf(replace(req, data={k: v for k, v in req.data.items() if k != "photo"}))
    assert len(with_photo) == 1 and " 180 " in with_photo[0]  # the 180×220 sample photo, not resampled
    assert run(lister, "-list", "-", stdin=without).decode().splitlines()[2:] == []


def test_the_longest_values_validation_allows_still_fit_and_print_in_full() -> None:
    scope = ("技术开发、技术咨询、技术服务；软件开发；数据处理（依法须经批准的项目，经相关部门批准后依批准的内容开展经营活动）。" * 20)[:1000]
    domicile = ("北京市东城区东直门南大街3号国华投资大厦9层" * 6)[:120]
    name = ("北京云证科技有限公司" * 10)[:100]
    pdf = render_pdf(make_request("business_licence", business_scope=scope, domicile=domicile, name=name))
    text = squeeze(pdf_text(pdf))
    assert squeeze(scope) in text and domicile in text and name in text
    address = ("北京市东城区景山前街4号院2号楼3单元501室" * 6)[:120]
    assert address in squeeze(pdf_text(render_pdf(make_request("id_card", address=address))))


def test_a_character_no_font_has_is_a_bug_not_a_box() -> None:
    req = make_request("id_card")
    with pytest.raises(ValueError, match=r"no glyph for U\+E000"):
        render_pdf(replace(req, data={**req.data, "name": "张\ue000明"}))


def test_qr_text_over_the_version_cap_is_refused() -> None:
    with pytest.raises(ValueError, match="version 13"):
        render_pdf(replace(make_request("id_card"), qr_text=QR_TEXT + "A"))


# Wrapping: pure, so checked as a property over mixed Chinese, Latin and punctuation.

_WRAP_ALPHABET = st.sampled_from(list("北京市东城区景山前街号院楼单元室技术开发，。、；：（）《》𠮷䶮ABCxyz0123456789 -"))


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=_WRAP_ALPHABET, min_size=1, max_size=200), st.floats(min_value=60, max_value=400))
def test_wrapped_lines_fit_and_keep_every_character(text: str, width: float) -> None:
    lines = fonts.wrap(text, width, 12)
    assert "".join(lines) == text
    for line in lines:
        assert fonts.text_width(line, 12) <= width + 1e-6 or len(line) == 1


@given(st.text(alphabet=st.sampled_from(list("技术开发服务")), min_size=40, max_size=80))
def test_closing_punctuation_never_starts_a_line(text: str) -> None:
    text = "，".join([text[:17], text[17:]]) + "。"
    lines = fonts.wrap(text, 12 * 17.0, 12)
    assert all(line[0] not in "，。" for line in lines[1:])
