"""Printed-text check on pictures: false mismatches on genuine pictures and the catch rate of pictures
whose printed name or id number is painted over (or painted over and another written in its place),
per kind and per degradation, with OCR time.

Every kind's sample, and ``--variants`` more licences of each kind for other holders (other names,
id numbers, credit codes, dates), is issued on a throw-away demo platform and rendered at 150 dpi
with pdftoppm (the household register: its front page and its first member's page). Each page is
checked as it is and degraded the way a phone photo is (turned 5-10° either way, shrunk to 60 %,
saved as JPEG quality 40, and all three at once; the turned ones ``--repeats`` times at other
angles), genuine and with a white rectangle over the printed value of the holder's name or id
number / credit code (the value's box from ``pdftotext -bbox``, 2 px of margin), and the same with
another name or valid number written over it in the page's font. Checked through
``services.pictures.check_image``, as a service window would.

Run: .venv/bin/python bench/printed_text.py [--variants 2] [--repeats 3] [--json bench/results/printed_text.json]
"""

from __future__ import annotations

import argparse
import io
import random
import re
import shutil
import statistics
import subprocess
import time
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from common import ROOT, department_code, emit, load_sample, throwaway_platform

DPI = 150
KINDS = ("id_card", "household_register", "degree_certificate", "driving_licence", "business_licence")
PAINTED = {  # kind → (page, label, data path) of the values painted over
    "id_card": [(1, "姓名", "name"), (1, "公民身份号码", "id_number")],
    "household_register": [(1, "户主姓名", "members.0.name"), (2, "姓名", "members.0.name"), (2, "公民身份号码", "members.0.id_number")],
    "degree_certificate": [(1, "姓名", "name"), (1, "公民身份号码", "id_number")],
    "driving_licence": [(1, "姓名", "name"), (1, "证号", "licence_number")],
    "business_licence": [(1, "名称", "name"), (1, "统一社会信用代码", "credit_code")],
}
PAGES = {"household_register": (1, 2)}
_WORD = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>')


def render(pdf: bytes, page: int) -> Any:
    from PIL import Image

    args = ["pdftoppm", "-r", str(DPI), "-f", str(page), "-l", str(page), "-png", "-singlefile", "-"]
    png = subprocess.run(args, input=pdf, capture_output=True, check=True, timeout=60).stdout
    return Image.open(io.BytesIO(png)).convert("RGB")


def value_boxes(pdf: bytes, page: int, value: str) -> list[tuple[float, float, float, float]]:
    """Boxes (points) of the words equal to ``value`` in the value column of ``page``."""
    from licence_svc.core.render import LABEL_W, LEFT

    html = subprocess.run(["pdftotext", "-bbox", "-f", str(page), "-l", str(page), "-", "-"], input=pdf, capture_output=True, check=True).stdout
    boxes = []
    for m in _WORD.finditer(html.decode()):
        x0, y0, x1, y1 = map(float, m.groups()[:4])
        if m.group(5) == value and x0 > LEFT + LABEL_W:
            boxes.append((x0, y0, x1, y1))
    return boxes


def paint(img: Any, boxes: list[tuple[float, float, float, float]], text: str | None = None) -> Any:
    """A white rectangle over each box; with ``text``, that written in its place in the page's font
    (a forger's other name or number)."""
    from PIL import ImageDraw, ImageFont

    out = img.copy()
    k = DPI / 72
    draw = ImageDraw.Draw(out)
    for x0, y0, x1, y1 in boxes:
        draw.rectangle((x0 * k - 2, y0 * k - 2, x1 * k + 2, y1 * k + 2), fill="white")
        if text:
            font = ImageFont.truetype(str(ROOT / "licence_svc" / "fonts" / "wqy-zenhei.ttc"), round((y1 - y0) * k))
            draw.text((x0 * k, y0 * k), text, font=font, fill=(26, 26, 26))
    return out


def other_value(value: str, rng: random.Random) -> str:
    """Another value of the same sort, sharing no character with ``value`` where it is a name."""
    from licence_svc.core.checkdigits import credit_code_check_char, id_number_check_char

    if value[:1].isdigit() and len(value) == 18 and value[:2] != "91":
        first17 = f"{rng.randint(110000, 659000)}{rng.randint(1950, 2005)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
        return first17 + id_number_check_char(first17)
    if len(value) == 18:
        first17 = "91" + f"{rng.randint(110000, 659000)}" + "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(9))
        return first17 + credit_code_check_char(first17)
    if value.endswith("公司"):
        return next(c for c in rng.sample(COMPANIES, len(COMPANIES)) if c != value)
    while True:
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(len(value) - 1 or 1))
        if not set(name) & set(value):
            return name


def degrade(img: Any, how: str, rng: random.Random) -> bytes:
    from PIL import Image

    if how in ("rotated", "photo"):
        angle = rng.uniform(5, 10) * rng.choice((-1, 1))
        img = img.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(150, 150, 145))
    if how in ("scaled60", "photo"):
        img = img.resize((round(img.width * 0.6), round(img.height * 0.6)), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    if how in ("jpeg40", "photo"):
        img.save(buf, "JPEG", quality=40)
    else:
        img.save(buf, "PNG")
    return buf.getvalue()


def lookup(data: dict[str, Any], path: str) -> str:
    node: Any = data
    for part in path.split("."):
        node = node[int(part)] if part.isdigit() else node[part]
    return str(node)


SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬鹏辉建国志海波宁俊峰欣怡子涵雨轩浩然梓萱"
COMPANIES = ("上海宏远贸易有限公司", "深圳市前海数联科技有限公司", "杭州西溪文化传媒有限公司", "成都天府新材料股份有限公司")


def variant(kind: str, rng: random.Random) -> dict[str, Any]:
    """The sample of ``kind`` for another holder: name, id number (valid check digit, birth date and
    sex agreeing) or credit code, dates."""
    from licence_svc.core.checkdigits import CREDIT_ALPHABET, credit_code_check_char, id_number_check_char

    def name() -> str:
        return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))

    def person(birth: str | None = None, sex: str | None = None) -> tuple[str, str, str]:
        birth = birth or f"{rng.randint(1950, 2005)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        sex = sex or rng.choice("男女")
        first17 = f"{rng.randint(110000, 659000)}{birth.replace('-', '')}{rng.randint(0, 99):02d}{rng.choice('13579' if sex == '男' else '02468')}"
        return first17 + id_number_check_char(first17), birth, sex

    data = load_sample(kind)
    if kind in ("id_card", "degree_certificate"):
        data["id_number"], data["birth_date"], data["sex"] = person()
        data["name"] = name()
    elif kind == "household_register":
        data["household_number"] = f"{rng.randint(10**11, 10**12 - 1)}"
        for m in data["members"]:
            m["name"] = name()
            m["id_number"], m["birth_date"], m["sex"] = person(sex=m["sex"])
    elif kind == "driving_licence":  # of age when first licensed in 2006
        data["licence_number"], data["birth_date"], data["sex"] = person(f"{rng.randint(1950, 1986)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}")
        data["name"] = name()
        data["archive_number"] = f"{rng.randint(10**11, 10**12 - 1)}"
    elif kind == "business_licence":
        first17 = "9" + "1" + f"{rng.randint(110000, 659000)}" + "".join(rng.choice(CREDIT_ALPHABET) for _ in range(9))
        data["credit_code"] = first17 + credit_code_check_char(first17)
        data["name"] = rng.choice(COMPANIES)
        data["legal_representative"] = name()
    if kind == "degree_certificate":
        data["certificate_number"] = f"{rng.randint(10**15, 10**16 - 1)}"
    return data


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--seed", type=int, default=20240115)
    ap.add_argument("--variants", type=int, default=2, help="licences per kind besides the sample")
    ap.add_argument("--repeats", type=int, default=3, help="angles tried for each turned picture")
    args = ap.parse_args()
    if not (shutil.which("tesseract") and shutil.which("pdftoppm")):
        raise SystemExit("needs tesseract-ocr, tesseract-ocr-chi-sim and poppler-utils")
    platform, _ = throwaway_platform(prefix="licence-bench-ocr-")

    from licence_svc.services import pictures
    from licence_svc.services.issuing import issue

    ocr_times: list[float] = []
    real_run_ocr = pictures.run_ocr

    def timed_ocr(*a: Any, **kw: Any) -> str:
        t = time.perf_counter()
        try:
            return real_run_ocr(*a, **kw)
        finally:
            ocr_times.append(time.perf_counter() - t)

    pictures.run_ocr = timed_ocr  # type: ignore[assignment]
    rng = random.Random(args.seed)
    now = datetime.now(timezone.utc)
    degradations = ("clean", "rotated", "scaled60", "jpeg40", "photo")
    tally: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))  # [hits, n]
    genuine_outcomes: dict[str, int] = defaultdict(int)
    misses: list[str] = []
    false_mismatches: list[str] = []
    check_times: list[float] = []

    def check(picture: bytes) -> tuple[str, bool | None, str]:
        t = time.perf_counter()
        report = pictures.check_image(platform, picture, now=now)
        check_times.append(time.perf_counter() - t)
        printed = next(c for c in report.checks if c.name == "printed_text")
        return report.verdict, printed.passed, printed.reason

    for kind, number in [(k, n) for k in KINDS for n in range(1 + args.variants)]:
        data = load_sample(kind) if number == 0 else variant(kind, rng)
        issued = issue(platform, kind=kind, data=data, department=department_code(kind))
        for page in PAGES.get(kind, (1,)):
            clean = render(issued.pdf, page)
            tag = f"{kind}#{number}-p{page}"
            for how in [h for h in degradations for _ in range(args.repeats if h in ("rotated", "photo") else 1)]:
                verdict, passed, reason = check(degrade(clean, how, rng))
                genuine_outcomes[{True: "passed", None: "skipped", False: "failed"}[passed]] += 1
                tally["genuine_" + how][kind][1] += 1
                tally["genuine_" + how][kind][0] += passed is not False and verdict == "valid"
                if passed is False or verdict != "valid":
                    false_mismatches.append(f"{tag} {how}: {verdict} {reason}")
                for p, label, path in PAINTED[kind]:
                    if p != page:
                        continue
                    value = lookup(data, path)
                    boxes = value_boxes(issued.pdf, page, value)
                    assert boxes, (kind, page, label)
                    for forgery, text in (("painted_", None), ("replaced_", other_value(value, rng))):
                        verdict, passed, reason = check(degrade(paint(clean, boxes, text), how, rng))
                        caught = verdict == "tampered" and label in reason
                        tally[forgery + how][kind][1] += 1
                        tally[forgery + how][kind][0] += caught
                        if not caught:
                            misses.append(f"{forgery}{tag} {label} {how}: {verdict} {passed} {reason}")

    def rate(prefix: str) -> dict[str, Any]:
        per_how = {}
        hits = n = 0
        for how in degradations:
            row = tally[prefix + how]
            h, c = sum(v[0] for v in row.values()), sum(v[1] for v in row.values())
            per_how[how] = {"rate": round(h / c, 3), "of": c, "per_kind": {k: f"{v[0]}/{v[1]}" for k, v in row.items()}}
            hits, n = hits + h, n + c
        return {"overall": round(hits / n, 3), "pictures": n, "by_degradation": per_how}

    genuine = rate("genuine_")
    genuine_mismatch = round(len(false_mismatches) / genuine["pictures"], 3)
    results = {
        "genuine_false_mismatch_rate": genuine_mismatch,
        "genuine_pictures": genuine["pictures"],
        "genuine_printed_text_outcomes": dict(genuine_outcomes),
        "genuine_not_mismatched": genuine,
        "painted_catch_rate": rate("painted_"),
        "replaced_catch_rate": rate("replaced_"),
        "ocr_seconds_per_picture": {
            "median": round(statistics.median(ocr_times), 3),
            "p90": round(sorted(ocr_times)[int(0.9 * len(ocr_times))], 3),
            "max": round(max(ocr_times), 3),
            "runs": len(ocr_times),
        },
        "check_image_seconds_per_picture": {"median": round(statistics.median(check_times), 3), "max": round(max(check_times), 3)},
        "false_mismatches": false_mismatches,
        "missed": misses,
        "settings": {
            "dpi": DPI,
            "licences_per_kind": 1 + args.variants,
            "degradations": {"rotated": f"5-10° either way, {args.repeats} angles", "scaled60": "60 %", "jpeg40": "JPEG quality 40", "photo": f"all three, {args.repeats} angles"},
            "seed": args.seed,
        },
    }
    emit(results, args.json, ensure_ascii=False)


if __name__ == "__main__":
    main()
