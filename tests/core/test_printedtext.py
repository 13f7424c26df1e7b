"""Holding a picture's printed text to the signed fields: what each kind prints where, the table
found on a rendered page (straight, turned, shrunk), tesseract's TSV back to rows, naming rows by
their labels and places, and the same/different rules, whose one promise is checked with
hypothesis: OCR slips never make a genuine value *different*."""

from __future__ import annotations

import io
import shutil
import subprocess
from datetime import date

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from licence_svc.core import fonts
from licence_svc.core import printedtext as pt
from licence_svc.core.checkdigits import CREDIT_ALPHABET, credit_code_check_char, id_number_check_char, id_number_problem
from licence_svc.core.kinds import KINDS, validate
from licence_svc.core.qrread import read_qr_codes
from licence_svc.core.render import RenderRequest, _pages, render_pdf
from tests.helpers import load_sample

QR_TEXT = "HTTP://127.0.0.1:8000/V/" + "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" * 10


def request(kind: str) -> RenderRequest:
    return RenderRequest(
        kind=KINDS[kind],
        data=validate(kind, load_sample(kind), can_render=fonts.can_render),
        identifier=f"{KINDS[kind].kind_code}-20240115-000042",
        issuer_name="北京市公安局东城分局",
        issued_on=date(2024, 1, 15),
        qr_text=QR_TEXT,
    )


# --- what each kind prints ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(KINDS))
def test_page_rows_are_the_labels_render_prints(kind: str) -> None:
    printed = tuple(tuple(row.label for row in page.rows) for page in _pages(request(kind)))
    assert set(printed) == set(pt.PAGE_ROWS[kind])


@pytest.mark.parametrize("kind", list(KINDS))
def test_expected_values_are_printed_under_their_labels(kind: str) -> None:
    printed = {(row.label, row.value) for page in _pages(request(kind)) for row in page.rows}
    expected = pt.expected_fields(kind, request(kind).data)
    assert {e.sort for e in expected} >= {pt.DATE}
    for e in expected:
        assert any((e.label, v) in printed for v in e.values), e
        assert all((e.label, v) in printed for v in e.values), e  # a household member page each


def test_open_ended_periods_print_as_long_term() -> None:
    data = load_sample("business_licence")
    (period,) = [e for e in pt.expected_fields("business_licence", data) if e.label == "营业期限"]
    assert period.values == ("2019年08月08日 至 长期",)


# --- the table on a rendered page ---------------------------------------------------------------


@pytest.fixture(scope="module")
def rendered() -> dict[str, bytes]:
    """Each kind's first page at 150 dpi, as PNG."""
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    out = {}
    for kind in ("id_card", "driving_licence"):
        args = ["pdftoppm", "-r", "150", "-png", "-singlefile", "-"]
        out[kind] = subprocess.run(args, input=render_pdf(request(kind)), capture_output=True, check=True, timeout=60).stdout
    return out


def photo(png: bytes, *, angle: float, scale: float, quality: int, paint: tuple[int, int, int, int] | None = None) -> bytes:
    img = Image.open(io.BytesIO(png)).convert("RGB")
    if paint:
        ImageDraw.Draw(img).rectangle(paint, fill="white")
    img = img.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(150, 150, 145))
    img = img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def rows_of(picture: bytes) -> tuple[pt.TableRow, ...]:
    scan = read_qr_codes(picture)
    (symbol,) = scan.symbols
    assert symbol.version is not None and pt.zone_plausible(symbol.corners, scan.image.size)
    return pt.table_rows(pt.table_zone(scan.image, symbol.corners, symbol.version))


@pytest.mark.parametrize(("kind", "rows"), [("id_card", 8), ("driving_licence", 11)])
@pytest.mark.parametrize(("angle", "scale", "quality"), [(0, 1, 95), (-8, 0.6, 40), (10, 1, 60), (6, 0.6, 40)])
def test_every_row_is_found_on_a_scan_and_a_photo(rendered: dict[str, bytes], kind: str, rows: int, angle: float, scale: float, quality: int) -> None:
    found = rows_of(photo(rendered[kind], angle=angle, scale=scale, quality=quality))
    assert len(found) == rows
    assert all(r.inked for r in found)
    # the id card's photo is cut off the first four value cells
    assert all(r.value.width < found[-1].value.width - 150 for r in found[:4]) == (kind == "id_card")


def test_a_painted_over_value_is_a_cell_without_ink(rendered: dict[str, bytes]) -> None:
    # the id card's name, at (181, 172)-(223, 186) pt on the page: 150/72 px a point
    k = 150 / 72
    found = rows_of(photo(rendered["id_card"], angle=7, scale=0.6, quality=40, paint=(int(179 * k), int(170 * k), int(226 * k), int(188 * k))))
    assert [r.inked for r in found] == [False] + [True] * 7


def test_the_sheet_lays_each_row_on_a_line_of_its_own(rendered: dict[str, bytes]) -> None:
    found = rows_of(rendered["id_card"])
    sheet = pt.compose_sheet(found)
    assert len(sheet.bands) == len(found)
    assert all(b0[1] < b1[0] for b0, b1 in zip(sheet.bands, sheet.bands[1:]))
    assert sheet.value_x > max(r.label.width for r in found)


def test_a_picture_of_the_code_alone_has_no_table() -> None:
    from licence_svc.core.qr import qr_png

    scan = read_qr_codes(qr_png(QR_TEXT, scale=4))
    (symbol,) = scan.symbols
    assert symbol.version is not None
    assert pt.table_rows(pt.table_zone(scan.image, symbol.corners, symbol.version)) == ()


# --- OCR's TSV back to rows ---------------------------------------------------------------------

TSV_HEAD = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"


def tsv(*words: tuple[str, int, int, float]) -> str:
    lines = [TSV_HEAD, "1\t1\t0\t0\t0\t0\t0\t0\t900\t300\t-1\t"]
    lines += [f"5\t1\t1\t1\t1\t{i}\t{x}\t{y}\t40\t30\t{conf}\t{text}" for i, (text, x, y, conf) in enumerate(words, 1)]
    return "\n".join(lines) + "\nnot\ta\tline\n"


def test_tsv_words_go_to_their_row_and_side() -> None:
    sheet = pt.Sheet(Image.new("L", (900, 300)), ((20, 80), (100, 160)), value_x=300, inked=(True, False), pages=(0, 0))
    words = pt.parse_tsv(tsv(("姓名", 30, 35, 95), ("张", 310, 30, 91), ("晓明", 360, 32, 88), ("公民", 30, 115, 90), ("身份号码", 80, 115, 90)))
    assert len(words) == 5
    rows = pt.read_sheet(sheet, words)
    assert rows == (pt.Row("姓名", "张晓明", True, 88.0, 0), pt.Row("公民身份号码", "", False, 0.0, 0))


def test_malformed_tsv_gives_no_words() -> None:
    assert pt.parse_tsv("") == ()
    assert pt.parse_tsv("garbage\nmore garbage") == ()
    assert pt.parse_tsv(TSV_HEAD + "\n5\t1\t1\t1\t1\t1\tx\t0\t1\t1\t90\t张") == ()


# --- naming rows --------------------------------------------------------------------------------

ID_ROWS = pt.PAGE_ROWS["id_card"][0]


def test_rows_read_well_are_named_by_their_labels() -> None:
    assert pt.name_rows(list(ID_ROWS), ID_ROWS) == list(ID_ROWS)


def test_a_misread_label_is_named_by_its_place() -> None:
    read = ["好名", "|性别", "民力", "出生", "位", "公民身份号码", "个发机关", "有效期限"]
    names = pt.name_rows(read, ID_ROWS)
    assert names[0] == "姓名"  # like its label, above a row read surely
    assert names[2] == "民族" and names[4] == "住址"  # between rows read surely, as far apart as their labels
    assert names[6] == "签发机关"


def test_an_unreadable_label_next_to_a_sure_one_is_named_only_over_a_blank_cell() -> None:
    read = ["|", "与户主关系", "性别"]
    member = pt.PAGE_ROWS["household_register"][1]
    assert pt.name_rows(read, member)[0] is None
    assert pt.name_rows(read, member, blank=[True, False, False])[0] == "姓名"


def test_rows_are_not_named_across_a_missing_line() -> None:
    # two rows merged into one (a ruled line not found): the places between sure rows do not add up
    read = ["姓名", "", "出生", "？", "？", "有效期限"]
    names = pt.name_rows(read, ID_ROWS)
    assert names == ["姓名", None, "出生", None, None, "有效期限"]


def test_sure_names_out_of_order_are_dropped() -> None:
    assert pt.name_rows(["有效期限", "姓名"], ID_ROWS) == ["有效期限", None]


def test_the_household_page_is_told_by_its_labels() -> None:
    assert pt.page_layout(["姓名", "与户主关系", "性别"], "household_register")[0] == "姓名"
    assert pt.page_layout(["户别", "户主姓名", "户号"], "household_register")[0] == "户别"


# --- comparing ----------------------------------------------------------------------------------

ID_DATA = load_sample("id_card")
EXPECTED = pt.expected_fields("id_card", ID_DATA)


def rows(**values: str) -> list[pt.Row]:
    """The id card's rows as OCR would read them, the signed values unless given (by label)."""
    signed = {e.label: e.values[0] for e in EXPECTED}
    out = []
    for label in ID_ROWS:
        value = values.get(label, signed.get(label, "男"))
        out.append(pt.Row(label, value, inked=value != "", conf=90.0))
    return out


def test_a_genuine_page_passes_with_every_field_found() -> None:
    result = pt.compare(rows(), "id_card", EXPECTED)
    assert result.passed is True
    assert pt.summary(result.findings, pt.MATCH) == ["姓名", "出生", "公民身份号码", "有效期限"]


def test_a_blank_name_fails_naming_the_field() -> None:
    result = pt.compare(rows(姓名=""), "id_card", EXPECTED)
    assert result.passed is False
    assert pt.summary(result.failed, pt.BLANK) == ["姓名"]


def test_another_valid_id_number_fails() -> None:
    other = "11010519491231002X"
    assert pt.judge(other, ID_DATA["id_number"], pt.ID_NUMBER) == pt.DIFFERS
    result = pt.compare(rows(公民身份号码=other), "id_card", EXPECTED)
    assert pt.summary(result.failed, pt.DIFFERS) == ["公民身份号码"]


def test_another_name_fails_only_when_read_with_confidence() -> None:
    assert pt.judge("李四光", "张晓明", pt.NAME, conf=90) == pt.DIFFERS
    assert pt.judge("李四光", "张晓明", pt.NAME, conf=30) == pt.UNREAD


def test_a_name_of_rare_characters_is_never_different() -> None:
    # 䶮 and 𠮷 are outside GB 2312: OCR reads look-alikes for them
    assert pt.judge("美吉", "䶮𠮷", pt.NAME, conf=95) == pt.UNREAD
    assert pt.judge("王美", "刘䶮", pt.NAME, conf=95) == pt.UNREAD  # one common character is no evidence
    assert pt.judge("李四吉", "王淑𠮷", pt.NAME, conf=95) == pt.DIFFERS


def test_nothing_read_concludes_nothing() -> None:
    unreadable = [pt.Row("", "", True), pt.Row("？", "", True)]
    result = pt.compare(unreadable, "id_card", EXPECTED)
    assert result.passed is None and result.findings == ()


def test_values_read_but_garbled_are_unread_not_different() -> None:
    result = pt.compare(rows(姓名="|", 公民身份号码="11O1O11990"), "id_card", EXPECTED)
    assert pt.summary(result.findings, pt.UNREAD) == ["姓名", "公民身份号码"]
    assert result.passed is True


def test_a_household_member_page_matches_any_member() -> None:
    data = load_sample("household_register")
    expected = pt.expected_fields("household_register", data)
    member = data["members"][2]
    read = [pt.Row(label, value, True, 90.0) for label, value in zip(pt.PAGE_ROWS["household_register"][1], [member["name"], "女", "女", "汉", "2008年09月21日", member["id_number"], "北京市东城区"])]
    result = pt.compare(read, "household_register", expected)
    assert result.passed is True
    assert pt.summary(result.findings, pt.MATCH) == ["姓名", "出生日期", "公民身份号码"]


# --- same or different: OCR slips never make a genuine value different ---------------------------

DIGITS = "0123456789"


@st.composite
def id_numbers(draw: st.DrawFn) -> str:
    area = draw(st.sampled_from("123456789")) + draw(st.text(DIGITS, min_size=5, max_size=5))
    birth = draw(st.dates(min_value=date(1920, 1, 1), max_value=date(2020, 12, 31))).strftime("%Y%m%d")
    first17 = area + birth + draw(st.text(DIGITS, min_size=3, max_size=3))
    return first17 + id_number_check_char(first17)


@st.composite
def credit_codes(draw: st.DrawFn) -> str:
    first17 = draw(st.text(CREDIT_ALPHABET, min_size=17, max_size=17))
    return first17 + credit_code_check_char(first17)


def slipped(draw: st.DrawFn, value: str, alphabet: str, slips: int) -> str:
    """``value`` with up to ``slips`` characters changed, dropped or doubled, as OCR slips."""
    chars = list(value)
    for _ in range(draw(st.integers(0, slips))):
        i = draw(st.integers(0, len(chars) - 1))
        how = draw(st.sampled_from(("change", "drop", "double")))
        if how == "change":
            chars[i] = draw(st.sampled_from(alphabet))
        elif how == "drop" and len(chars) > 1:
            del chars[i]
        else:
            chars.insert(i, chars[i])
    return "".join(chars)


LOOKALIKES = {  # what OCR reads for a digit, where the code has no such letter
    pt.ID_NUMBER: {"0": "O", "1": "l", "5": "S", "8": "B", "2": "Z"},
    pt.CREDIT_CODE: {"0": "O", "1": "l", "5": "S", "2": "Z"},  # B, G and T are letters of credit codes
}


@settings(max_examples=300, deadline=None)
@given(data=st.data(), sort=st.sampled_from((pt.ID_NUMBER, pt.CREDIT_CODE)))
def test_codes_with_two_slips_match(data: st.DataObject, sort: str) -> None:
    value = data.draw(id_numbers() if sort == pt.ID_NUMBER else credit_codes())
    read = slipped(data.draw, value, DIGITS + "X", 2)
    read = "".join(LOOKALIKES[sort].get(ch, ch) if data.draw(st.booleans()) else ch for ch in read)  # O for 0, l for 1 …
    spaced = " ".join(read[i : i + 4] for i in range(0, len(read), 4))
    assert pt.judge(spaced, value, sort, conf=data.draw(st.floats(0, 100))) == pt.MATCH


@settings(max_examples=300, deadline=None)
@given(data=st.data(), conf=st.floats(0, 100))
def test_an_id_number_read_with_any_slips_is_never_different_unless_its_check_holds(data: st.DataObject, conf: float) -> None:
    value = data.draw(id_numbers())
    read = slipped(data.draw, value, DIGITS, 8)
    outcome = pt.judge(read, value, pt.ID_NUMBER, conf=min(conf, pt.SURE_CONF - 1))
    if outcome == pt.DIFFERS:
        assert len(read) == 18 and id_number_problem(read) is None


@settings(max_examples=300, deadline=None)
@given(a=id_numbers(), b=id_numbers())
def test_another_valid_id_number_is_different(a: str, b: str) -> None:
    assume(pt.edit_distance(a, b) > 2)
    assert pt.judge(b, a, pt.ID_NUMBER) == pt.DIFFERS


NAME_CHARS = "张王李赵刘陈杨黄周吴晓明建国静怡文博子涵淑红军伟芳娜敏"


@settings(max_examples=300, deadline=None)
@given(data=st.data(), conf=st.floats(0, 100))
def test_a_name_with_one_slip_or_ocr_noise_around_it_matches(data: st.DataObject, conf: float) -> None:
    name = data.draw(st.text(NAME_CHARS, min_size=2, max_size=4))
    chars = list(name)
    i = data.draw(st.integers(0, len(chars) - 1))
    chars[i] = data.draw(st.sampled_from(NAME_CHARS + "口日|"))  # a rare character OCR has no glyph for
    noise = data.draw(st.sampled_from(("", "|", "]", " ", "一")))
    assert pt.judge(noise + "".join(chars) + noise, name, pt.NAME, conf=conf) == pt.MATCH


@settings(max_examples=300, deadline=None)
@given(data=st.data(), conf=st.floats(0, 100))
def test_a_date_with_one_slip_matches(data: st.DataObject, conf: float) -> None:
    day = data.draw(st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)))
    printed = f"{day.year}年{day.month:02d}月{day.day:02d}日"
    read = slipped(data.draw, printed, DIGITS + "年月日", 1)
    assert pt.judge(read, printed, pt.DATE, conf=conf) == pt.MATCH


@settings(max_examples=200, deadline=None)
@given(read=st.text(max_size=30), conf=st.floats(0, pt.SURE_CONF - 1))
def test_without_confidence_only_a_valid_code_can_be_different(read: str, conf: float) -> None:
    for e in pt.expected_fields("driving_licence", load_sample("driving_licence")):
        outcome = pt.judge(read, e.values[0], e.sort, conf=conf)
        if outcome == pt.DIFFERS:
            assert e.sort == pt.ID_NUMBER


def test_company_names_tolerate_ocr_swaps() -> None:
    assert pt.judge("北京云证科技有限公可", "北京云证科技有限公司", pt.ORG_NAME) == pt.MATCH
    assert pt.judge("上海某某贸易集团", "北京云证科技有限公司", pt.ORG_NAME, conf=90) == pt.DIFFERS
