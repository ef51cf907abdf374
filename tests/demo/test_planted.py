"""The demo's planted ground truth: every planted story is in the generated frames, and nothing else is.

Each check recomputes the rule's quantity from the monthly frame, by hand (pandas sums over
the reported months), and compares it with what :attr:`DemoData.planted` says — the
generator's code is not used to compute any expected value.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import opsmon
from opsmon.demo.generate import DemoData, generate

END = "2026-10"
# The v2 risk rule ids of spec/indicators.md, typed out.
SPEC_RULES = {"deficit_12m", "deficit_streak", "medical_deficit", "debt_ratio_high", "net_assets_negative",
              "long_term_debt", "salary_arrears", "construction_loans_increase", "liquidity_low", "cash_short",
              "cash_forecast", "receivable_days_high", "supplier_payable_days_high", "report_missing"}
V2 = ["medical_service_revenue", "medical_activity_revenue", "medical_activity_expense", "discharged_patient_revenue",
      "herbal_pieces_revenue", "insurance_receivable", "supplier_payable", "short_term_loans", "long_term_payables",
      "inventory"]
SMALL_COUNTIES = pd.DataFrame([
    ("220102", "南关区", "220100"), ("220104", "朝阳区", "220100"), ("220122", "农安县", "220100"),
    ("220502", "东昌区", "220500"), ("220521", "通化县", "220500"), ("222401", "延吉市", "222400"),
], columns=["adcode", "name", "prefecture_adcode"])


def jilin_counties() -> pd.DataFrame:
    regions = pd.read_csv(Path(opsmon.__file__).parent / "assets/geo/220000/regions.csv", dtype=str)
    counties = regions[regions["level"] == "county"]
    return counties.rename(columns={"geo_parent_adcode": "prefecture_adcode"})[["adcode", "name", "prefecture_adcode"]]


@pytest.fixture(scope="module")
def full() -> DemoData:
    return generate(jilin_counties(), END)


def wide(data: DemoData, column: str) -> pd.DataFrame:
    """hospital × every period of the history (NaN where not reported)."""
    periods = [str(p) for p in pd.period_range(data.start_period, data.end_period, freq="M")]
    return data.monthly.pivot(index="hospital_code", columns="period", values=column).reindex(
        index=data.registry["hospital_code"], columns=periods).astype(float)


def sum12(frame: pd.DataFrame) -> pd.DataFrame:
    """Sums over 12 consecutive months, only where all 12 were reported."""
    return frame.T.rolling(12, min_periods=12).sum().T


def ago(frame: pd.DataFrame, months: int) -> pd.DataFrame:
    """The value *months* months earlier, aligned to each month."""
    return frame.shift(months, axis=1)


def planted_hospitals(data: DemoData, case: str | None = None, rule: str | None = None) -> set[str]:
    p = data.planted
    if case is not None:
        p = p[p["case"] == case]
    if rule is not None:
        p = p[p["rule"] == rule]
    return set(p["hospital_code"])


def in_span(frame: pd.DataFrame, code: str, first: str, last: str) -> pd.Series:
    row = frame.loc[code]
    return row[(row.index >= first) & (row.index <= last)]


def test_planted_frame(full: DemoData) -> None:
    p = full.planted
    assert list(p.columns) == ["hospital_code", "case", "rule", "level", "first_period", "last_period"]
    assert set(p["case"]) == {"chronic_deficit", "one_off_borrowing", "heavy_long_term_debt", "wage_arrears",
                              "falling_cash", "supplier_payables_stretched", "insurance_receivable_stretched",
                              "negative_net_assets", "construction_loans", "healthy_seasonal"}
    assert set(p.loc[p["case"] != "healthy_seasonal", "rule"]) <= SPEC_RULES
    assert (p.loc[p["case"] == "healthy_seasonal", "rule"] == "").all()
    assert p["hospital_code"].isin(full.registry["hospital_code"]).all()
    assert (p["first_period"] <= p["last_period"]).all()
    assert (p["first_period"] >= full.start_period).all() and (p["last_period"] <= full.end_period).all()
    assert not p.duplicated(["hospital_code", "case", "rule"]).any()
    stories = p[p["case"] != "chronic_deficit"].groupby("hospital_code")["case"].nunique()
    assert (stories == 1).all()  # one story per hospital, besides a chronic deficit
    counts = p.drop_duplicates(["hospital_code", "case"])["case"].value_counts()
    assert counts["wage_arrears"] == 5 and counts["negative_net_assets"] == 3 and counts["healthy_seasonal"] == 8
    assert 2 <= counts["one_off_borrowing"] <= 3 and counts["falling_cash"] == 4
    assert counts["supplier_payables_stretched"] == 3 and 3 <= counts["construction_loans"] <= 5
    assert counts["insurance_receivable_stretched"] == 2


def test_chronic_deficits_and_nothing_else_run_a_twelve_month_deficit(full: DemoData) -> None:
    revenue, expense = sum12(wide(full, "total_revenue")), sum12(wide(full, "total_expense"))
    rate = (revenue - expense) / revenue
    deficit = set(full.planted.loc[full.planted["rule"] == "deficit_12m", "hospital_code"])
    windows = rate.notna()
    # A planted chronic deficit is a deficit in every 12-month window; any other hospital never is.
    assert ((rate.loc[sorted(deficit)] < 0) | ~windows.loc[sorted(deficit)]).all().all()
    others = sorted(set(rate.index) - deficit)
    assert ((rate.loc[others] >= 0) | ~windows.loc[others]).all().all()
    # Red where some window is below −5 % (a hospital without 12 consecutive reported months, a new
    # one, keeps the design's level: nothing to check it against).
    red = set(full.planted.loc[(full.planted["rule"] == "deficit_12m") & (full.planted["level"] == "red"),
                               "hospital_code"])
    worst = rate.min(axis=1)
    red = {c for c in red if pd.notna(worst[c])}
    assert all(worst[c] < -0.05 for c in red)
    assert all(worst[c] >= -0.05 for c in deficit - red if pd.notna(worst[c]))
    # A real province: roughly a third of hospitals in deficit over the last 12 months, a few deep.
    last = rate[full.end_period].dropna()
    assert 0.25 <= (last < 0).mean() <= 0.40
    assert 0.03 <= (last < -0.05).mean() <= 0.12


def test_healthy_seasonal_hospitals_dip_in_january_and_february_only(full: DemoData) -> None:
    seasonal = sorted(planted_hospitals(full, "healthy_seasonal"))
    m = full.monthly[full.monthly["hospital_code"].isin(seasonal)]
    month = m["period"].str[5:]
    deficit = m["total_revenue"] < m["total_expense"]
    assert deficit[month.isin(["01", "02"])].all()  # every January and February a deficit month
    revenue, expense = sum12(wide(full, "total_revenue")), sum12(wide(full, "total_expense"))
    assert (revenue.loc[seasonal] > expense.loc[seasonal]).where(revenue.loc[seasonal].notna(), True).all().all()
    march = m[month == "03"]
    assert (march["total_revenue"] > march["total_expense"]).mean() >= 0.8  # no streak into March
    assert (m["salary_arrears"] == 0).all()
    assert (m["total_liabilities"] / m["total_assets"] < 0.5).all()


def test_the_spring_festival_dip_is_everywhere(full: DemoData) -> None:
    healthy = set(full.registry["hospital_code"]) - planted_hospitals(full, "chronic_deficit")
    m = full.monthly[full.monthly["hospital_code"].isin(healthy)]
    deficit = (m["total_revenue"] < m["total_expense"]).groupby(m["period"].str[5:]).mean()
    assert deficit["01"] >= 0.6 and deficit["02"] >= 0.6
    assert deficit.drop(["01", "02"]).max() <= 0.35


def test_wage_arrears_exactly_where_planted(full: DemoData) -> None:
    arrears = wide(full, "salary_arrears")
    planted = full.planted[full.planted["rule"] == "salary_arrears"]
    for row in planted.itertuples():
        assert (in_span(arrears, row.hospital_code, row.first_period, row.last_period).dropna() > 0).all()
        outside = arrears.loc[row.hospital_code]
        outside = outside[(outside.index < row.first_period) | (outside.index > row.last_period)]
        assert (outside.dropna() == 0).all()
    others = sorted(set(arrears.index) - set(planted["hospital_code"]))
    assert (arrears.loc[others].fillna(0) == 0).all().all()


def test_negative_net_assets_exactly_where_planted(full: DemoData) -> None:
    liabilities, assets = wide(full, "total_liabilities"), wide(full, "total_assets")
    over = (liabilities > assets).where(assets.notna())  # NaN: not reported
    planted = full.planted[full.planted["rule"] == "net_assets_negative"]
    assert len(planted) == 3
    for row in planted.itertuples():
        assert in_span(over, row.hospital_code, row.first_period, row.last_period).dropna().astype(bool).all()
    assert not (liabilities > assets).loc[sorted(set(over.index) - set(planted["hospital_code"]))].any().any()


def test_long_term_debt_rises_and_levels_only_where_planted(full: DemoData) -> None:
    debt = wide(full, "long_term_loans") + wide(full, "long_term_payables").fillna(0)
    rise = debt / ago(debt, 12) - 1
    ratio = debt / wide(full, "total_assets")
    planted = full.planted[full.planted["rule"] == "long_term_debt"]
    for row in planted[planted["case"].isin(["one_off_borrowing", "construction_loans"])].itertuples():
        span = in_span(rise, row.hospital_code, row.first_period, row.last_period).dropna()
        assert (span >= 0.2).any()
        assert (span.max() >= 0.5) == (row.level == "orange")
    for row in planted[planted["case"] == "heavy_long_term_debt"].itertuples():
        span = in_span(ratio, row.hospital_code, row.first_period, row.last_period).dropna()
        assert (span >= 0.2).all() and (span.max() >= 0.35) == (row.level == "orange")
    others = sorted(set(debt.index) - set(planted["hospital_code"]))
    assert not (rise.loc[others] >= 0.2).any().any()
    assert not (ratio.loc[others] >= 0.2).any().any()
    # One-off borrowing is one month's drawdown: the loans jump by ≥ 35 % in a single month.
    for code in planted_hospitals(full, "one_off_borrowing"):
        step = (wide(full, "long_term_loans").loc[code].pct_change() >= 0.35)
        assert step.sum() == 1


def test_construction_loans_increase_only_where_planted(full: DemoData) -> None:
    debt = wide(full, "construction_debt")
    up = debt > ago(debt, 12)
    planted = full.planted[full.planted["rule"] == "construction_loans_increase"]
    for row in planted.itertuples():
        assert in_span(up, row.hospital_code, row.first_period, row.last_period).any()
    assert not up.loc[sorted(set(debt.index) - set(planted["hospital_code"]))].any().any()


def test_falling_cash(full: DemoData) -> None:
    spend = wide(full, "total_expense") - wide(full, "depreciation_expense").fillna(0)
    cover = wide(full, "cash") / (spend.T.rolling(3, min_periods=3).mean().T)
    planted = full.planted[full.planted["case"] == "falling_cash"]
    short = planted[planted["rule"] == "cash_short"]
    assert len(short) == 2 and set(short["level"]) == {"orange", "red"}
    for row in short.itertuples():
        span = in_span(cover, row.hospital_code, row.first_period, row.last_period).dropna()
        assert (span < 1).all() and ((span.min() < 0.5) == (row.level == "red"))
        before = cover.loc[row.hospital_code]
        assert (before[before.index < row.first_period].dropna() >= 1).all()
    for code in planted_hospitals(full, "falling_cash"):
        series = cover.loc[code].dropna()
        assert series.iloc[-1] < series.iloc[-16] - 1  # a steady fall of over a month of cover
    forecast = planted[planted["rule"] == "cash_forecast"]
    assert set(forecast["hospital_code"]) == planted_hospitals(full, "falling_cash")
    for row in forecast.itertuples():
        assert (in_span(cover, row.hospital_code, row.first_period, row.last_period).dropna() >= 1).all()
    # Everyone else keeps at least a month of cash.
    others = sorted(set(cover.index) - planted_hospitals(full, "falling_cash"))
    assert (cover.loc[others].stack().dropna() >= 1).all()


def test_supplier_payables_stretched(full: DemoData) -> None:
    supply = sum12(wide(full, "drug_expense") + wide(full, "consumables_expense")) / 365
    days = wide(full, "supplier_payable") / supply
    planted = full.planted[full.planted["rule"] == "supplier_payable_days_high"]
    for row in planted.itertuples():
        span = in_span(days, row.hospital_code, row.first_period, row.last_period).dropna()
        assert (span > 90).all() and ((span.max() > 180) == (row.level == "orange"))
    others = sorted(set(days.index) - set(planted["hospital_code"]))
    assert (days.loc[others].stack().dropna() <= 90).all()


def test_insurance_receivables_stretched(full: DemoData) -> None:
    receivable = wide(full, "insurance_receivable")
    days = receivable / (sum12(wide(full, "medical_revenue")) / 365)
    planted = full.planted[full.planted["rule"] == "receivable_days_high"]
    assert sorted(planted["level"]) == ["orange", "yellow"]
    assert set(planted["case"]) == {"insurance_receivable_stretched"}
    for row in planted.itertuples():
        span = in_span(days, row.hospital_code, row.first_period, row.last_period).dropna()
        assert len(span) and (span > 90).all() and ((span.max() > 150) == (row.level == "orange"))
        # Bridged by short-term loans: they grow by as much as the receivable over the story.
        loans = wide(full, "short_term_loans").loc[row.hospital_code]
        grew = receivable.loc[row.hospital_code, row.last_period] - receivable.loc[row.hospital_code, row.first_period]
        assert loans[row.last_period] - loans[row.first_period] == pytest.approx(grew, rel=0.2)
    # Everyone else: 45–75 days of medical revenue, at most 85 (no firing at 90).
    others = sorted(set(days.index) - set(planted["hospital_code"]))
    values = days.loc[others].stack().dropna()
    assert values.max() <= 86 and 45 <= values.median() <= 75


def test_a_minority_is_short_of_liquidity_mostly_the_indebted_and_in_deficit(full: DemoData) -> None:
    current = wide(full, "current_assets") / wide(full, "current_liabilities")
    low = current.lt(1).where(current.notna()).any(axis=1)
    # Roughly one hospital in ten has a current ratio below 1 at some time; in the latest month fewer.
    assert 0.07 <= low.mean() <= 0.13
    latest = current[full.end_period].dropna()
    assert 0.05 <= (latest < 1).mean() <= 0.10
    assert 1.3 <= latest.median() <= 1.7
    # Nearly all of them indebted (a debt ratio of 60 % or more at some time) or in chronic deficit.
    indebted = (wide(full, "total_liabilities") / wide(full, "total_assets")).max(axis=1) >= 0.6
    weak = indebted | indebted.index.isin(planted_hospitals(full, "chronic_deficit"))
    assert weak[low].mean() >= 0.85
    # Where liabilities exceed assets the current ratio is below 1 in every month the story says.
    for row in full.planted[full.planted["rule"] == "liquidity_low"].itertuples():
        assert (in_span(current, row.hospital_code, row.first_period, row.last_period).dropna() < 1).all()


def test_a_minority_sends_v1_files(full: DemoData) -> None:
    m = full.monthly
    empty = m[V2].isna().all(axis=1).groupby(m["hospital_code"]).agg(["all", "any"])
    assert (empty["all"] == empty["any"]).all()  # a hospital is v1 or v2 in every row
    v1 = empty.index[empty["all"]]
    assert 0.10 <= len(v1) / len(empty) <= 0.20
    levels = full.registry.set_index("hospital_code").loc[v1, "level"]
    assert not levels.str.startswith("三级").any()
    assert levels.isin(["一级", "未定级"]).mean() >= 0.6
    assert m.loc[~m["hospital_code"].isin(v1), V2].notna().all().all()


def test_campaign_processes_and_stale_progress(full: DemoData) -> None:
    p = full.progress
    campaign = p["campaign_optimized_processes"]
    reported = p[campaign.notna()]
    assert (reported["campaign_optimized_processes"].astype(int) <= reported["optimized_processes"]).all()
    assert (reported["period"] >= "2024-01").all()
    assert campaign.notna().mean() >= 0.6  # most reports carry it
    v1 = set(full.monthly.loc[full.monthly["medical_service_revenue"].isna(), "hospital_code"])
    assert p.loc[p["hospital_code"].isin(v1), "campaign_optimized_processes"].isna().all()
    # Campaign counts never go backwards.
    ordered = reported.sort_values(["hospital_code", "period"])
    step = ordered.groupby("hospital_code")["campaign_optimized_processes"].apply(lambda s: s.astype(int).diff())
    assert (step.dropna() >= 0).all()
    # A few hospitals stopped reporting progress: their last report is 3 quarters before the last due.
    last = p.groupby("hospital_code")["period"].max()
    stale = last[last < "2026-03"]
    assert 5 <= len(stale) <= 12
    assert not full.registry.set_index("hospital_code").loc[stale.index, "level"].isin(["一级", "未定级"]).any()


def test_a_small_province_carries_the_main_stories() -> None:
    data = generate(SMALL_COUNTIES, END, months=14, n_hospitals=60, seed=7)
    cases = set(data.planted["case"])
    assert {"chronic_deficit", "wage_arrears", "negative_net_assets", "healthy_seasonal", "falling_cash",
            "supplier_payables_stretched", "insurance_receivable_stretched", "construction_loans"} <= cases
    assert (data.registry["budget_authority"] == "国家").sum() == 1
