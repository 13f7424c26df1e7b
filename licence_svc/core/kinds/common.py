"""What several kinds share: vocabularies, the fields of a person, the defining authorities' codes,
and the ways Chinese documents print dates and periods."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from ..checkdigits import credit_code_check_char
from ..dates import cn_date
from .spec import FieldSpec

SEXES = ("男", "女")
# GB/T 3304: the 56 ethnic groups, plus 其他 and 外国血统中国籍人士.
ETHNICITIES = (
    "汉 蒙古 回 藏 维吾尔 苗 彝 壮 布依 朝鲜 满 侗 瑶 白 土家 哈尼 哈萨克 傣 黎 傈僳 佤 畲 高山 拉祜 水 东乡 纳西 景颇 "
    "柯尔克孜 土 达斡尔 仫佬 羌 布朗 撒拉 毛南 仡佬 锡伯 阿昌 普米 塔吉克 怒 乌孜别克 俄罗斯 鄂温克 德昂 保安 裕固 京 "
    "塔塔尔 独龙 鄂伦春 赫哲 门巴 珞巴 基诺 其他 外国血统中国籍人士"
).split()


def _authority_code(first17: str) -> str:
    return first17 + credit_code_check_char(first17)


# Credit codes of the authorities that define each kind; configuration data, replaceable with the
# codes published by the defining ministries.
MPS_CODE = _authority_code("11100000000019000")  # 公安部
MOE_CODE = _authority_code("11100000000012000")  # 教育部 (国务院学位委员会)
SAMR_CODE = _authority_code("11100000000014000")  # 国家市场监督管理总局

PERSON_NAME = FieldSpec("name", "姓名", max_length=40)
SEX = FieldSpec("sex", "性别", "enum", choices=SEXES)
ETHNICITY = FieldSpec("ethnicity", "民族", "ethnicity")
BIRTH = FieldSpec("birth_date", "出生", "date")
ADDRESS = FieldSpec("address", "住址", max_length=120)
ID_NUMBER = FieldSpec("id_number", "公民身份号码", "id_number")


# -- values as the real documents print them ----------------------------------------------------


def cn(iso: str) -> str:
    """2020-05-01 → 2020年05月01日."""
    return cn_date(date.fromisoformat(iso))


def dot(iso: str) -> str:
    """2020-05-01 → 2020.05.01, as the identity card prints its validity period."""
    return iso.replace("-", ".")


def period(start: str, end: str | None, fmt: Callable[[str], str], sep: str) -> str:
    """A validity period; an open end (null) prints as 长期."""
    return f"{fmt(start)}{sep}{'长期' if end is None else fmt(end)}"
