"""A synthetic but believable province of public hospitals, as pandas frames.

:func:`generate` returns the registry, the monthly financial reports, the
operations-management progress reports, when each monthly report arrived and
which never did. Everything is drawn from one ``numpy.random.Generator(seed)``,
so a seed always gives identical frames. The columns are the codes of
``spec/submission-format.md``; the values are its Chinese value sets.

The hospitals are invented: every name ends with （演示） so that no real hospital
is ever shown with invented finances. Magnitudes follow public national figures
(cited where they are used), so the dashboard shows plausible numbers.

Sources of the magnitudes (national figures; 吉林 sits close to or below them):
- 国家卫生健康委《2023年我国卫生健康事业发展统计公报》: 医院次均门诊费用 361.6 元,
  次均住院费用 10 315.8 元 (all hospitals, all grades).
- 《中国卫生健康统计年鉴》 公立医院 by grade (2022–2023 data): 门诊病人次均医药费用
  三级 ≈ 390 元 / 二级 ≈ 250 元; 住院病人人均医药费用 三级 ≈ 12 900 元 / 二级 ≈ 6 400 元;
  出院者平均住院日 ≈ 8–9 日; 医护比 ≈ 1:1.1–1.6 in hospitals.
- 三级公立医院绩效考核国家监测分析 (国考, 2021–2022 年度 reports): 医疗服务收入占医疗收入比例
  ≈ 26–34 %, 人员支出占业务支出比重 ≈ 35–45 %, 万元收入能耗支出 ≈ 90 元 (三级) and
  ≈ 125 元 (二级 国考), 资产负债率 median ≈ 44 % with a tail of heavily indebted hospitals,
  and a sizeable minority (roughly a fifth to two fifths) of hospitals 收不抵支 in a year.
- Size: a 三级甲等 hospital takes in ≈ 8–15 亿元 a year (the largest provincial ones 20–60 亿),
  a 二级 hospital ≈ 0.5–3 亿, a 一级 hospital a few thousand 万元.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from opsmon.ingest import uscc
from opsmon.ingest.fields import MONTHLY, PROGRESS, REGISTRY
from opsmon.periods import LOCAL_TZ, month_index

DEMO_SUFFIX = "（演示）"
MONTHLY_COLUMNS = [f.code for f in MONTHLY]
PROGRESS_COLUMNS = [f.code for f in PROGRESS]
REGISTRY_COLUMNS = [f.code for f in REGISTRY]
MONEY_COLUMNS = [f.code for f in MONTHLY if f.type == "money"]
COUNT_COLUMNS = [f.code for f in MONTHLY if f.type == "count"]
OPTIONAL_MONEY = [f.code for f in MONTHLY if f.type == "money" and not f.required]

DUE_DAY = 10  # reports are due on the 10th of the month after the period
TIER3_LEVELS = ("三级甲等", "三级乙等", "三级")
TIER2_LEVELS = ("二级甲等", "二级乙等", "二级")

# GB/T 2260 province codes (first two digits) → name, for titles and provincial hospitals.
PROVINCES = {
    "11": "北京市", "12": "天津市", "13": "河北省", "14": "山西省", "15": "内蒙古自治区",
    "21": "辽宁省", "22": "吉林省", "23": "黑龙江省", "31": "上海市", "32": "江苏省",
    "33": "浙江省", "34": "安徽省", "35": "福建省", "36": "江西省", "37": "山东省",
    "41": "河南省", "42": "湖北省", "43": "湖南省", "44": "广东省", "45": "广西壮族自治区",
    "46": "海南省", "50": "重庆市", "51": "四川省", "52": "贵州省", "53": "云南省",
    "54": "西藏自治区", "61": "陕西省", "62": "甘肃省", "63": "青海省", "64": "宁夏回族自治区",
    "65": "新疆维吾尔自治区",
}
# Short names of 吉林's prefectures as they appear in hospital names (延边州, not the full 自治州).
PREFECTURE_NAMES = {
    "220100": "长春市", "220200": "吉林市", "220300": "四平市", "220400": "辽源市",
    "220500": "通化市", "220600": "白山市", "220700": "松原市", "220800": "白城市",
    "222400": "延边州",
}

# Fixed-date public holidays on which nobody submits (元旦, 劳动节, 国庆节); the movable
# Spring Festival is left out: the due date never falls in it by more than a day or two.
_HOLIDAYS = {(1, 1), (5, 1), (5, 2), (5, 3), (5, 4), (5, 5), (10, 1), (10, 2), (10, 3), (10, 4),
             (10, 5), (10, 6), (10, 7)}


@dataclass
class DemoData:
    """The generated province.

    ``registry``, ``monthly`` and ``progress`` have exactly the spec's columns
    (codes). ``arrivals`` says when each monthly report arrived (local time, naive),
    ``missing`` lists the (hospital_code, period) pairs never reported.
    ``corrections`` lists the monthly rows first submitted with a wrong
    ``other_revenue`` and corrected later: their first values and when the
    correction arrived (``monthly`` holds the corrected, current values).
    """

    registry: pd.DataFrame
    monthly: pd.DataFrame
    progress: pd.DataFrame
    arrivals: pd.DataFrame
    missing: pd.DataFrame
    corrections: pd.DataFrame
    start_period: str
    end_period: str
    now: pd.Timestamp
    province_name: str


def default_now(end_period: str) -> pd.Timestamp:
    """The default "today": the 23rd of the month after *end_period*, 09:00 local time."""
    p = pd.Period(end_period, freq="M") + 1
    return pd.Timestamp(year=p.year, month=p.month, day=23, hour=9)


def progress_received_at(period: str) -> pd.Timestamp:
    """When the progress report for *period* arrives: the 15th of the following month, 10:00."""
    p = pd.Period(period, freq="M") + 1
    return pd.Timestamp(year=p.year, month=p.month, day=15, hour=10)


def tier_of(level: str) -> str:
    """三级 / 二级 / 一级 for a registry level (未定级 counts with 一级)."""
    if level.startswith("三级"):
        return "三级"
    if level.startswith("二级"):
        return "二级"
    return "一级"


# --------------------------------------------------------------------------------------
# Geography and hospitals


def _cn(n: int) -> str:
    """Chinese numeral for 1–99 (第一, 第十二, 第二十)."""
    digits = "零一二三四五六七八九"
    if n < 10:
        return digits[n]
    tens, ones = divmod(n, 10)
    return (digits[tens] if tens > 1 else "") + "十" + (digits[ones] if ones else "")


@dataclass
class _Geo:
    province_name: str
    prefs: list[str]  # capital first
    pref_name: dict[str, str]
    seats: dict[str, list[str]]  # prefecture → its seat's county-level codes (districts)
    counties: list[str]  # county-level units outside the seats (县, 县级市)
    name: dict[str, str]
    pref_of: dict[str, str]
    capital: str


def _geo(counties: pd.DataFrame) -> _Geo:
    frame = counties.astype({"adcode": str, "prefecture_adcode": str}).sort_values("adcode")
    name = dict(zip(frame["adcode"], frame["name"].astype(str), strict=True))
    pref_of: dict[str, str] = {}
    seats: dict[str, list[str]] = defaultdict(list)
    others: list[str] = []
    for code, pref in zip(frame["adcode"], frame["prefecture_adcode"], strict=True):
        if pref.endswith("0000"):  # directly under the province (省直管): a county of its own
            pref_of[code] = code
            others.append(code)
            continue
        pref_of[code] = pref
        # A district (市辖区) is code digits 5–6 < 20 and not a 县/县级市/旗 by name.
        if code[4:6] < "20" and not name[code].endswith(("县", "市", "旗")):
            seats[pref].append(code)
        else:
            others.append(code)
    prefs = sorted({p for p in pref_of.values() if p in set(frame["prefecture_adcode"])})
    if not prefs:
        # A municipality whose districts report straight to it (重庆): each district stands in
        # for a prefecture with itself as the seat, so city-owned hospitals have a home.
        prefs = [code for code in others if name[code].endswith("区")] or others[:1]
        for pref in prefs:
            seats[pref].append(pref)
            others.remove(pref)
    for pref in prefs:
        if not seats[pref]:  # no districts (e.g. 延边州): its first city is the seat (延吉市)
            first = min(c for c in others if pref_of[c] == pref)
            seats[pref].append(first)
            others.remove(first)
    capitals = [p for p in prefs if p[2:] == "0100"]
    capital = capitals[0] if capitals else max(prefs, key=lambda p: (len(seats[p]), p))
    prefs = [capital] + [p for p in prefs if p != capital]
    province = PROVINCES.get(frame["adcode"].iloc[0][:2], "本省")
    pref_name = {p: PREFECTURE_NAMES.get(p, name[seats[p][0]]) for p in prefs}
    return _Geo(province, prefs, pref_name, dict(seats), others, name, pref_of, capital)


# Specialty hospitals: major ones (二级 and above) and small ones (一级) draw from separate
# name pools, so a 儿童医院 is never a 一级 clinic.
_SPECIALTY = {
    ("city", True): ("肿瘤医院", "儿童医院", "传染病医院", "精神卫生中心", "心血管病医院", "妇产医院",
                     "结核病医院", "胸科医院"),
    ("city", False): ("康复医院", "口腔医院", "眼科医院", "骨科医院", "皮肤病医院", "耳鼻喉医院"),
    ("county", True): ("传染病医院", "精神卫生中心"),
    ("county", False): ("精神病医院", "康复医院", "骨伤医院", "口腔医院", "眼科医院"),
}


def _suffix(category: str, owner_kind: str, k: int, owner_name: str, major: bool) -> str:
    """The k-th (0-based) name of *category* an owner gives its hospitals."""
    if category == "综合医院":
        if owner_kind == "province":
            return f"第{_cn(k + 1)}人民医院"
        if owner_kind == "city":
            return "中心医院" if k == 0 else f"第{_cn(k)}人民医院"
        return "人民医院" if k == 0 else f"第{_cn(k + 1)}人民医院"
    if category == "专科医院":
        pool = _SPECIALTY["county" if owner_kind in ("county", "district") else "city", major]
        return pool[k] if k < len(pool) else f"第{_cn(k - len(pool) + 1)}专科医院"
    stem = {
        "中医医院": "中医院" if owner_kind == "city" else "中医医院",
        "中西医结合医院": "中西医结合医院",
        "妇幼保健院": "妇幼保健院",
        "民族医医院": "蒙医医院" if "蒙古族" in owner_name else "朝医医院",
    }[category]
    return stem if k == 0 else f"第{_cn(k + 1)}{stem}"


class _Builder:
    """Creates hospital specs with unique names, placed in the right county."""

    def __init__(self, geo: _Geo, rng: np.random.Generator):
        self.geo = geo
        self.rng = rng
        self.counter: dict[tuple[str, str, str], int] = defaultdict(int)
        self.names: set[str] = set()

    def _seat_county(self, pref: str) -> str:
        seats = self.geo.seats[pref]
        w = 1.0 / np.arange(1, len(seats) + 1)  # the old central districts hold most big hospitals
        return seats[int(self.rng.choice(len(seats), p=w / w.sum()))]

    def make(self, owner_kind: str, owner: str, category: str, level: str) -> dict:
        geo = self.geo
        if owner_kind == "province":
            owner_name, pref, affiliation = geo.province_name, geo.capital, "省属"
            adcode = self._seat_county(pref)
        elif owner_kind == "city":
            owner_name, pref, affiliation = geo.pref_name[owner], owner, "市属"
            adcode = self._seat_county(owner)
        else:  # a district's or county's own hospital
            owner_name, pref, affiliation, adcode = geo.name[owner], geo.pref_of[owner], "县属", owner
        major = not level.startswith(("一级", "未定级"))
        key = (owner_kind, owner, category + ("" if category != "专科医院" else str(major)))
        while True:
            k = self.counter[key]
            self.counter[key] += 1
            name = owner_name + _suffix(category, owner_kind, k, owner_name, major) + DEMO_SUFFIX
            if name not in self.names:
                self.names.add(name)
                break
        return {"name": name, "adcode": adcode, "prefecture": pref, "level": level, "category": category,
                "affiliation": affiliation, "owner_kind": owner_kind, "owner": owner, "ordinal": k}


def _tier3(b: _Builder, geo: _Geo, rng: np.random.Generator) -> Iterator[dict]:
    """三级 hospitals in order of precedence: provincial and prefecture-seat ones first."""
    yield b.make("province", "", "综合医院", "三级甲等")
    yield b.make("province", "", "中医医院", "三级甲等")
    for p in geo.prefs:
        yield b.make("city", p, "综合医院", "三级甲等")
    yield b.make("province", "", "综合医院", "三级甲等")
    yield b.make("province", "", "专科医院", "三级甲等")
    for p in geo.prefs:
        yield b.make("city", p, "综合医院", "三级甲等" if p == geo.capital or rng.random() < 0.55 else "三级乙等")
    yield b.make("province", "", "妇幼保健院", "三级甲等")
    yield b.make("province", "", "中西医结合医院", "三级甲等")
    for p in geo.prefs:
        yield b.make("city", p, "中医医院", "三级甲等" if rng.random() < 0.5 else "三级乙等")
    yield b.make("province", "", "专科医院", "三级甲等")
    yield b.make("city", geo.capital, "专科医院", "三级")
    cities = [c for c in geo.counties if geo.name[c].endswith("市")] or list(geo.counties)
    for c in rng.permutation(cities)[:2]:  # a couple of big 县级市 hospitals made it to 三级乙等
        yield b.make("county", str(c), "综合医院", "三级乙等")
    while True:
        for p in geo.prefs:
            yield b.make("city", p, "综合医院", "三级乙等")
        yield b.make("province", "", "综合医院", "三级乙等")


def _tier2(b: _Builder, geo: _Geo, rng: np.random.Generator) -> Iterator[dict]:
    """二级 hospitals: each county's 人民医院, 中医医院 and 妇幼保健院 first, then city ones."""
    for c in geo.counties:
        yield b.make("county", c, "综合医院", "二级甲等")
    for c in geo.counties:
        yield b.make("county", c, "中医医院", "二级甲等" if rng.random() < 0.55 else "二级乙等")
    for c in geo.counties:
        yield b.make("county", c, "妇幼保健院", str(rng.choice(TIER2_LEVELS, p=[0.25, 0.35, 0.4])))
    for p in geo.prefs:
        yield b.make("city", p, "妇幼保健院", "二级甲等")
    for p in geo.prefs:
        yield b.make("city", p, "综合医院", "二级甲等")
    for p in geo.prefs:
        if not b.counter[("city", p, "中医医院")]:
            yield b.make("city", p, "中医医院", "二级甲等")
    for p in geo.prefs:
        yield b.make("city", p, "专科医院", str(rng.choice(["二级甲等", "二级"])))
    for p in geo.prefs[:2]:
        yield b.make("city", p, "中西医结合医院", "二级甲等" if p == geo.capital else "二级乙等")
    for c in rng.permutation(geo.counties):
        yield b.make("county", str(c), "综合医院", "二级乙等")
    while True:
        for d in (d for p in geo.prefs for d in geo.seats[p]):
            yield b.make("district", d, "综合医院", "二级")
        for p in geo.prefs:
            yield b.make("city", p, "专科医院", "二级")
        for c in geo.counties:
            yield b.make("county", c, "综合医院", "二级")


def _tier1(b: _Builder, geo: _Geo, rng: np.random.Generator) -> Iterator[dict]:
    """一级 and 未定级 hospitals: district and county hospitals, a few small specialty ones."""
    def level() -> str:
        return "一级" if rng.random() < 0.72 else "未定级"

    districts = [d for p in geo.prefs for d in geo.seats[p]]
    for d in districts:
        yield b.make("district", d, "综合医院", level())
    for c in geo.counties:
        yield b.make("county", c, "综合医院", level())
    ethnic = [c for c in geo.counties
              if "朝鲜族" in geo.name[c] or "蒙古族" in geo.name[c] or "延边" in geo.pref_name.get(geo.pref_of[c], "")]
    for c in ethnic[:3]:
        yield b.make("county", c, "民族医医院", level())
    for c in geo.counties[::3]:
        yield b.make("county", c, "专科医院", level())
    for d in districts[::2]:
        yield b.make("district", d, "中医医院", level())
    for p in geo.prefs:
        yield b.make("city", p, "专科医院", level())
    for c in geo.counties[:2]:
        yield b.make("county", c, "中西医结合医院", level())
    while True:
        for c in geo.counties:
            yield b.make("county", c, "综合医院", level())
        for d in districts:
            yield b.make("district", d, "综合医院", level())


def _take(it: Iterator[dict], n: int) -> list[dict]:
    return [next(it) for _ in range(n)]


# Annual total revenue (元) at the middle of the history, by level; then scaled by category
# and owner. 三级甲等 ≈ 10 亿 (provincial flagships ×2.5–3.5 → 25–60 亿), 二级甲等 ≈ 1.8 亿,
# 一级 ≈ 3 000 万 — see the module docstring for the sources.
_LEVEL_REVENUE = {"三级甲等": 10e8, "三级乙等": 4.5e8, "三级": 3.5e8, "二级甲等": 1.8e8, "二级乙等": 0.8e8,
                  "二级": 0.6e8, "一级": 0.3e8, "未定级": 0.15e8}
_CATEGORY_SIZE = {"综合医院": 1.0, "中医医院": 0.6, "中西医结合医院": 0.5, "专科医院": 0.6, "妇幼保健院": 0.55,
                  "民族医医院": 0.5}


def _hospitals(geo: _Geo, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """The hospitals with their registry fields and the hidden traits that drive their numbers."""
    n3 = max(1, round(0.10 * n))
    n2 = max(1, round(0.50 * n))
    n1 = n - n3 - n2
    b = _Builder(geo, rng)
    specs = _take(_tier3(b, geo, rng), n3) + _take(_tier2(b, geo, rng), n2) + _take(_tier1(b, geo, rng), n1)
    h = pd.DataFrame(specs)
    h["tier"] = h["level"].map(tier_of)

    # Size: level × category × owner, with lognormal spread (truncated at ±2σ).
    owner = np.select(
        [h["owner_kind"].eq("province") & h["category"].eq("综合医院") & h["ordinal"].eq(0),
         h["owner_kind"].eq("province"),
         h["owner_kind"].eq("city") & h["prefecture"].eq(geo.capital),
         h["owner_kind"].eq("county") & h["category"].eq("综合医院") & h["ordinal"].eq(0),
         h["owner_kind"].eq("district")],
        [3.5, 2.5, 1.4, 1.2, 0.9], 1.0)
    spread = np.exp(np.clip(rng.normal(0, 0.28, len(h)), -0.56, 0.56))
    h["annual_revenue"] = (h["level"].map(_LEVEL_REVENUE) * h["category"].map(_CATEGORY_SIZE) * owner * spread)

    # Codes: a valid USCC in the hospital's county, with a random org-code body; unique.
    codes: list[str] = []
    seen: set[str] = set()
    charset = np.array(list(uscc.CHARSET))
    for adcode in h["adcode"]:
        while True:
            code = uscc.make(adcode, "".join(rng.choice(charset, 8)))
            if code not in seen:
                seen.add(code)
                codes.append(code)
                break
    h["hospital_code"] = codes
    h["authority"] = np.where(h["category"].isin(["中医医院", "中西医结合医院", "民族医医院"]), "中医药局", "卫生健康委")

    # 高质量发展试点 and 预算管理 hospitals: big 三级 ones, drawn by size.
    t3 = np.flatnonzero(h["tier"].eq("三级"))
    w = h["annual_revenue"].to_numpy()[t3]
    n_pilot = min(len(t3), max(1, round(0.2 * len(t3))))
    n_budget = min(len(t3), max(1, round(len(t3) / 3)))
    pilot = rng.choice(t3, n_pilot, replace=False, p=w / w.sum())
    budget = rng.choice(t3, n_budget, replace=False, p=w / w.sum())
    h["is_pilot"] = "否"
    h["is_budget_managed"] = "否"
    h.loc[pilot, "is_pilot"] = "是"
    h.loc[budget, "is_budget_managed"] = "是"

    # 医联体/医共体: county hospitals led by their county's 人民医院 (if 二级甲等 or better),
    # or by a 三级 hospital of the prefecture (城市医疗集团, 专科联盟).
    lead = [""] * len(h)
    county_main = {r.owner: r.hospital_code for r in h.itertuples()
                   if r.owner_kind == "county" and r.category == "综合医院" and r.ordinal == 0
                   and r.level in ("二级甲等",) + TIER3_LEVELS}
    tertiary = h[h["tier"].eq("三级")].groupby("prefecture")["hospital_code"].apply(list).to_dict()
    for i, r in enumerate(h.itertuples()):
        if r.tier == "三级" or r.hospital_code in county_main.values():
            continue
        u = rng.random()
        if r.owner_kind == "county" and r.tier == "一级" and r.owner in county_main and u < 0.6:
            lead[i] = county_main[r.owner]
        elif r.owner_kind in ("county", "district") and r.prefecture in tertiary and (
                (r.tier == "二级" and u < 0.2) or (r.owner_kind == "district" and u < 0.5)):
            options = tertiary[r.prefecture]
            lead[i] = options[int(rng.integers(len(options)))]
    h["alliance_lead_code"] = lead
    return h.sort_values(["prefecture", "adcode", "level", "name"], ignore_index=True)


# --------------------------------------------------------------------------------------
# Monthly reports


def _norm(season: list[float]) -> np.ndarray:
    a = np.asarray(season, dtype=float)
    return a / a.mean()


# Seasonality (index by month − 1). Revenue and volumes: Spring Festival dip in February
# (≈ 20 % below January/March), a quieter October (国庆), a mild December peak.
_REVENUE_SEASON = _norm([0.99, 0.81, 1.04, 1.01, 1.00, 1.03, 1.01, 1.00, 1.00, 0.96, 1.03, 1.10])
# Expenses: drugs and consumables follow the patients, salaries do not; December carries
# the year-end settlement (绩效, accruals).
_EXPENSE_SEASON = 0.65 * _REVENUE_SEASON + 0.35 * _norm([1.0, 0.97, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1.18])
# Fiscal money arrives unevenly, more of it at year end.
_FISCAL_SEASON = _norm([0.85, 0.8, 0.95, 0.95, 0.95, 1.1, 0.95, 0.95, 1.05, 0.9, 1.0, 1.55])
# 吉林's heating season (Oct 20 – Apr 5) dominates energy bills.
_ENERGY_SEASON = _norm([1.25, 1.20, 1.10, 0.95, 0.80, 0.85, 0.95, 0.95, 0.80, 0.95, 1.05, 1.15])


def _by_tier(tier: np.ndarray, values: dict[str, float]) -> np.ndarray:
    return np.select([tier == "三级", tier == "二级"], [values["三级"], values["二级"]], values["一级"])


def _ar1(rng: np.random.Generator, shape: tuple[int, int], sd: float, rho: float) -> np.ndarray:
    """Stationary AR(1) noise along axis 1 with marginal standard deviation *sd*."""
    out = np.empty(shape)
    eps = rng.normal(0, sd * np.sqrt(1 - rho**2), shape)
    out[:, 0] = rng.normal(0, sd, shape[0])
    for t in range(1, shape[1]):
        out[:, t] = rho * out[:, t - 1] + eps[:, t]
    return out


def _walk(rng: np.random.Generator, shape: tuple[int, int], sd: float) -> np.ndarray:
    """A random walk starting at 0 (smooth drift of a stock)."""
    steps = rng.normal(0, sd, shape)
    steps[:, 0] = 0
    return steps.cumsum(axis=1)


def _cents(x: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(x, dtype=float) * 100).astype(np.int64)


@dataclass
class _Events:
    """Which hospitals carry the stories the risk rules should find."""

    insolvent: np.ndarray
    arrears: list[tuple[int, int, int]]  # (hospital, first month, end month exclusive)
    ltl_runs: list[tuple[int, int, int]]  # long-term loans rise in each month of [start, end)
    construction: list[tuple[int, list[int]]]  # construction debt drawn in these months


def _handful(n: int) -> int:
    """3–5 for a 300-hospital province, fewer for small test provinces."""
    return int(np.clip(round(n / 60), 1, 5)) if n < 180 else 5


def _events(h: pd.DataFrame, d0: np.ndarray, T: int, rng: np.random.Generator) -> _Events:
    H = len(h)
    tier = h["tier"].to_numpy()
    small = np.flatnonzero(tier != "三级")
    # 资不抵债: 2–4 weak 二级/一级 hospitals (3 for a full province).
    n_insolvent = min(len(small), 3 if H >= 100 else 1)
    order = small[np.argsort(-d0[small] + rng.normal(0, 0.05, len(small)))]
    insolvent = order[:n_insolvent]
    taken = set(insolvent.tolist())

    # 拖欠职工薪酬: weak hospitals (high debt), runs that resolve, persist, or have just begun.
    k = min(_handful(H), len(small) - len(taken))
    weak = [i for i in order[n_insolvent:] if i not in taken][: 3 * k]
    chosen = list(rng.permutation(np.array(weak, dtype=int))[:k]) if weak else []
    # The last shape starts in the final two months; others resolve or run to the end.
    shapes = [(0.10, 0.45), (0.30, 1.0), (None, 1.0), (0.50, 0.78), (0.60, 1.0)]
    arrears = []
    for j, i in enumerate(chosen):
        lo, hi = shapes[j % len(shapes)]
        start = T - 2 if lo is None else min(int(lo * T), T - 1)
        end = T if hi >= 1.0 else max(start + 2, int(hi * T))
        arrears.append((int(i), start, min(end, T)))
        taken.add(int(i))

    # Long-term loans rising 3+ months in a row: bigger hospitals; one run ends this month.
    pool = [i for i in rng.permutation(H) if i not in taken and tier[i] != "一级"]
    ltl_runs = []
    for j in range(min(_handful(H) - 1 if H >= 100 else 1, len(pool)) if T >= 4 else 0):
        i = int(pool.pop())
        length = min(int(rng.integers(3, 6)), T - 1)
        start = T - length if j == 0 else int(rng.integers(1, max(2, T - length)))
        ltl_runs.append((i, start, start + length))
        taken.add(i)

    # 举债建设: construction debt drawn in a few separate months; one draw in the latest month.
    construction = []
    for j in range(min(_handful(H) - 1 if H >= 100 else 1, len(pool)) if T >= 2 else 0):
        i = int(pool.pop())
        draws = int(rng.integers(2, 5))
        months = sorted({int(m) for m in rng.choice(np.arange(1, T, 2), min(draws, max(1, (T - 1) // 2)),
                                                    replace=False)})
        if j == 0:
            months = sorted(set(months[:-1]) | {T - 1})
        construction.append((i, months))
    return _Events(insolvent, arrears, ltl_runs, construction)


def _monthly(h: pd.DataFrame, periods: pd.PeriodIndex, rng: np.random.Generator) -> pd.DataFrame:
    """One row per hospital and month, every identity of the spec exact to the cent."""
    H, T = len(h), len(periods)
    tier = h["tier"].to_numpy()
    cat = h["category"].to_numpy()
    tcm = np.isin(cat, ["中医医院", "中西医结合医院", "民族医医院"]).astype(float)
    mch = (cat == "妇幼保健院").astype(float)
    spec = (cat == "专科医院").astype(float)
    month = periods.month.to_numpy() - 1
    year_idx = periods.year.to_numpy() - periods.year.min()
    tt = (np.arange(T) - (T - 1) / 2) / 12  # years from the middle of the history
    col = np.newaxis

    # Smooth revenue path: size at mid-history × nominal growth (a few percent a year).
    R = h["annual_revenue"].to_numpy()
    growth = rng.normal(0.045, 0.03, H)
    trend = R[:, col] / 12 * np.exp(growth[:, col] * tt)

    fiscal_share = np.clip(_by_tier(tier, {"三级": 0.07, "二级": 0.13, "一级": 0.24}) + 0.07 * mch + 0.05 * spec
                           + rng.normal(0, 0.025, H), 0.02, 0.5)
    other_share = np.clip(rng.normal(0.025, 0.008, H), 0.005, 0.06)
    medical_share = 1 - fiscal_share - other_share
    out_share = np.clip(_by_tier(tier, {"三级": 0.36, "二级": 0.40, "一级": 0.50}) + 0.08 * mch + 0.05 * tcm
                        + rng.normal(0, 0.04, H), 0.2, 0.8)

    # Costs per visit/discharge (统计年鉴: 三级 ≈ 390 / 12 900 元, 二级 ≈ 250 / 6 400 元), rising slowly.
    cost_out = _by_tier(tier, {"三级": 390, "二级": 250, "一级": 165}) * np.exp(rng.normal(0, 0.12, H))
    cost_in = _by_tier(tier, {"三级": 12900, "二级": 6400, "一级": 3800}) * np.exp(rng.normal(0, 0.14, H))
    cost_growth = np.exp(rng.normal(0.01, 0.015, H)[:, col] * tt)
    cost_out_t = cost_out[:, col] * cost_growth
    cost_in_t = cost_in[:, col] * cost_growth

    vol_sd = _by_tier(tier, {"三级": 0.025, "二级": 0.035, "一级": 0.05})[:, col]
    common = np.exp(_ar1(rng, (H, T), 1.0, 0.6) * vol_sd)
    season = _REVENUE_SEASON[month][col, :]
    medical_path = trend * medical_share[:, col] * season * common
    visits = np.maximum(1, np.round(medical_path * out_share[:, col] * np.exp(rng.normal(0, 0.02, (H, T)))
                                    / cost_out_t)).astype(np.int64)
    discharges = np.maximum(1, np.round(medical_path * (1 - out_share[:, col])
                                        * np.exp(rng.normal(0, 0.025, (H, T))) / cost_in_t)).astype(np.int64)
    outpatient = _cents(visits * cost_out_t * np.exp(rng.normal(0, 0.01, (H, T))))
    inpatient = _cents(discharges * cost_in_t * np.exp(rng.normal(0, 0.012, (H, T))))
    medical = outpatient + inpatient
    fiscal = _cents(trend * fiscal_share[:, col] * _FISCAL_SEASON[month][col, :]
                    * np.exp(rng.normal(0, 0.15, (H, T))))
    other = _cents(trend * other_share[:, col] * np.exp(rng.normal(0, 0.2, (H, T))))
    total = medical + fiscal + other

    # Medical revenue by source: 医疗服务收入 (the rest) ≈ 26–34 % (国考 医疗服务收入占比).
    shares = np.stack([
        _by_tier(tier, {"三级": 0.27, "二级": 0.31, "一级": 0.38}) + 0.08 * tcm - 0.03 * mch,  # drugs (中药饮片)
        _by_tier(tier, {"三级": 0.17, "二级": 0.12, "一级": 0.08}) - 0.04 * tcm,  # 卫生材料
        _by_tier(tier, {"三级": 0.135, "二级": 0.14, "一级": 0.12}),  # 检查
        _by_tier(tier, {"三级": 0.115, "二级": 0.125, "一级": 0.11}),  # 化验
    ]) + rng.normal(0, [[0.025], [0.02], [0.015], [0.015]], (4, H))
    shares = np.clip(shares, 0.02, None)
    shares *= np.minimum(1, 0.84 / shares.sum(axis=0))  # keep at least 16 % for services
    jitter = np.clip(np.exp(rng.normal(0, 0.03, (4, H, T))), 0.92, 1.08)
    drug_rev, cons_rev, exam_rev, lab_rev = (
        np.floor(medical * shares[k][:, col] * jitter[k]).astype(np.int64) for k in range(4))

    # Debt ratio: median ≈ 44 %, a tail above 70 %; a few 资不抵债 set below.
    d0 = np.minimum(0.44 * np.exp(rng.normal(0, 0.27, H)), 0.95)
    ev = _events(h, d0, T, rng)
    d0[ev.insolvent] = rng.uniform(1.03, 1.25, len(ev.insolvent))

    # Expenses: the year's margin (hospital level + a yearly shock) sets how far expenses
    # follow revenue; weak, indebted hospitals run deficits (≈ 30 % 收不抵支 in a year).
    margin = (_by_tier(tier, {"三级": 0.035, "二级": 0.02, "一级": 0.008}) - 0.06 * (np.minimum(d0, 1.3) - 0.44)
              + rng.normal(0, 0.028, H))
    for i, *_ in ev.arrears:
        margin[i] -= 0.05
    margin_t = margin[:, col] + rng.normal(0, 0.012, (H, year_idx.max() + 1))[:, year_idx]
    expense = _cents(trend * (1 - margin_t) * _EXPENSE_SEASON[month][col, :] * np.exp(_ar1(rng, (H, T), 0.025, 0.5)))
    b_share = np.clip(rng.normal(0.87, 0.015, H), 0.80, 0.92)
    a_share = np.minimum(np.clip(rng.normal(0.105, 0.012, H), 0.06, 0.15), 0.99 - b_share)
    business = _cents(expense / 100 * b_share[:, col] * np.exp(rng.normal(0, 0.005, (H, T))))
    admin = np.minimum(_cents(expense / 100 * a_share[:, col] * np.exp(rng.normal(0, 0.005, (H, T)))),
                       expense - business)
    other_exp = expense - business - admin
    # 人员经费 / (业务活动费用 + 单位管理费用) ≈ 35–45 % (国考 人员支出占业务支出比重).
    p_share = np.clip(_by_tier(tier, {"三级": 0.385, "二级": 0.41, "一级": 0.44}) + rng.normal(0, 0.03, H), 0.28, 0.58)
    personnel = np.minimum(_cents((business + admin) / 100 * p_share[:, col] * np.exp(rng.normal(0, 0.02, (H, T)))),
                           business + admin)
    # 药品零加成: drug expense ≈ drug revenue; consumables also include non-chargeable items.
    drug_exp = _cents(drug_rev / 100 * rng.uniform(0.97, 1.01, H)[:, col] * np.exp(rng.normal(0, 0.01, (H, T))))
    cons_exp = _cents(cons_rev / 100 * rng.uniform(0.95, 1.02, H)[:, col]
                      + expense / 100 * rng.uniform(0.005, 0.015, H)[:, col])
    # 万元收入能耗支出 ≈ 90 元 (三级) / 125 元 (二级) (国考), heating-season heavy.
    energy_rate = np.clip(_by_tier(tier, {"三级": 88, "二级": 124, "一级": 140})
                          + rng.normal(0, 1, H) * _by_tier(tier, {"三级": 10, "二级": 14, "一级": 18}), 50, 250)
    energy = _cents(trend * energy_rate[:, col] / 1e4 * _ENERGY_SEASON[month][col, :]
                    * np.exp(rng.normal(0, 0.05, (H, T))))

    # ---- stocks: smooth month to month
    assets = R * np.exp(rng.normal(np.log(1.3), 0.2, H))
    asset_growth = growth + rng.normal(0, 0.015, H)
    ta_path = assets[:, col] * np.exp(asset_growth[:, col] * tt + _walk(rng, (H, T), 0.003))
    drift = rng.normal(0, 0.012, H)
    drift[ev.insolvent] = 0.03
    cap = np.where(np.isin(np.arange(H), ev.insolvent), 1.6, 0.98)
    d_path = np.clip(d0[:, col] + drift[:, col] * tt + _walk(rng, (H, T), 0.002), 0.05, cap[:, col])
    tl_base = d_path * ta_path

    # Long-term loans: piecewise constant, repaid in June and December; drawn in event months.
    has_loan = rng.random(H) < _by_tier(tier, {"三级": 0.7, "二级": 0.55, "一级": 0.25})
    ltl0 = has_loan * rng.uniform(0.04, 0.25, H) * tl_base[:, 0]
    construction0 = np.where(has_loan & (rng.random(H) < 0.15), ltl0 * rng.uniform(0.2, 0.7, H), 0.0)
    repay = np.zeros((H, T))
    repay[:, np.isin(month, [5, 11])] = (ltl0 * rng.uniform(0.03, 0.07, H))[:, col]
    draws = np.zeros((H, T))
    cdraws = np.zeros((H, T))
    for i, start, end in ev.ltl_runs:
        if ltl0[i] == 0:
            ltl0[i] = 0.1 * tl_base[i, 0]
        draws[i, start:end] = assets[i] * rng.uniform(0.01, 0.03, end - start)
        repay[i, start:end] = 0
    for i, months in ev.construction:
        if ltl0[i] == 0:
            ltl0[i] = 0.1 * tl_base[i, 0]
        construction0[i] = max(construction0[i], ltl0[i] * rng.uniform(0.3, 0.8))
        amounts = assets[i] * rng.uniform(0.01, 0.03, len(months))
        draws[i, months] = amounts
        cdraws[i, months] = amounts
        repay[i, months] = 0
    ltl_base = ltl0[:, col] - repay.cumsum(axis=1)
    ratio = np.divide(ltl_base, ltl0[:, col], out=np.zeros((H, T)), where=ltl0[:, col] > 0)
    ltl_path = ltl_base + draws.cumsum(axis=1)
    cd_path = construction0[:, col] * ratio + cdraws.cumsum(axis=1)
    # Borrowed money funds buildings: it adds to assets and liabilities alike.
    ta_path = ta_path + draws.cumsum(axis=1)
    tl_path = tl_base + draws.cumsum(axis=1)

    total_assets = _cents(ta_path)
    total_liab = _cents(tl_path)
    long_term = np.minimum(_cents(ltl_path), total_liab)
    construction = np.minimum(_cents(cd_path), long_term)
    other_noncurrent = _cents(tl_path * rng.uniform(0.05, 0.15, H)[:, col])
    current_liab = np.clip(total_liab - long_term - other_noncurrent, 0, None)
    ca_share = rng.uniform(0.38, 0.58, H)
    current_assets = np.minimum(_cents(ta_path * ca_share[:, col] * np.exp(_walk(rng, (H, T), 0.01))), total_assets)
    cash_share = np.where(d0 > 0.7, rng.uniform(0.08, 0.22, H), rng.uniform(0.28, 0.55, H))
    cash = np.minimum(_cents(current_assets / 100 * cash_share[:, col] * np.exp(_walk(rng, (H, T), 0.03))),
                      current_assets)

    # Salary arrears: ramp up over a few months, taper before being settled.
    arrears = np.zeros((H, T))
    monthly_personnel = personnel.mean(axis=1) / 100
    for i, start, end in ev.arrears:
        k = np.arange(end - start)
        resolved = end < T
        shape = np.minimum((k + 1) / 3, 1.0)
        if resolved:
            shape = np.minimum(shape, (end - start - k) / 2)
        arrears[i, start:end] = monthly_personnel[i] * rng.uniform(0.4, 1.5) * shape
    salary_arrears = np.minimum(_cents(arrears), current_liab)

    # Beds from throughput: bed-days / (30.4 × occupancy); ALOS ≈ 8–9 days.
    alos = np.clip(_by_tier(tier, {"三级": 8.6, "二级": 8.2, "一级": 8.6}) + 1.0 * tcm - 2.5 * mch + 1.5 * spec
                   + rng.normal(0, 0.6, H), 4.5, 16)
    bed_days = np.round(discharges * alos[:, col] * np.exp(rng.normal(0, 0.03, (H, T)))).astype(np.int64)
    occupancy = np.where(tier == "三级", rng.uniform(0.88, 1.0, H),
                         np.where(tier == "二级", rng.uniform(0.68, 0.88, H), rng.uniform(0.45, 0.7, H)))
    beds0 = discharges.mean(axis=1) * alos / (30.4 * occupancy)
    beds0 = np.where(beds0 >= 200, np.round(beds0 / 10) * 10, np.maximum(10, np.round(beds0 / 5) * 5))
    bed_path = np.repeat(beds0[:, col], T, axis=1)
    changes = np.flatnonzero(rng.random(H) < 0.25)  # a new ward, or beds handed over: rarely
    for i in changes:
        when = int(rng.integers(min(3, T - 1), T))
        factor = rng.uniform(1.06, 1.18) if rng.random() < 0.8 else rng.uniform(0.90, 0.96)
        bed_path[i, when:] = np.round(beds0[i] * factor)
    open_beds = bed_path.astype(np.int64)

    # Staff: 执业（助理）医师 per bed by grade; 医护比 1:1.1–1.6; slow growth.
    doctors0 = np.maximum(3, beds0 * _by_tier(tier, {"三级": 0.40, "二级": 0.34, "一级": 0.30})
                          * np.exp(rng.normal(0, 0.12, H)))
    nurse_ratio = np.clip(_by_tier(tier, {"三级": 1.5, "二级": 1.3, "一级": 1.05}) + rng.normal(0, 0.12, H), 0.8, 2.1)
    staff_growth = np.exp(rng.normal(0.02, 0.015, H)[:, col] * np.arange(T) / 12)
    doctors = np.round(doctors0[:, col] * staff_growth).astype(np.int64)
    nurses = np.round((doctors0 * nurse_ratio)[:, col] * staff_growth).astype(np.int64)

    # Depreciation follows fixed assets (≈ 9 % a year of non-current assets).
    dep = _cents((total_assets - current_assets) / 100 * rng.uniform(0.07, 0.11, H)[:, col] / 12)

    values: dict[str, np.ndarray] = {
        "total_revenue": total, "medical_revenue": medical, "outpatient_revenue": outpatient,
        "inpatient_revenue": inpatient, "drug_revenue": drug_rev, "consumables_revenue": cons_rev,
        "exam_revenue": exam_rev, "lab_revenue": lab_rev, "fiscal_subsidy_revenue": fiscal,
        "other_revenue": other, "total_expense": expense, "business_expense": business,
        "admin_expense": admin, "other_expense": other_exp, "personnel_expense": personnel,
        "drug_expense": drug_exp, "consumables_expense": cons_exp, "depreciation_expense": dep,
        "energy_expense": energy, "total_assets": total_assets, "current_assets": current_assets,
        "cash": cash, "total_liabilities": total_liab, "current_liabilities": current_liab,
        "long_term_loans": long_term, "construction_debt": construction, "salary_arrears": salary_arrears,
        "outpatient_visits": visits, "discharges": discharges, "inpatient_bed_days": bed_days,
        "open_beds": open_beds, "doctors": doctors, "nurses": nurses,
    }
    frame = pd.DataFrame({
        "hospital_code": np.repeat(h["hospital_code"].to_numpy(), T),
        "period": np.tile(periods.strftime("%Y-%m").to_numpy(), H),
    })
    for code in MONTHLY_COLUMNS[2:]:
        arr = values[code].reshape(-1)
        frame[code] = arr / 100 if code in MONEY_COLUMNS else arr.astype(np.int64)
    for code in MONEY_COLUMNS:
        frame[code] = frame[code].round(2)
    # A few small hospitals keep no cost accounting of drugs, consumables or depreciation.
    small = np.flatnonzero(tier == "一级")
    blank = rng.choice(small, min(len(small), max(1, round(0.12 * len(small)))), replace=False) if len(small) else []
    frame.loc[frame["hospital_code"].isin(h["hospital_code"].to_numpy()[blank]), OPTIONAL_MONEY] = np.nan
    return frame


# --------------------------------------------------------------------------------------
# Arrivals


def _business_days(year: int, month: int, first: int, last: int) -> list[pd.Timestamp]:
    days = pd.date_range(pd.Timestamp(year=year, month=month, day=1), periods=31, freq="D")
    return [d for d in days if d.month == month and first <= d.day <= last and d.weekday() < 5
            and (d.month, d.day) not in _HOLIDAYS]


def _pick_days(rng: np.random.Generator, days: list[pd.Timestamp], k: int) -> list[pd.Timestamp]:
    """*k* of *days* (all if fewer), in calendar order."""
    if len(days) <= k:
        return list(days)
    return [days[i] for i in sorted(rng.choice(len(days), k, replace=False))]


def _arrivals(h: pd.DataFrame, periods: pd.PeriodIndex, now: pd.Timestamp,
              rng: np.random.Generator) -> pd.DataFrame:
    """When each (hospital, period) report arrived (NaT: never).

    Hospitals send on a handful of days each month (the prefecture forwards them in
    batches), so a month's reports come in a few files. ≈ 85 % arrive by the 10th.
    """
    H = len(h)
    tier = h["tier"].to_numpy()
    base = _by_tier(tier, {"三级": 0.955, "二级": 0.895, "一级": 0.82})
    punctual = 1 / (1 + np.exp(-(np.log(base / (1 - base)) + rng.normal(0, 0.7, H))))
    small = (tier == "一级") & (h["annual_revenue"].to_numpy() < h["annual_revenue"].median())
    p_missing_history = np.where(small, 0.015, 0.0)
    rows = []
    for t, period in enumerate(periods):
        nxt = period + 1
        on_days = _business_days(nxt.year, nxt.month, 1, DUE_DAY) or _business_days(nxt.year, nxt.month, 1, 31)[:1]
        late_days = [d for d in _business_days(nxt.year, nxt.month, DUE_DAY + 1, 25)
                     if d + pd.Timedelta(hours=17, minutes=30) < now]
        on_days = _pick_days(rng, on_days, int(rng.integers(5, 7)))
        late_days = _pick_days(rng, late_days, int(rng.integers(2, 4)))
        last = t == len(periods) - 1
        u = rng.random(H)
        p_miss = p_missing_history
        missing = u < p_miss
        if last:
            # Still outstanding this month (≈ 5 %): a fixed share per grade, mostly the habitual laggards.
            p_miss = np.zeros(H)
            missing = np.zeros(H, dtype=bool)
            for t_name, share in (("三级", 0.01), ("二级", 0.04), ("一级", 0.08)):
                idx = np.flatnonzero(tier == t_name)
                k = round(share * len(idx))
                if k:
                    w = 1 - punctual[idx]
                    missing[rng.choice(idx, k, replace=False, p=w / w.sum())] = True
        on_time = ~missing & (u < p_miss + (1 - p_miss) * punctual)
        if not late_days:
            on_time = ~missing
        # Later days are busier: most hospitals send close to the deadline.
        w_on = np.arange(1, len(on_days) + 1, dtype=float)
        w_late = np.arange(len(late_days), 0, -1, dtype=float)
        day_on = rng.choice(len(on_days), H, p=w_on / w_on.sum())
        day_late = rng.choice(len(late_days), H, p=w_late / w_late.sum()) if late_days else np.zeros(H, int)
        minutes = rng.integers(0, 9 * 60, H)  # business hours, 08:30–17:30
        seconds = rng.integers(0, 60, H)
        # Whole-array arithmetic (a Python loop per hospital-month took minutes at national size).
        on_arr = pd.DatetimeIndex(on_days)
        late_arr = pd.DatetimeIndex(late_days) if late_days else on_arr[:1]  # unused: all on time then
        late_pick = late_arr[np.minimum(day_late, len(late_arr) - 1)]
        day = np.where(on_time, on_arr[day_on].to_numpy(), late_pick.to_numpy())
        received = pd.DatetimeIndex(day) + pd.to_timedelta(510 * 60 + minutes * 60 + seconds, unit="s")
        received = received.where(~missing & (received <= now))
        rows.append(pd.DataFrame({"hospital_code": h["hospital_code"].to_numpy(), "period": str(period),
                                  "received_at": received}))
    return pd.concat(rows, ignore_index=True)


def _corrections(monthly: pd.DataFrame, arrivals: pd.DataFrame, periods: pd.PeriodIndex, now: pd.Timestamp,
                 rng: np.random.Generator) -> pd.DataFrame:
    """≈ 1 % of historical rows were first sent with a wrong 其他收入 and corrected later."""
    out = []
    by_period = arrivals.groupby("period")
    for period in periods[:-1]:
        nxt = period + 1
        days = _business_days(nxt.year, nxt.month, 26, 31) or _business_days((nxt + 1).year, (nxt + 1).month, 1, 5)
        day = days[int(rng.integers(len(days)))]
        at = day + pd.Timedelta(minutes=14 * 60 + int(rng.integers(0, 180)), seconds=int(rng.integers(0, 60)))
        if at > now:
            continue
        arrived = by_period.get_group(str(period))
        candidates = arrived[arrived["received_at"] < day]["hospital_code"].to_numpy()
        k = int(rng.binomial(len(candidates), 0.01))
        for code in sorted(rng.choice(candidates, k, replace=False).tolist()) if k else []:
            out.append((code, str(period), at, float(rng.uniform(0.2, 0.8))))
    frame = pd.DataFrame(out, columns=["hospital_code", "period", "received_at", "factor"])
    rows = frame.merge(monthly[["hospital_code", "period", "other_revenue", "total_revenue"]],
                       on=["hospital_code", "period"], how="left")
    # The first submission left out part of 其他收入; 收入合计 followed, so identities held.
    first_other = (rows["other_revenue"] * rows["factor"]).round(2)
    frame["first_other_revenue"] = first_other
    frame["first_total_revenue"] = ((_cents(rows["total_revenue"]) - _cents(rows["other_revenue"])
                                     + _cents(first_other)) / 100).round(2)
    return frame.drop(columns="factor")


# --------------------------------------------------------------------------------------
# Progress reports


def _months(period: str) -> int:
    return month_index(pd.Period(period, freq="M"))


def _adoption(u: np.ndarray, anchors: list[tuple[str, float]]) -> np.ndarray:
    """Month ordinal at which a hospital with quantile *u* adopts, from (period, share) anchors."""
    months = np.array([_months(p) for p, _ in anchors], dtype=float)
    shares = np.array([s for _, s in anchors])
    return np.ceil(np.interp(u, shares, months))


# Share of hospitals that have the thing by a date (piecewise linear); the 三级 platform
# curve is the national target (≥ 50 % by 2025-12, 国卫财务函〔2024〕132号) slightly exceeded.
_CURVES: dict[str, dict[str, list[tuple[str, float]]]] = {
    "platform": {
        "三级": [("2020-12", 0), ("2022-12", 0.12), ("2023-12", 0.30), ("2025-12", 0.62), ("2026-09", 0.87),
                ("2027-12", 1)],
        "二级": [("2021-12", 0), ("2023-12", 0.20), ("2025-12", 0.36), ("2026-12", 0.47), ("2028-12", 0.8),
                ("2030-12", 1)],
        "一级": [("2022-12", 0), ("2025-12", 0.08), ("2026-12", 0.15), ("2030-12", 0.6), ("2035-12", 1)],
    },
    "ops_committee": {
        "三级": [("2019-12", 0), ("2022-12", 0.8), ("2024-06", 0.97), ("2025-06", 1)],
        "二级": [("2020-12", 0), ("2023-12", 0.6), ("2025-12", 0.88), ("2026-12", 0.95), ("2028-12", 1)],
        "一级": [("2021-12", 0), ("2023-12", 0.2), ("2026-12", 0.45), ("2030-12", 1)],
    },
    "ops_department": {
        "三级": [("2020-06", 0), ("2023-06", 0.8), ("2025-06", 0.97), ("2026-06", 1)],
        "二级": [("2021-06", 0), ("2023-12", 0.45), ("2025-12", 0.8), ("2026-12", 0.9), ("2029-12", 1)],
        "一级": [("2022-06", 0), ("2024-12", 0.12), ("2026-12", 0.3), ("2032-12", 1)],
    },
    "chief_accountant": {
        "三级": [("2018-12", 0), ("2023-12", 0.7), ("2026-12", 0.9), ("2029-12", 1)],
        "二级": [("2019-12", 0), ("2023-12", 0.15), ("2026-12", 0.3), ("2035-12", 1)],
        "一级": [("2022-12", 0), ("2026-12", 0.03), ("2040-12", 1)],
    },
    "caliber_done": {
        "三级": [("2022-12", 0), ("2023-12", 0.3), ("2026-12", 0.8), ("2028-12", 1)],
        "二级": [("2023-06", 0), ("2023-12", 0.1), ("2026-12", 0.45), ("2030-12", 1)],
        "一级": [("2024-06", 0), ("2026-12", 0.1), ("2034-12", 1)],
    },
    "risk_register": {
        "三级": [("2021-12", 0), ("2023-12", 0.5), ("2026-09", 0.95), ("2027-06", 1)],
        "二级": [("2022-06", 0), ("2023-12", 0.3), ("2026-09", 0.75), ("2028-12", 1)],
        "一级": [("2022-12", 0), ("2023-12", 0.1), ("2026-09", 0.4), ("2031-12", 1)],
    },
    "internal_control_review": {
        "三级": [("2018-12", 0), ("2023-12", 0.8), ("2025-12", 1)],
        "二级": [("2019-12", 0), ("2023-12", 0.5), ("2026-09", 0.85), ("2028-12", 1)],
        "一级": [("2020-12", 0), ("2023-12", 0.3), ("2026-09", 0.6), ("2031-12", 1)],
    },
}


def _progress(h: pd.DataFrame, periods: pd.PeriodIndex, now: pd.Timestamp,
              rng: np.random.Generator) -> pd.DataFrame:
    """Quarterly (二级+) and yearly (一级/未定级) progress: a rollout that never goes backwards."""
    H = len(h)
    tier = h["tier"].to_numpy()
    leader = ((h["is_pilot"] == "是") | (h["is_budget_managed"] == "是")).to_numpy()
    quarter_ends = [p for p in periods if p.month in (3, 6, 9, 12) and progress_received_at(str(p)) <= now]
    if not quarter_ends:
        return pd.DataFrame(columns=PROGRESS_COLUMNS)
    # A hospital's capability makes it early on everything (pilots and budget-managed ones most).
    capability = rng.normal(0, 1, H) + 1.0 * leader

    def quantiles() -> np.ndarray:
        # Stratified within each tier, so the shares track the curves even for 30 hospitals.
        score = 0.7 * capability + 0.7 * rng.normal(0, 1, H)
        u = np.empty(H)
        for t in ("三级", "二级", "一级"):
            idx = np.flatnonzero(tier == t)
            if len(idx):
                ranks = np.argsort(np.argsort(score[idx]))
                u[idx] = (ranks + rng.random(len(idx))) / len(idx)
        return u

    def adoption(item: str) -> np.ndarray:
        u = quantiles()
        out = np.empty(H)
        for t in ("三级", "二级", "一级"):
            idx = tier == t
            out[idx] = _adoption(u[idx], _CURVES[item][t])
        return out

    use_at = adoption("platform")
    built_at = use_at - rng.integers(2, 9, H)
    building_at = built_at - rng.integers(6, 19, H)
    committee_at = adoption("ops_committee")
    department_at = np.maximum(adoption("ops_department"), committee_at)  # the committee sets it up
    accountant_at = adoption("chief_accountant")
    done_at = adoption("caliber_done")
    mapping_at = done_at - rng.integers(6, 19, H)
    register_at = adoption("risk_register")
    review_at = adoption("internal_control_review")

    # Each hospital's schedule of reports.
    schedule = [(i, p) for i in range(H)
                for p in (quarter_ends if tier[i] != "一级" else [q for q in quarter_ends if q.month == 12])]
    years = sorted({p.year for p in quarter_ends})
    # 业财融合试点 projects per year (each 二级+ hospital should run at least one a year).
    p_count = {"三级": [0.05, 0.2, 0.35, 0.25, 0.15], "二级": [0.12, 0.43, 0.3, 0.1, 0.05],
               "一级": [0.7, 0.25, 0.05, 0, 0]}
    projects = {}
    for i in range(H):
        for y in years:
            k = int(rng.choice(5, p=p_count[tier[i]]))
            if leader[i]:
                k = max(k, 2)
            projects[i, y] = np.sort(rng.choice(4, k, p=[0.15, 0.3, 0.3, 0.25]))  # start quarters

    # Optimised processes: cumulative; pilots and budget-managed aim for ≥ 5, others ≥ 2.
    first_value = np.where(tier == "三级", rng.poisson(2.5, H), np.where(tier == "二级", rng.poisson(0.8, H),
                                                                       rng.poisson(0.3, H)))
    final_value = np.where(leader, np.maximum(first_value, 5 + rng.poisson(2, H)),
                           np.where(tier == "三级", np.maximum(first_value, 2 + rng.poisson(2.5, H)),
                                    np.where((tier == "二级") & (rng.random(H) < 0.85),
                                             np.maximum(first_value, 2 + rng.poisson(1, H)),
                                             first_value + rng.poisson(0.7, H))))
    per_hospital: dict[int, list] = defaultdict(list)
    for i, p in schedule:
        per_hospital[i].append(p)
    cumulative = {}
    for i, ps in per_hospital.items():
        steps = np.zeros(len(ps), dtype=int)
        if len(ps) > 1 and final_value[i] > first_value[i]:
            steps[1:] = rng.multinomial(int(final_value[i] - first_value[i]), np.full(len(ps) - 1, 1 / (len(ps) - 1)))
        for p, v in zip(ps, first_value[i] + steps.cumsum(), strict=True):
            cumulative[i, p] = int(v)

    def yes(at: np.ndarray, i: int, m: int) -> str:
        return "是" if m >= at[i] else "否"

    rows = []
    for i, p in schedule:
        m = month_index(p)
        if m >= use_at[i]:
            platform = "已应用"
        elif m >= built_at[i]:
            platform = "已建成"
        elif m >= building_at[i]:
            platform = "建设中"
        else:
            platform = "未启动"
        caliber = "已完成" if m >= done_at[i] else "进行中" if m >= mapping_at[i] else "未开始"
        quarter = (p.month - 1) // 3
        rows.append({
            "hospital_code": h["hospital_code"].iat[i],
            "period": str(p),
            "ops_committee": yes(committee_at, i, m),
            "ops_department": yes(department_at, i, m),
            "chief_accountant": yes(accountant_at, i, m),
            "ops_platform_status": platform,
            "pilot_projects_year": int((projects[i, p.year] <= quarter).sum()),
            "optimized_processes": cumulative[i, p],
            "caliber_mapping": caliber,
            "risk_register": yes(register_at, i, m),
            "internal_control_review": yes(review_at, i, m),
        })
    return pd.DataFrame(rows, columns=PROGRESS_COLUMNS).sort_values(["period", "hospital_code"], ignore_index=True)


# --------------------------------------------------------------------------------------


def generate(counties: pd.DataFrame, end_period: str, months: int = 36, n_hospitals: int = 300,
             seed: int = 2025, now: pd.Timestamp | None = None) -> DemoData:
    """Generate the demo province.

    *counties* has columns ``adcode, name, prefecture_adcode`` (the province's
    county-level divisions). Monthly reports cover *months* months ending at
    *end_period* (``YYYY-MM``). *now* (local time, naive; default: the 23rd of the
    month after *end_period*, 09:00) bounds every arrival: a report that would
    arrive later is missing. The same arguments always give identical frames.
    """
    if months < 1 or n_hospitals < 3:
        raise ValueError("need at least one month and three hospitals")
    rng = np.random.default_rng(seed)
    now = default_now(end_period) if now is None else pd.Timestamp(now)
    if now.tzinfo is not None:
        now = now.tz_convert(LOCAL_TZ).tz_localize(None)
    periods = pd.period_range(end=pd.Period(end_period, freq="M"), periods=months, freq="M")
    geo = _geo(counties)
    h = _hospitals(geo, n_hospitals, rng)
    monthly = _monthly(h, periods, rng)
    arrivals = _arrivals(h, periods, now, rng)
    missing_mask = arrivals["received_at"].isna()
    missing = arrivals.loc[missing_mask, ["hospital_code", "period"]].reset_index(drop=True)
    arrivals = arrivals[~missing_mask].reset_index(drop=True)
    keep = monthly.set_index(["hospital_code", "period"]).index.isin(
        arrivals.set_index(["hospital_code", "period"]).index)
    monthly = monthly[keep].sort_values(["period", "hospital_code"], ignore_index=True)
    arrivals = arrivals.sort_values(["period", "hospital_code"], ignore_index=True)
    corrections = _corrections(monthly, arrivals, periods, now, rng)
    progress = _progress(h, periods, now, rng)
    registry = h[REGISTRY_COLUMNS].reset_index(drop=True)
    return DemoData(registry=registry, monthly=monthly, progress=progress, arrivals=arrivals, missing=missing,
                    corrections=corrections, start_period=str(periods[0]), end_period=str(periods[-1]),
                    now=now, province_name=geo.province_name)


def generate_national(counties: pd.DataFrame, end_period: str, months: int = 60, n_hospitals: int = 12_000,
                      seed: int = 2025, now: pd.Timestamp | None = None) -> DemoData:
    """Generate a national roll-up: every province of *counties* generated as :func:`generate` does, combined.

    *counties* is the national county table (``adcode, name, prefecture_adcode``); each
    province gets hospitals in proportion to its county-level units (at least 12), with
    its own seed, so one province's figures do not depend on the others'.
    """
    frame = counties.astype({"adcode": str})
    by_province = dict(tuple(frame.groupby(frame["adcode"].str[:2], sort=True)))
    total = len(frame)
    parts = [generate(part, end_period, months=months, n_hospitals=max(12, round(n_hospitals * len(part) / total)),
                      seed=seed + int(prefix), now=now)
             for prefix, part in by_province.items()]

    def combined(name: str, keys: list[str]) -> pd.DataFrame:
        # Empty parts (a small province without corrections) would turn numeric columns to object.
        frames = [getattr(p, name) for p in parts if len(getattr(p, name))] or [getattr(parts[0], name)]
        return pd.concat(frames, ignore_index=True).sort_values(keys, ignore_index=True)

    first = parts[0]
    return DemoData(registry=combined("registry", ["hospital_code"]),
                    monthly=combined("monthly", ["period", "hospital_code"]),
                    progress=combined("progress", ["period", "hospital_code"]),
                    arrivals=combined("arrivals", ["period", "hospital_code"]),
                    missing=combined("missing", ["period", "hospital_code"]),
                    corrections=combined("corrections", ["period", "hospital_code"]),
                    start_period=first.start_period, end_period=first.end_period, now=first.now,
                    province_name="全国")
