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
- v2 items: 应收医保款 ≈ 45–75 days of medical revenue (医保 settles monthly, one to two months
  behind, 医保基金即时结算/按月拨付); 应付药品耗材款 ≈ 40–80 days of drug and consumables
  expense (centrally procured drugs must be paid within 30 days, 国办发〔2019〕2号 集中采购货款
  30 天内结清; other suppliers wait longer); 中药饮片 a third of a TCM hospital's drug revenue.
- 流动比率 (current assets ÷ current liabilities): hospitals' own published financial disclosures
  (医院财务信息公开) show ≈ 2.2–2.6 at a debt ratio of ≈ 26–28 %, and the analyses of 公立医院
  财务年报 find short-term solvency weak only in the heavily indebted minority; so the demo's
  median is ≈ 1.5 and about one hospital in ten falls below 1 at some time (≈ 8 % in a given
  month), nearly all of them indebted (debt ratio ≥ 60 %) or in chronic deficit, and every
  资不抵债 hospital (:mod:`~opsmon.demo.monthly`).
- Budget-managed hospitals: 国家卫生健康委 and 国家中医药局 each manage a few dozen hospitals
  nationwide (the university and leading provincial ones), so a province has 2–3 国家 and a
  handful of 省 (省直) budget-managed hospitals, not a third of its 三级.

The parts: :mod:`~opsmon.demo.registry` (hospitals), :mod:`~opsmon.demo.monthly` (monthly
reports), :mod:`~opsmon.demo.planted` (the planted ground truth), :mod:`~opsmon.demo.arrivals`
(arrival times, corrections) and :mod:`~opsmon.demo.progress` (progress reports).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from opsmon.demo.arrivals import _arrivals, _corrections
from opsmon.demo.common import (  # noqa: F401 - re-exported: callers import them from here
    COUNT_COLUMNS, DEMO_SUFFIX, DUE_DAY, MONEY_COLUMNS, MONTHLY_COLUMNS, MONTHLY_V1_COLUMNS, OPTIONAL_MONEY,
    PROGRESS_COLUMNS, REGISTRY_COLUMNS, TIER2_LEVELS, TIER3_LEVELS, V2_COLUMNS, tier_of,
)
from opsmon.demo.monthly import _monthly
from opsmon.demo.planted import PLANTED_COLUMNS, relevel
from opsmon.demo.progress import _progress, progress_received_at  # noqa: F401 - re-exported
from opsmon.demo.registry import PREFECTURE_NAMES, PROVINCES, _geo, _hospitals  # noqa: F401 - re-exported
from opsmon.periods import LOCAL_TZ


@dataclass
class DemoData:
    """The generated province.

    ``registry``, ``monthly`` and ``progress`` have exactly the spec's columns
    (codes). ``arrivals`` says when each monthly report arrived (local time, naive),
    ``missing`` lists the (hospital_code, period) pairs never reported.
    ``corrections`` lists the monthly rows first submitted with a wrong
    ``other_revenue`` and corrected later: their first values and when the
    correction arrived (``monthly`` holds the corrected, current values).
    ``planted`` is the ground truth the generator planted for the risk rules: one row per
    (hospital_code, case, rule) with the level expected at worst and the first and last
    period the story makes the rule true (see :mod:`opsmon.demo.planted`).
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
    planted: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=PLANTED_COLUMNS))


def default_now(end_period: str) -> pd.Timestamp:
    """The default "today": the 23rd of the month after *end_period*, 09:00 local time."""
    p = pd.Period(end_period, freq="M") + 1
    return pd.Timestamp(year=p.year, month=p.month, day=23, hour=9)


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
    monthly, planted = _monthly(h, periods, rng)
    arrivals = _arrivals(h, periods, now, rng)
    missing_mask = arrivals["received_at"].isna()
    missing = arrivals.loc[missing_mask, ["hospital_code", "period"]].reset_index(drop=True)
    arrivals = arrivals[~missing_mask].reset_index(drop=True)
    keep = monthly.set_index(["hospital_code", "period"]).index.isin(
        arrivals.set_index(["hospital_code", "period"]).index)
    monthly = monthly[keep].sort_values(["period", "hospital_code"], ignore_index=True)
    arrivals = arrivals.sort_values(["period", "hospital_code"], ignore_index=True)
    planted = relevel(planted, monthly)
    corrections = _corrections(monthly, arrivals, periods, now, rng)
    progress = _progress(h, periods, now, rng)
    registry = h[REGISTRY_COLUMNS].reset_index(drop=True)
    return DemoData(registry=registry, monthly=monthly, progress=progress, arrivals=arrivals, missing=missing,
                    corrections=corrections, start_period=str(periods[0]), end_period=str(periods[-1]),
                    now=now, province_name=geo.province_name, planted=planted)


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
                    province_name="全国", planted=combined("planted", ["case", "hospital_code", "rule"]))
