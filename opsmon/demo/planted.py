"""Planted ground truth: the hospitals that carry the stories the risk rules should find.

The generator decides, before drawing a single number, which hospitals run a chronic
deficit, borrow once, fall behind with wages, run out of cash, stretch their suppliers,
wait on the insurance fund, owe more than they own, borrow to build — and which are healthy with nothing but the
Spring-Festival dip. :func:`events` picks them; :func:`planted_frame` writes the truth down
as :attr:`DemoData.planted <opsmon.demo.generate.DemoData>` rows, one per (hospital, case,
rule): the rule ids of ``spec/indicators.md`` (risk rules v2) expected to fire, the level
expected at the worst, and the months in which the story makes it true (first and last
period, both inclusive). A ``healthy_seasonal`` row has an empty rule: no rule is expected,
and no orange or red risk may be raised for it.

Rules in :data:`EXHAUSTIVE` are planted wherever the generator makes them true: outside the
planted hospitals their condition is kept false by construction (every other hospital has a
12-month surplus, at least 1.3 months of cash, long-term debt (loans and payables) under 18 % of
assets and never rising, supplier payables and insurance receivables under 90 days, assets above liabilities,
no construction borrowing, no wage arrears). For those rules every other firing is a false
alarm, so a precision can be measured; the others (debt ratio, liquidity, late reports, the
medical surplus, the 3-month deficit streak) also fire for hospitals the generator made
indebted, late or thin-margined without planting a story — a healthy hospital with a thin
margin may run January to March in deficit (the Spring Festival, then a slow March): its
``deficit_streak`` is a true yellow, never orange (that needs ``deficit_12m``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from opsmon.demo.common import handful

PLANTED_COLUMNS = ["hospital_code", "case", "rule", "level", "first_period", "last_period"]
CASES = ("chronic_deficit", "one_off_borrowing", "heavy_long_term_debt", "wage_arrears", "falling_cash",
         "supplier_payables_stretched", "insurance_receivable_stretched", "negative_net_assets", "construction_loans",
         "healthy_seasonal")
# Rules whose every true occurrence is planted (see the module docstring).
EXHAUSTIVE = ("deficit_12m", "net_assets_negative", "long_term_debt",
              "salary_arrears", "construction_loans_increase", "cash_short", "cash_forecast",
              "supplier_payable_days_high", "receivable_days_high")
# The margin a designed-healthy (designed-deficit) hospital keeps above (below) zero, every year:
# the yearly shocks never carry a hospital across, so the 12-month outcome is the design's.
MARGIN_GAP = 0.012
CASH_FLOOR_MONTHS = 1.3  # unplanted hospitals never hold less cash than this (months of spending)
SUPPLIER_DAYS_CAP = 85.0  # unplanted supplier payables stay under this many days
RECEIVABLE_DAYS_CAP = 85.0  # unplanted insurance receivables stay under this many days
ORGANIC_LTD_CAP = 0.15  # unplanted long-term loans at most this share of total assets


@dataclass
class Events:
    """Which hospitals (row indices) carry which story, with the story's parameters (month indices)."""

    insolvent: list[int]
    arrears: list[tuple[int, int, int]]  # (hospital, first month, end month exclusive)
    borrowing: list[tuple[int, int, float]]  # (hospital, drawdown month, drawdown ÷ loans before)
    heavy_debt: list[tuple[int, float]]  # (hospital, long-term loans ÷ total assets at the start)
    construction: list[tuple[int, list[int]]]  # construction debt drawn in these months
    falling_cash: list[tuple[int, int, float, float]]  # (hospital, decline start, months of cash then, at the end)
    supplier: list[tuple[int, int, float]]  # (hospital, stretch start, payable days at the end)
    receivable: list[tuple[int, int, float]]  # (hospital, stretch start, receivable days at the end)
    seasonal: list[int] = field(default_factory=list)
    taken: set[int] = field(default_factory=set)


def events(h: pd.DataFrame, d0: np.ndarray, T: int, rng: np.random.Generator) -> Events:
    """Pick the hospitals that carry each story (none carries two, except a chronic deficit).

    *d0* is each hospital's debt ratio at mid-history; *T* the number of months.
    """
    H = len(h)
    tier = h["tier"].to_numpy()
    v2 = h["reports_v2"].to_numpy() & h["cost_accounting"].to_numpy()
    costed = h["cost_accounting"].to_numpy()
    small = np.flatnonzero(tier != "三级")
    # 资不抵债: 2–4 weak 二级/一级 hospitals (3 for a full province).
    n_insolvent = min(len(small), 3 if H >= 100 else 1)
    order = small[np.argsort(-d0[small] + rng.normal(0, 0.05, len(small)))]
    insolvent = [int(i) for i in order[:n_insolvent]]
    taken = set(insolvent)

    # 拖欠职工薪酬: weak hospitals (high debt), runs that resolve, persist, or have just begun.
    k = min(handful(H), len(small) - len(taken))
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

    def pool(ok: np.ndarray) -> list[int]:
        return [int(i) for i in rng.permutation(np.flatnonzero(ok)) if int(i) not in taken]

    many = H >= 100

    # 长期债务 by level: a couple of indebted hospitals carry loans of a quarter to 45 % of their assets.
    heavy_debt = []
    for j, i in enumerate(pool((tier != "一级") & (d0 >= 0.55) & (d0 < 0.9))[: 2 if many else 1]):
        heavy_debt.append((i, float(rng.uniform(0.40, 0.45) if j == 0 else rng.uniform(0.25, 0.30))))
        taken.add(i)

    # One-off borrowing: a single long-term loan drawdown (+35–45 %, one of +60–100 %; a year of
    # repayments makes it ≈ +20–35 % on 12 months earlier); the big one recent.
    borrowing = []
    if T >= 3:
        for j, i in enumerate(pool(tier != "一级")[: 3 if many else 1]):
            low = max(1, T - 24)
            month = (T - 1 - int(rng.integers(0, 3)) if j == 0 or low >= T - 2
                     else int(rng.integers(low, T - 2)))
            jump = float(rng.uniform(0.6, 1.0) if j == 0 else rng.uniform(0.35, 0.45))
            borrowing.append((i, month, jump))
            taken.add(i)

    # 举债建设: construction debt drawn in a few separate months; one draw in the latest month.
    construction = []
    if T >= 2:
        for j, i in enumerate(pool(tier != "一级")[: (handful(H) - 1) if many else 1]):
            draws = int(rng.integers(2, 5))
            months = sorted({int(m) for m in rng.choice(np.arange(1, T, 2), min(draws, max(1, (T - 1) // 2)),
                                                        replace=False)})
            if j == 0:
                months = sorted(set(months[:-1]) | {T - 1})
            construction.append((i, months))
            taken.add(i)

    # Falling cash: cash spent on equipment from the hospital's own funds, cover falling steadily
    # for 15–18 months: two end below one month (one below half a month), two just above it.
    falling_cash = []
    if T >= 8:
        for j, i in enumerate(pool(costed & (d0 < 0.5))[: 4 if many else 2]):
            length = min(int(rng.integers(15, 19)), T - 2)
            end = (0.4, 0.75, 1.25, 1.35)[j]
            falling_cash.append((i, T - length, float(rng.uniform(2.4, 3.0)), end))
            taken.add(i)

    # Supplier payables stretched over the last 12 months (v2 reporters: the column is optional).
    supplier = []
    if T >= 6:
        for j, i in enumerate(pool(v2)[: 3 if many else 1]):
            supplier.append((i, max(0, T - 12), float(rng.uniform(200, 230) if j == 0 else rng.uniform(110, 150))))
            taken.add(i)

    # 医保 settlements falling behind (a tight local fund, 年底清算 disputes): the insurance
    # receivable stretched over the last 12 months, one hospital past 150 days (orange), one past
    # 90 (yellow); v2 reporters only (the column is optional). The hospital bridges the gap with
    # short-term loans, so its cash, and every other rule's quantity but the liquidity, stay as drawn.
    # (Drawn from a child generator: the parent's draws, and every story and share calibrated
    # before this one was added, stay as they were.)
    receivable = []
    side = rng.spawn(1)[0]
    if T >= 6:
        options = [int(i) for i in side.permutation(np.flatnonzero(h["reports_v2"].to_numpy())) if int(i) not in taken]
        for j, i in enumerate(options[: 2 if many else 1]):
            receivable.append((i, max(0, T - 12), float(side.uniform(165, 190) if j == 0 else side.uniform(110, 135))))
            taken.add(i)
    return Events(insolvent, arrears, borrowing, heavy_debt, construction, falling_cash, supplier, receivable,
                  taken=taken)


def pick_seasonal(margin: np.ndarray, d0: np.ndarray, ev: Events, rng: np.random.Generator) -> list[int]:
    """Healthy hospitals with a normal Spring-Festival dip and no other story (8 in a full province)."""
    H = len(margin)
    ok = (margin >= 0.03) & (margin <= 0.07) & (d0 < 0.45)
    options = [int(i) for i in rng.permutation(np.flatnonzero(ok)) if int(i) not in ev.taken]
    chosen = options[: 8 if H >= 100 else 2]
    ev.seasonal = chosen
    ev.taken.update(chosen)
    return chosen


def rising_months(path: np.ndarray, rise: float) -> np.ndarray:
    """Months t ≥ 12 in which *path* is at least (1 + *rise*) × its value 12 months earlier."""
    if len(path) <= 12:
        return np.array([], dtype=int)
    before, now = path[:-12], path[12:]
    hit = np.where(before > 0, now >= (1 + rise) * before, now > 0)
    return np.flatnonzero(hit) + 12


def planted_frame(codes: np.ndarray, periods: pd.PeriodIndex, ev: Events, margin: np.ndarray,
                  worst_rate: np.ndarray, debt_ratio: np.ndarray, lt_debt: np.ndarray, lt_debt_ratio: np.ndarray,
                  cash_months: np.ndarray, supplier_days: np.ndarray, receivable_days: np.ndarray) -> pd.DataFrame:
    """The planted truth as rows of :data:`PLANTED_COLUMNS` (see the module docstring).

    The arrays are the design (hospitals × months, before any report goes missing):
    *margin* each hospital's designed margin (negative: a designed deficit), *worst_rate* its lowest
    12-month surplus rate, *debt_ratio*,
    *lt_debt* (long-term loans + payables), *lt_debt_ratio*, *cash_months*, *supplier_days* and
    *receivable_days* as the story set them.
    """
    T = len(periods)
    label = periods.strftime("%Y-%m")
    rows: list[tuple] = []

    def add(i: int, case: str, rule: str, level: str, first: int, last: int) -> None:
        rows.append((codes[i], case, rule, level, label[first], label[last]))

    for i in np.flatnonzero(margin < 0):
        add(int(i), "chronic_deficit", "deficit_12m", "red" if worst_rate[i] < -0.05 else "orange", 0, T - 1)
        add(int(i), "chronic_deficit", "deficit_streak", "orange", 0, T - 1)
        if margin[i] < -0.035:  # deep enough that the medical surplus is negative on either formula
            add(int(i), "chronic_deficit", "medical_deficit", "yellow", 0, T - 1)
    for i in ev.insolvent:
        under = np.flatnonzero(debt_ratio[i] > 1)
        if len(under):
            add(i, "negative_net_assets", "net_assets_negative", "red", int(under[0]), int(under[-1]))
            add(i, "negative_net_assets", "debt_ratio_high", "orange", int(under[0]), int(under[-1]))
            add(i, "negative_net_assets", "liquidity_low", "orange", int(under[0]), int(under[-1]))
    for i, start, end in ev.arrears:
        add(i, "wage_arrears", "salary_arrears", "red", start, end - 1)
    for i, _month, _jump in ev.borrowing:
        up = rising_months(lt_debt[i], 0.2)
        if len(up):
            level = "orange" if len(rising_months(lt_debt[i], 0.5)) else "yellow"
            add(i, "one_off_borrowing", "long_term_debt", level, int(up[0]), int(up[-1]))
    for i, _ratio in ev.heavy_debt:
        high = np.flatnonzero(lt_debt_ratio[i] >= 0.2)
        if len(high):
            level = "orange" if (lt_debt_ratio[i] >= 0.35).any() else "yellow"
            add(i, "heavy_long_term_debt", "long_term_debt", level, int(high[0]), int(high[-1]))
    for i, months in ev.construction:
        add(i, "construction_loans", "construction_loans_increase", "orange", months[0], min(months[-1] + 11, T - 1))
        up = rising_months(lt_debt[i], 0.2)
        if len(up):
            level = "orange" if len(rising_months(lt_debt[i], 0.5)) else "yellow"
            add(i, "construction_loans", "long_term_debt", level, int(up[0]), int(up[-1]))
    for i, start, _m0, _m_end in ev.falling_cash:
        cover = cash_months[i]
        short = np.flatnonzero((cover < 1) & (np.arange(T) >= start))
        if len(short):
            add(i, "falling_cash", "cash_short", "red" if cover[short].min() < 0.5 else "orange",
                int(short[0]), T - 1)
        # The forecast's months: cover still ≥ 1 and the straight decline reaching 1 within 6 months.
        slope = (cover[T - 1] - cover[start]) / max(1, T - 1 - start)
        cross = int(short[0]) if len(short) else int(np.ceil(T - 1 + (1 - cover[T - 1]) / slope))
        first, last = max(start + 1, cross - 6), min(cross - 1, T - 1)
        if first <= last:
            add(i, "falling_cash", "cash_forecast", "yellow", first, last)
    for i, start, _days in ev.supplier:
        over = np.flatnonzero((supplier_days[i] > 90) & (np.arange(T) >= start))
        if len(over):
            add(i, "supplier_payables_stretched", "supplier_payable_days_high",
                "orange" if supplier_days[i].max() > 180 else "yellow", int(over[0]), T - 1)
    for i, start, _days in ev.receivable:
        over = np.flatnonzero((receivable_days[i] > 90) & (np.arange(T) >= start))
        if len(over):
            add(i, "insurance_receivable_stretched", "receivable_days_high",
                "orange" if receivable_days[i].max() > 150 else "yellow", int(over[0]), T - 1)
    for i in ev.seasonal:
        add(i, "healthy_seasonal", "", "", 0, T - 1)
    frame = pd.DataFrame(rows, columns=PLANTED_COLUMNS)
    return frame.sort_values(["case", "hospital_code", "rule"], ignore_index=True)


def relevel(planted: pd.DataFrame, monthly: pd.DataFrame) -> pd.DataFrame:
    """The deficit_12m level as the reported months show it: red where some window of 12 reported
    consecutive months has a surplus rate below −5 % (a month never reported breaks a window, as it
    does for the rule), orange otherwise; the design's level where no such window exists."""
    rows = planted["rule"] == "deficit_12m"
    if not rows.any():
        return planted
    m = monthly[monthly["hospital_code"].isin(planted.loc[rows, "hospital_code"])]
    periods = pd.period_range(m["period"].min(), m["period"].max(), freq="M").strftime("%Y-%m")
    wide = {c: m.pivot(index="hospital_code", columns="period", values=c).reindex(columns=periods).astype(float)
            for c in ("total_revenue", "total_expense")}
    sums = {c: w.T.rolling(12, min_periods=12).sum().T for c, w in wide.items()}
    worst = ((sums["total_revenue"] - sums["total_expense"]) / sums["total_revenue"]).min(axis=1)
    out = planted.copy()
    known = rows & out["hospital_code"].map(worst).notna()
    out.loc[known, "level"] = np.where(out.loc[known, "hospital_code"].map(worst) < -0.05, "red", "orange")
    return out
