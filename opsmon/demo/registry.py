"""The demo's hospitals: geography, names, grades, sizes and the registry fields."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from opsmon.demo.common import DEMO_SUFFIX, TIER2_LEVELS, TIER3_LEVELS, handful, tier_of
from opsmon.ingest import uscc

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

    # 高质量发展试点: big 三级 ones, drawn by size.
    t3 = np.flatnonzero(h["tier"].eq("三级"))
    w = h["annual_revenue"].to_numpy()[t3]
    n_pilot = min(len(t3), max(1, round(0.2 * len(t3))))
    pilot = rng.choice(t3, n_pilot, replace=False, p=w / w.sum())
    h["is_pilot"] = "否"
    h.loc[pilot, "is_pilot"] = "是"
    _budget_authority(h, geo, rng)
    _template_version(h, rng)

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


def _province_stem(province_name: str) -> str:
    """吉林省 → 吉林, 广西壮族自治区 → 广西: the short name a university takes."""
    return re.sub(r"(省|市|壮族自治区|回族自治区|维吾尔自治区|自治区)$", "", province_name)


def _budget_authority(h: pd.DataFrame, geo: _Geo, rng: np.random.Generator) -> None:
    """A handful of budget-managed hospitals (预算管理医院), as a real province has.

    国家 (国家卫生健康委/国家中医药局预算管理医院): the province's leading university hospitals
    (委属委管, renamed as such) and its provincial 中医医院 — 2–3 in a province of 300, one in a
    small one. 省 (省卫生健康委/省中医药局预算管理): a handful of the other 省属 (省直) 三级 hospitals.
    Everyone else: 无. ``is_budget_managed`` follows (是 for 国家 and 省), as the v2 contract says.
    """
    n = len(h)
    provincial = h["owner_kind"].eq("province") & h["tier"].eq("三级")
    general = provincial & h["category"].eq("综合医院")
    universities = list(h.index[general].sort_values()[: (2 if n >= 150 else 1)])
    national = universities + (list(h.index[provincial & h["category"].eq("中医医院")][:1]) if n >= 150 else [])
    h["budget_authority"] = "无"
    h.loc[national, "budget_authority"] = "国家"
    stem = _province_stem(geo.province_name)
    for k, i in enumerate(universities):
        # A ministry-affiliated university hospital (委属委管), not the province's own: named after a
        # university, so no provincial hospital is shown as one (every name is invented anyway).
        h.loc[i, "affiliation"] = "委属委管"
        h.loc[i, "name"] = f"{stem}医科大学第{_cn(k + 1)}附属医院{DEMO_SUFFIX}"
    others = np.flatnonzero(provincial & h["budget_authority"].eq("无"))
    k = min(len(others), handful(n) - 1 if n >= 150 else min(1, len(others)))
    if k:
        w = h["annual_revenue"].to_numpy()[others]
        h.loc[rng.choice(others, k, replace=False, p=w / w.sum()), "budget_authority"] = "省"
    h["is_budget_managed"] = np.where(h["budget_authority"].eq("无"), "否", "是")


def _template_version(h: pd.DataFrame, rng: np.random.Generator) -> None:
    """Which hospitals send the v2 monthly template, and which keep no cost accounting.

    ≈ 15 % still send the v1 file (no optional v2 columns): mostly 一级/未定级 hospitals, some
    二级, no 三级 (their finance systems export the full report). Among the v1 一级 ones, ≈ 12 % of
    all 一级 keep no cost accounting of drugs, consumables or depreciation (those cells empty).
    """
    n = len(h)
    tier = h["tier"].to_numpy()
    weight = np.select([tier == "一级", tier == "二级"], [4.0, 1.0], 0.0)
    k = min(int((weight > 0).sum()), round(0.15 * n))
    v1 = rng.choice(n, k, replace=False, p=weight / weight.sum()) if k else np.array([], dtype=int)
    h["reports_v2"] = True
    h.loc[v1, "reports_v2"] = False
    small_v1 = np.array(sorted(set(v1.tolist()) & set(np.flatnonzero(tier == "一级").tolist())), dtype=int)
    n_blank = min(len(small_v1), max(1, round(0.12 * (tier == "一级").sum())))
    h["cost_accounting"] = True
    if n_blank:
        h.loc[rng.choice(small_v1, n_blank, replace=False), "cost_accounting"] = False
