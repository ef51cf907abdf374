"""The demo generator and file writer: structure, accounting identities, magnitudes, formats.

The magnitudes are measured the way the dashboard measures them (ratio of sums over
hospitals and the last full calendar year) and must fall inside the ranges of the
public national figures the generator cites.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

import opsmon
from opsmon.demo.files import DemoFile, write_files
from opsmon.demo.generate import (
    COUNT_COLUMNS,
    V2_COLUMNS,
    MONEY_COLUMNS,
    MONTHLY_COLUMNS,
    PROGRESS_COLUMNS,
    REGISTRY_COLUMNS,
    DemoData,
    generate,
    tier_of,
)
from opsmon.ingest import uscc
from opsmon.ingest.fields import (
    AFFILIATIONS,
    AUTHORITIES,
    BUDGET_AUTHORITIES,
    CALIBER_MAPPING,
    CATEGORIES,
    HOSPITAL_LEVELS,
    MONTHLY,
    PLATFORM_STATUS,
)

END = "2026-10"
LAST_FULL_YEAR = "2025"

# A hand-built corner of 吉林: 长春 districts and counties, 通化 (with 梅河口市), 延边 (no districts).
SMALL_COUNTIES = pd.DataFrame([
    ("220102", "南关区", "220100"), ("220104", "朝阳区", "220100"), ("220106", "绿园区", "220100"),
    ("220122", "农安县", "220100"), ("220183", "德惠市", "220100"),
    ("220502", "东昌区", "220500"), ("220521", "通化县", "220500"), ("220581", "梅河口市", "220500"),
    ("222401", "延吉市", "222400"), ("222403", "敦化市", "222400"), ("222426", "安图县", "222400"),
], columns=["adcode", "name", "prefecture_adcode"])


def jilin_counties() -> pd.DataFrame:
    """The 60 county-level divisions of 吉林 as the loader reads them from the regions table."""
    regions = pd.read_csv(Path(opsmon.__file__).parent / "assets/geo/220000/regions.csv", dtype=str)
    counties = regions[regions["level"] == "county"]
    return counties.rename(columns={"geo_parent_adcode": "prefecture_adcode"})[["adcode", "name", "prefecture_adcode"]]


@pytest.fixture(scope="module")
def full() -> DemoData:
    """The default demo: 300 hospitals × 36 months of 吉林."""
    return generate(jilin_counties(), END)


@pytest.fixture(scope="module")
def small() -> DemoData:
    return generate(SMALL_COUNTIES, END, months=14, n_hospitals=60, seed=7)


def with_tier(frame: pd.DataFrame, data: DemoData) -> pd.DataFrame:
    out = frame.merge(data.registry[["hospital_code", "level", "category", "adcode"]], on="hospital_code")
    out["tier"] = out["level"].map(tier_of)
    return out


def cents(s: pd.Series) -> np.ndarray:
    return np.round(s.to_numpy(dtype=float) * 100).astype(np.int64)


def magnitudes(data: DemoData) -> dict[str, float]:
    """The headline figures, as ratios of sums over the last full year (stocks: the last month)."""
    m = with_tier(data.monthly, data)
    y = m[m["period"].str.startswith(LAST_FULL_YEAR)]

    def ratio(frame: pd.DataFrame, num: str | list[str], den: str | list[str]) -> float:
        return float(frame[num].to_numpy().sum() / frame[den].to_numpy().sum())

    out: dict[str, float] = {}
    med = y["medical_revenue"].sum()
    out["medical_service_share"] = float(
        (med - y[["drug_revenue", "consumables_revenue", "exam_revenue", "lab_revenue"]].to_numpy().sum()) / med)
    out["personnel_share"] = ratio(y, "personnel_expense", ["business_expense", "admin_expense"])
    for tier, key in (("三级", "t3"), ("二级", "t2")):
        yt = y[y["tier"] == tier]
        out[f"energy_per_10k_{key}"] = ratio(yt, "energy_expense", "total_revenue") * 10_000
        out[f"outpatient_cost_{key}"] = ratio(yt, "outpatient_revenue", "outpatient_visits")
        out[f"inpatient_cost_{key}"] = ratio(yt, "inpatient_revenue", "discharges")
        out[f"median_annual_revenue_yi_{key}"] = float(
            yt.groupby("hospital_code")["total_revenue"].sum().median() / 1e8)
    out["alos"] = ratio(y, "inpatient_bed_days", "discharges")
    last = m[m["period"] == data.end_period]
    debt = last["total_liabilities"] / last["total_assets"]
    out["debt_ratio_median"] = float(debt.median())
    out["debt_above_70"] = int((debt > 0.7).sum())
    out["debt_above_100"] = int((debt > 1.0).sum())
    year = y.groupby("hospital_code")[["total_revenue", "total_expense"]].sum()
    out["deficit_share"] = float((year["total_revenue"] < year["total_expense"]).mean())
    out["nurse_doctor_ratio"] = float(last["nurses"].sum() / last["doctors"].sum())
    by_year = m.groupby(m["period"].str[:4])["medical_revenue"].sum()
    out["medical_revenue_growth"] = float(by_year[LAST_FULL_YEAR] / by_year[str(int(LAST_FULL_YEAR) - 1)] - 1)
    out["province_revenue_yi"] = float(y["total_revenue"].sum() / 1e8)
    return out


# --------------------------------------------------------------------------------------
# Registry


def check_registry(data: DemoData, counties: pd.DataFrame) -> pd.DataFrame:
    reg = data.registry
    assert list(reg.columns) == REGISTRY_COLUMNS
    assert reg["hospital_code"].map(uscc.is_valid).all()
    assert reg["hospital_code"].is_unique
    assert reg["hospital_code"].str.startswith("12").all()
    assert (reg["hospital_code"].str[2:8] == reg["adcode"]).all()
    assert reg["name"].str.endswith("（演示）").all()
    assert reg["name"].is_unique
    assert reg["adcode"].isin(counties["adcode"]).all()
    assert reg["level"].isin(HOSPITAL_LEVELS).all()
    assert reg["category"].isin(CATEGORIES).all()
    assert reg["affiliation"].isin(AFFILIATIONS).all()
    assert reg["authority"].isin(AUTHORITIES).all()
    assert reg["is_pilot"].isin(["是", "否"]).all() and reg["is_budget_managed"].isin(["是", "否"]).all()
    assert reg["budget_authority"].isin(BUDGET_AUTHORITIES).all()
    assert ((reg["is_budget_managed"] == "是") == (reg["budget_authority"] != "无")).all()
    tcm = reg["category"].isin(["中医医院", "中西医结合医院", "民族医医院"])
    assert (reg.loc[tcm, "authority"] == "中医药局").all() and (reg.loc[~tcm, "authority"] == "卫生健康委").all()
    tiers = reg["level"].map(tier_of)
    assert (tiers[reg["is_pilot"] == "是"] == "三级").all()
    assert (tiers[reg["is_budget_managed"] == "是"] == "三级").all()
    # Alliance leads: an existing 三级 or 二级甲等 hospital of the same prefecture, never itself.
    pref = dict(zip(counties["adcode"], counties["prefecture_adcode"], strict=True))
    by_code = reg.set_index("hospital_code")
    led = reg[reg["alliance_lead_code"] != ""]
    assert len(led) > 0
    assert led["alliance_lead_code"].isin(reg["hospital_code"]).all()
    leads = by_code.loc[led["alliance_lead_code"]]
    assert leads["level"].isin(["三级甲等", "三级乙等", "三级", "二级甲等"]).all()
    assert (leads["adcode"].map(pref).to_numpy() == led["adcode"].map(pref).to_numpy()).all()
    assert (led["alliance_lead_code"] != led["hospital_code"]).all()
    assert (by_code.loc[led["alliance_lead_code"], "alliance_lead_code"] == "").all()
    return reg


def test_registry_full_province(full: DemoData) -> None:
    counties = jilin_counties()
    reg = check_registry(full, counties)
    assert len(reg) == 300
    tiers = reg["level"].map(tier_of).value_counts()
    assert 27 <= tiers["三级"] <= 33 and 140 <= tiers["二级"] <= 160 and 105 <= tiers["一级"] <= 135
    levels = reg["level"].value_counts()
    assert levels["三级甲等"] > levels.get("三级乙等", 0) + levels.get("三级", 0)
    assert {"二级甲等", "二级乙等", "二级", "一级", "未定级"} <= set(levels.index)
    cats = reg["category"].value_counts()
    assert cats["综合医院"] > len(reg) * 0.4
    assert cats["中医医院"] >= 40 and cats["妇幼保健院"] >= 40 and 2 <= cats["中西医结合医院"] <= 8
    assert 15 <= cats["专科医院"] <= 50
    assert (reg[reg["category"] == "中医医院"]["level"].map(tier_of) == "三级").sum() >= 3
    # Every 县/县级市 has its own 人民医院, 中医医院 and 妇幼保健院.
    district = counties["adcode"].str[4:6].lt("20") & ~counties["name"].str.endswith(("县", "市"))
    for code, name in zip(counties.loc[~district, "adcode"], counties.loc[~district, "name"], strict=True):
        names = set(reg.loc[reg["adcode"] == code, "name"])
        if code == "222401":  # 延吉市 is 延边州's seat: the prefecture's hospitals are there
            continue
        assert {f"{name}人民医院（演示）", f"{name}中医医院（演示）", f"{name}妇幼保健院（演示）"} <= names
    # The big ones sit in the prefecture seats; 省属 ones in 长春.
    t3 = reg[reg["level"].map(tier_of) == "三级"]
    seat = t3["adcode"].isin(counties.loc[district, "adcode"]) | (t3["adcode"] == "222401")
    assert seat.mean() >= 0.9
    assert (reg.loc[reg["affiliation"] == "省属", "adcode"].str[:4] == "2201").all()
    assert (reg.loc[reg["affiliation"] == "委属委管", "adcode"].str[:4] == "2201").all()
    assert 3 <= (reg["affiliation"] == "省属").sum() <= 10
    assert 4 <= (reg["is_pilot"] == "是").sum() <= 8
    # A handful of budget-managed hospitals (not a third of the 三级): 2–3 国家, among them the
    # ministry-affiliated university hospitals, and a handful of 省直 ones.
    authority = reg["budget_authority"].value_counts()
    assert 2 <= authority["国家"] <= 3 and 1 <= authority["省"] <= 5
    national = reg[reg["budget_authority"] == "国家"]
    assert (national["affiliation"] == "委属委管").sum() >= 1
    assert national["affiliation"].isin(["委属委管", "中央属", "省属"]).all()
    assert (reg.loc[reg["budget_authority"] == "省", "affiliation"] == "省属").all()
    assert national.loc[national["affiliation"] == "委属委管", "name"].str.contains("医科大学").all()


def test_registry_small_province(small: DemoData) -> None:
    reg = check_registry(small, SMALL_COUNTIES)
    assert len(reg) == 60
    assert reg["level"].map(tier_of).value_counts().to_dict() == {"二级": 30, "一级": 24, "三级": 6}
    # 延边 has no districts: its seat 延吉市 holds the 州's hospitals.
    assert "延边州中心医院（演示）" in set(reg["name"])
    assert reg.loc[reg["name"] == "延边州中心医院（演示）", "adcode"].item() == "222401"


# --------------------------------------------------------------------------------------
# Monthly values


def test_monthly_columns_and_types(full: DemoData) -> None:
    m = full.monthly
    assert list(m.columns) == MONTHLY_COLUMNS
    assert m["period"].str.fullmatch(r"\d{4}-\d{2}").all()
    assert not m.duplicated(["hospital_code", "period"]).any()
    for code in COUNT_COLUMNS:
        assert m[code].dtype == np.int64, code
    for code in MONEY_COLUMNS:
        values = m[code].dropna().to_numpy()
        assert np.allclose(values, np.round(values, 2), rtol=0, atol=1e-6), code
    required = [f.code for f in MONTHLY if f.required]
    assert not m[required].isna().any().any()
    # Optional cost fields: filled for most, empty (never zero) for a few 一级 hospitals.
    blank = m[m["drug_expense"].isna()]
    assert 0 < blank["hospital_code"].nunique() <= 30
    assert (full.registry.set_index("hospital_code").loc[blank["hospital_code"].unique(), "level"]
            .isin(["一级", "未定级"])).all()
    assert blank[["consumables_expense", "depreciation_expense"]].isna().all().all()
    # They are v1 reporters: no v2 column either.
    assert blank[list(V2_COLUMNS)].isna().all().all()


@pytest.mark.parametrize("which", ["full", "small"])
def test_accounting_identities_to_the_cent(which: str, request: pytest.FixtureRequest) -> None:
    m = request.getfixturevalue(which).monthly
    c = {code: cents(m[code]) for code in MONEY_COLUMNS
         if code not in ("drug_expense", "consumables_expense", "depreciation_expense", *V2_COLUMNS)}
    assert (c["medical_revenue"] == c["outpatient_revenue"] + c["inpatient_revenue"]).all()
    assert (c["total_revenue"] == c["medical_revenue"] + c["fiscal_subsidy_revenue"] + c["other_revenue"]).all()
    assert (c["drug_revenue"] + c["consumables_revenue"] + c["exam_revenue"] + c["lab_revenue"]
            <= c["medical_revenue"]).all()
    assert (c["total_expense"] == c["business_expense"] + c["admin_expense"] + c["other_expense"]).all()
    assert (c["personnel_expense"] <= c["business_expense"] + c["admin_expense"]).all()
    assert (c["cash"] <= c["current_assets"]).all() and (c["current_assets"] <= c["total_assets"]).all()
    assert (c["current_liabilities"] <= c["total_liabilities"]).all()
    assert (c["long_term_loans"] <= c["total_liabilities"]).all()
    # The v2 identities, on every row that has the columns (v1 rows have none of them).
    v2 = m["medical_service_revenue"].notna().to_numpy()
    assert (m.loc[v2, list(V2_COLUMNS)].notna().all().all() and m.loc[~v2, list(V2_COLUMNS)].isna().all().all())
    c2 = {code: cents(m.loc[v2, code]) for code in MONEY_COLUMNS}
    assert (c2["medical_service_revenue"] <= c2["medical_revenue"] - c2["drug_revenue"] - c2["consumables_revenue"]
            - c2["exam_revenue"] - c2["lab_revenue"]).all()
    assert (c2["herbal_pieces_revenue"] <= c2["drug_revenue"]).all()
    assert (c2["inventory"] <= c2["current_assets"]).all()
    assert (c2["short_term_loans"] <= c2["current_liabilities"]).all()
    assert (c2["salary_arrears"] <= c2["total_liabilities"]).all()
    assert (c2["construction_debt"] <= c2["total_liabilities"]).all()
    assert (c2["discharged_patient_revenue"] <= 1.5 * c2["inpatient_revenue"]).all()
    assert (abs(c2["discharged_patient_revenue"] / c2["inpatient_revenue"] - 1) < 0.1).all()  # ≈ 住院收入
    # Cash, receivables and inventory are parts of current assets; payables, short-term loans and
    # arrears parts of current liabilities; the lease payables of the non-current ones.
    assert (c2["cash"] + c2["insurance_receivable"] + c2["inventory"] <= c2["current_assets"]).all()
    assert (c2["supplier_payable"] + c2["short_term_loans"] + c2["salary_arrears"] <= c2["current_liabilities"]).all()
    assert (c2["long_term_loans"] + c2["long_term_payables"] <= c2["total_liabilities"] - c2["current_liabilities"]
            ).all()
    assert (c2["medical_activity_revenue"] <= c2["total_revenue"]).all()
    assert (c2["medical_activity_revenue"] >= c2["medical_revenue"]).all()
    assert (c2["medical_activity_expense"] <= c2["business_expense"] + c2["admin_expense"]).all()
    # Salary arrears and construction debt never exceed total liabilities (v1 rows too).
    assert (c["salary_arrears"] <= c["total_liabilities"]).all()
    assert (c["construction_debt"] <= c["total_liabilities"]).all()
    numeric = m[MONEY_COLUMNS + COUNT_COLUMNS]
    assert (numeric.fillna(0) >= 0).all().all()
    assert (m["outpatient_visits"] > 0).all() and (m["open_beds"] > 0).all() and (m["doctors"] > 0).all()


def test_magnitudes_follow_national_figures(full: DemoData) -> None:
    g = magnitudes(full)
    assert 0.26 <= g["medical_service_share"] <= 0.34
    assert 0.35 <= g["personnel_share"] <= 0.45
    assert 75 <= g["energy_per_10k_t3"] <= 105
    assert 110 <= g["energy_per_10k_t2"] <= 140
    assert 0.40 <= g["debt_ratio_median"] <= 0.48
    assert 1 <= g["debt_above_100"] <= 4
    assert g["debt_above_70"] >= 5
    assert 0.20 <= g["deficit_share"] <= 0.40
    assert abs(g["outpatient_cost_t3"] / 390 - 1) <= 0.15
    assert abs(g["outpatient_cost_t2"] / 250 - 1) <= 0.15
    assert abs(g["inpatient_cost_t3"] / 12_900 - 1) <= 0.15
    assert abs(g["inpatient_cost_t2"] / 6_400 - 1) <= 0.15
    assert 7.5 <= g["alos"] <= 9.5
    assert 1.1 <= g["nurse_doctor_ratio"] <= 1.6
    assert 6 <= g["median_annual_revenue_yi_t3"] <= 16
    assert 0.5 <= g["median_annual_revenue_yi_t2"] <= 3
    assert 0.0 < g["medical_revenue_growth"] < 0.10


def test_seasonality(full: DemoData) -> None:
    province = full.monthly.groupby("period")["total_revenue"].sum()
    visits = full.monthly.groupby("period")["outpatient_visits"].sum()
    for year in ("2024", "2025", "2026"):
        feb, jan, mar = (province[f"{year}-{mm}"] for mm in ("02", "01", "03"))
        assert feb < jan and feb < mar
        assert 0.70 <= feb / mar <= 0.90  # the Spring Festival dip
        assert visits[f"{year}-02"] < 0.9 * visits[f"{year}-03"]
    assert province["2025-12"] > province["2025-11"]  # the mild December peak


def test_stock_stories(full: DemoData) -> None:
    """Stocks move smoothly; a handful of hospitals carry each risk story."""
    m = full.monthly.sort_values(["hospital_code", "period"])
    step = m.groupby("hospital_code")[["open_beds", "total_assets", "doctors"]].pct_change().dropna()
    assert (step["open_beds"].abs() <= 0.20).all()
    assert (step["open_beds"] != 0).mean() < 0.02  # beds change rarely
    assert (step["total_assets"].abs() < 0.10).all()
    small_step = m.groupby("hospital_code")["doctors"].diff().dropna().abs() <= 2  # 3 → 4 doctors is fine
    assert ((step["doctors"].abs() < 0.10) | small_step).all()

    arrears = m[m["salary_arrears"] > 0]
    assert 3 <= arrears["hospital_code"].nunique() <= 6
    first_seen = arrears.groupby("hospital_code")["period"].min()
    last_seen = arrears.groupby("hospital_code")["period"].max()
    assert (first_seen >= "2026-09").any()  # one began in the last two months
    assert (last_seen < "2026-08").any()  # some were settled
    assert (last_seen == END).sum() >= 2  # some persist

    rises = m.groupby("hospital_code")["construction_debt"].diff() > 0
    assert 3 <= m.loc[rises, "hospital_code"].nunique() <= 6
    assert (m.loc[rises, "period"] == END).any()

    # Long-term loans jump (a drawdown of ≥ 20 % in one month) in a handful of hospitals only.
    jump = m.groupby("hospital_code")["long_term_loans"].pct_change() >= 0.2
    assert 1 <= m.loc[jump, "hospital_code"].nunique() <= 10


# --------------------------------------------------------------------------------------
# Arrivals


def test_arrivals(full: DemoData) -> None:
    a, missing = full.arrivals, full.missing
    assert list(a.columns) == ["hospital_code", "period", "received_at"]
    assert (a["received_at"] <= full.now).all()
    assert full.now == pd.Timestamp("2026-11-23 09:00")
    # Every (hospital, month) is either reported (and in monthly) or missing.
    keys = set(zip(a["hospital_code"], a["period"], strict=True))
    assert keys == set(zip(full.monthly["hospital_code"], full.monthly["period"], strict=True))
    assert not keys & set(zip(missing["hospital_code"], missing["period"], strict=True))
    assert len(a) + len(missing) == 300 * 36
    period_end = pd.to_datetime(a["period"]) + pd.offsets.MonthBegin(1)
    assert (a["received_at"] >= period_end).all()
    due = period_end + pd.Timedelta(days=10)
    on_time = (a["received_at"] < due).mean()
    assert 0.80 <= on_time <= 0.90
    late = a.loc[a["received_at"] >= due, "received_at"]
    assert (late.dt.day <= 25).all()
    assert a["received_at"].dt.hour.between(8, 17).all()
    last_missing = (missing["period"] == END).sum() / 300
    assert 0.02 <= last_missing <= 0.10
    history = missing[missing["period"] < END]
    assert 0 < len(history) < 0.01 * 300 * 35
    levels = full.registry.set_index("hospital_code").loc[history["hospital_code"], "level"]
    assert levels.isin(["一级", "未定级"]).all()


def test_now_bounds_arrivals() -> None:
    now = pd.Timestamp("2026-11-06 12:00")
    data = generate(SMALL_COUNTIES, END, months=4, n_hospitals=40, seed=3, now=now)
    assert (data.arrivals["received_at"] <= now).all()
    assert (data.missing["period"] == END).sum() > 10  # most had not arrived yet


def test_deterministic() -> None:
    one = generate(SMALL_COUNTIES, END, months=14, n_hospitals=60, seed=11)
    two = generate(SMALL_COUNTIES, END, months=14, n_hospitals=60, seed=11)
    other = generate(SMALL_COUNTIES, END, months=14, n_hospitals=60, seed=12)
    for name in ("registry", "monthly", "progress", "arrivals", "missing", "corrections", "planted"):
        pd.testing.assert_frame_equal(getattr(one, name), getattr(two, name))
    assert not one.registry["hospital_code"].equals(other.registry["hospital_code"])
    assert not one.monthly["total_revenue"].equals(other.monthly["total_revenue"])


def test_corrections(full: DemoData) -> None:
    c = full.corrections
    rows = full.monthly.set_index(["hospital_code", "period"]).loc[list(zip(c["hospital_code"], c["period"],
                                                                            strict=True))]
    assert 0.005 <= len(c) / len(full.monthly) <= 0.02
    assert (c["period"] < END).all()
    first = full.arrivals.set_index(["hospital_code", "period"]).loc[rows.index, "received_at"].to_numpy()
    assert (c["received_at"].to_numpy() > first).all() and (c["received_at"] <= full.now).all()
    assert (c["first_other_revenue"].to_numpy() != rows["other_revenue"].to_numpy()).all()
    # The first submission's identity held too.
    assert (cents(c["first_total_revenue"]) - cents(c["first_other_revenue"])
            == cents(rows["total_revenue"]) - cents(rows["other_revenue"])).all()


# --------------------------------------------------------------------------------------
# Progress


def test_progress(full: DemoData) -> None:
    p = with_tier(full.progress, full)
    assert list(full.progress.columns) == PROGRESS_COLUMNS
    assert p["ops_platform_status"].isin(PLATFORM_STATUS).all()
    assert p["caliber_mapping"].isin(CALIBER_MAPPING).all()
    # Schedules: quarterly for 二级 and above, June and December for 一级/未定级.
    quarters = sorted(p.loc[p["tier"] != "一级", "period"].unique())
    assert quarters[0] == "2023-12" and quarters[-1] == "2026-09" and len(quarters) == 12
    assert sorted(p.loc[p["tier"] == "一级", "period"].unique()) == [
        "2023-12", "2024-06", "2024-12", "2025-06", "2025-12", "2026-06"]

    order = {"ops_platform_status": list(PLATFORM_STATUS), "caliber_mapping": list(CALIBER_MAPPING)}
    p = p.sort_values(["hospital_code", "period"])
    for col in ("ops_committee", "ops_department", "chief_accountant", "risk_register", "internal_control_review",
                "ops_platform_status", "caliber_mapping", "optimized_processes"):
        rank = p[col].map({v: i for i, v in enumerate(order[col])}) if col in order else (
            p[col] if col == "optimized_processes" else p[col].map({"否": 0, "是": 1}))
        assert rank.notna().all()
        assert (rank.groupby(p["hospital_code"]).diff().fillna(0) >= 0).all(), f"{col} went backwards"
    within_year = p.groupby([p["hospital_code"], p["period"].str[:4]])["pilot_projects_year"].diff().fillna(0)
    assert (within_year >= 0).all()

    def in_use(period: str, tier: str) -> float:
        s = p[(p["period"] == period) & (p["tier"] == tier)]["ops_platform_status"]
        return float((s == "已应用").mean())

    assert 0.5 <= in_use("2025-12", "三级") <= 0.75
    assert 0.8 <= in_use("2026-09", "三级") <= 0.95
    assert 0.1 <= in_use("2023-12", "二级") <= 0.3
    assert 0.35 <= in_use("2026-09", "二级") <= 0.55
    end = p[(p["period"] == "2026-09")]
    assert (end["ops_committee"] == "是").mean() > 0.85 and (end["ops_department"] == "是").mean() > 0.8
    assert (end.loc[end["tier"] == "三级", "chief_accountant"] == "是").mean() > 0.7
    year_end = p[(p["period"] == "2025-12") & (p["tier"] != "一级")]
    assert (year_end["pilot_projects_year"] >= 1).mean() > 0.8
    # The 2024–2025 campaign (v2 population: pilots and 国家 budget-managed hospitals need 5): by
    # 2025-12 all leaders but at most one have optimised 5 processes since 2024-01.
    leaders = full.registry.loc[(full.registry["is_pilot"] == "是") | (full.registry["budget_authority"] == "国家"),
                                "hospital_code"]
    due = p[p["period"] == "2025-12"].set_index("hospital_code")
    reported = due.loc[leaders, "campaign_optimized_processes"].dropna().astype(int)
    assert len(reported) >= len(leaders) - 1
    assert (reported < 5).sum() <= 1 and (reported >= 5).sum() >= len(leaders) - 2


# --------------------------------------------------------------------------------------
# Files


def read_monthly(path: Path) -> pd.DataFrame:
    """Read a demo monthly file back into code columns (a test's stand-in for the real parser)."""
    labels = {f.header: f.code for f in MONTHLY}
    if path.suffix == ".xlsx":
        frame = pd.read_excel(path, header=2, dtype={"机构代码": str})
        frame["报告期"] = frame["报告期"].map(lambda v: v.strftime("%Y-%m") if hasattr(v, "strftime") else v)
    elif path.read_bytes().startswith(b"\xef\xbb\xbf"):
        return pd.read_csv(path, encoding="utf-8-sig", dtype={"hospital_code": str, "period": str})
    else:
        frame = pd.read_csv(path, encoding="gbk", thousands=",", dtype={"机构代码": str, "报告期": str})
        frame["报告期"] = pd.to_datetime(frame["报告期"], format="%Y年%m月").dt.strftime("%Y-%m")
    return frame.rename(columns=labels)


@pytest.fixture(scope="module")
def written(small: DemoData, tmp_path_factory: pytest.TempPathFactory) -> list[DemoFile]:
    return write_files(small, tmp_path_factory.mktemp("demo"))


def test_files_in_load_order(small: DemoData, written: list[DemoFile]) -> None:
    assert written[0].kind == "registry" and written[0].path.name == "机构名录.xlsx"
    times = [f.received_at for f in written]
    assert times == sorted(times)
    assert all(f.path.exists() for f in written)
    kinds = {f.kind for f in written}
    assert kinds == {"registry", "monthly", "progress"}
    monthly = [f for f in written if f.kind == "monthly"]
    per_period = pd.Series([f.period for f in monthly]).value_counts()
    assert per_period.max() <= 24  # a few arrival days, each a v2 file and (where needed) a v1 file
    assert {f.path.suffix for f in monthly} == {".csv", ".xlsx"}
    assert any(f.path.read_bytes().startswith(b"\xef\xbb\xbf") for f in monthly if f.path.suffix == ".csv")
    assert any(not f.path.read_bytes().startswith(b"\xef\xbb\xbf") for f in monthly if f.path.suffix == ".csv")
    assert all(f.received_at <= small.now for f in written)
    progress = [f for f in written if f.kind == "progress"]
    assert sorted(f.period for f in progress) == sorted(small.progress["period"].unique())


def test_gbk_csv_as_excel_saves_it(written: list[DemoFile]) -> None:
    gbk = next(f for f in written if f.path.suffix == ".csv" and not f.path.read_bytes().startswith(b"\xef\xbb\xbf"))
    raw = gbk.path.read_bytes()
    assert b"\r\n" in raw and raw.count(b"\r\n") == raw.count(b"\n")
    frame = pd.read_csv(gbk.path, encoding="gbk")
    assert list(frame.columns[:3]) == ["机构代码", "报告期", "收入合计（元）"]
    assert "能源费用（水电气热）（元）" in frame.columns


def test_xlsx_title_rows(written: list[DemoFile]) -> None:
    registry = openpyxl.load_workbook(written[0].path)
    ws = registry.worksheets[0]
    assert ws["A1"].value == "吉林省公立医院机构名录（演示数据）"
    assert any(str(r).startswith("A1:") for r in ws.merged_cells.ranges)
    assert all(c.value is None for c in ws[2])
    assert ws["A3"].value == "机构代码" and ws["B3"].value == "机构名称"
    xlsx = next(f for f in written if f.kind == "monthly" and f.path.suffix == ".xlsx")
    ws = openpyxl.load_workbook(xlsx.path).worksheets[0]
    assert any(str(r).startswith("A1:") for r in ws.merged_cells.ranges)
    assert ws["A3"].value == "机构代码"
    assert isinstance(ws["C4"].value, float | int)  # numbers are numeric cells


def test_files_carry_the_data(small: DemoData, written: list[DemoFile]) -> None:
    """Reading every monthly file back gives the generated rows; corrections come second."""
    monthly = [f for f in written if f.kind == "monthly"]
    parts = []
    for order, f in enumerate(monthly):
        frame = read_monthly(f.path)
        assert (frame["period"] == f.period).all()
        frame["order"] = order
        parts.append(frame)
    back = pd.concat(parts, ignore_index=True)
    latest = back.sort_values("order").drop_duplicates(["hospital_code", "period"], keep="last")
    latest = latest.set_index(["hospital_code", "period"]).sort_index()
    expected = small.monthly.set_index(["hospital_code", "period"]).sort_index()
    assert latest.index.equals(expected.index)
    for code in MONEY_COLUMNS:
        a, b = latest[code].to_numpy(dtype=float), expected[code].to_numpy(dtype=float)
        assert np.allclose(np.nan_to_num(a, nan=-1), np.nan_to_num(b, nan=-1), rtol=0, atol=0.005), code
    for code in COUNT_COLUMNS:
        assert (latest[code].to_numpy() == expected[code].to_numpy()).all(), code
    # Each corrected row appears twice: first with the wrong 其他收入, then the right one.
    dup = back[back.duplicated(["hospital_code", "period"], keep=False)]
    assert len(dup) == 2 * len(small.corrections) > 0


def test_files_are_byte_identical_when_rewritten(small: DemoData, written: list[DemoFile], tmp_path: Path) -> None:
    again = write_files(small, tmp_path)
    assert [f.path.name for f in again] == [f.path.name for f in written]
    assert [f.received_at for f in again] == [f.received_at for f in written]
    for a, b in zip(again, written, strict=True):
        assert a.path.read_bytes() == b.path.read_bytes(), a.path.name
    assert zipfile.is_zipfile(written[0].path)
