"""The operations-management progress reports: a rollout that never goes backwards."""

from __future__ import annotations

import numpy as np
import pandas as pd

from opsmon.demo.common import PROGRESS_COLUMNS
from opsmon.periods import month_index


def progress_received_at(period: str) -> pd.Timestamp:
    """When the progress report for *period* arrives: the 15th of the following month, 10:00."""
    p = pd.Period(period, freq="M") + 1
    return pd.Timestamp(year=p.year, month=p.month, day=15, hour=10)



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
    """Quarterly (二级+) and half-yearly (一级/未定级) progress: a rollout that never goes backwards.

    A few 二级+ hospitals stopped sending progress reports three quarters before the end
    (their status is 进展未更新 for the latest periods). Hospitals on the v2 template report
    ``campaign_optimized_processes`` (processes optimised since 2024-01) from 2024 on; the
    others, and every report before 2024, leave it empty.
    """
    H = len(h)
    tier = h["tier"].to_numpy()
    # The v2 population that must lead (试点 and 国家 budget-managed hospitals: 5 processes, 率先完成).
    leader = ((h["is_pilot"] == "是") | (h["budget_authority"] == "国家")).to_numpy()
    quarter_ends = [p for p in periods if p.month in (3, 6, 9, 12) and progress_received_at(str(p)) <= now]
    if not quarter_ends:
        return pd.DataFrame(columns=PROGRESS_COLUMNS)
    # A hospital's capability makes it early on everything (pilots and budget-managed ones most).
    capability = rng.normal(0, 1, H) + 1.0 * leader + 0.5 * (h["budget_authority"] == "省").to_numpy()

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

    # Each hospital's schedule of reports: quarterly, half-yearly for 一级; a few stopped reporting.
    stopped = _stopped(tier, leader, quarter_ends, rng)
    schedule = [(i, p) for i in range(H)
                for p in (quarter_ends if tier[i] != "一级" else [q for q in quarter_ends if q.month in (6, 12)])
                if p <= stopped.get(i, p)]
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

    # Optimised processes, each completed in a month: some before the 2024–2025 campaign, then
    # the campaign's (pilots and 国家 budget-managed hospitals aim for ≥ 5 by 2025-12, the other
    # 二级+ for ≥ 2; one leader of a full province falls short), a few more afterwards.
    pre = np.where(tier == "三级", rng.poisson(2.5, H), np.where(tier == "二级", rng.poisson(0.8, H),
                                                               rng.poisson(0.3, H)))
    campaign = np.where(leader, 5 + rng.poisson(1.5, H),
                        np.where(tier == "三级", 2 + rng.poisson(2, H),
                                 np.where((tier == "二级") & (rng.random(H) < 0.85), 2 + rng.poisson(1, H),
                                          rng.poisson(0.7, H))))
    leaders = np.flatnonzero(leader)
    if len(leaders) >= 4:
        campaign[leaders[np.argmin(capability[leaders])]] = 3
    start, end = _months("2024-01"), _months("2025-12")
    done_pre = [np.sort(rng.integers(_months("2021-01"), start, k)) for k in pre]
    done_campaign = [np.sort(rng.integers(start, end + 1, k)) for k in campaign]
    later = month_index(periods[-1]) + 1
    done_after = [np.sort(rng.integers(end + 1, max(end + 2, later), k))
                  for k in rng.poisson(0.4 * max(0, later - end - 1) / 12, H)]
    v2 = h["reports_v2"].to_numpy()

    def processes(i: int, m: int) -> tuple[int, int | None]:
        since = int((done_campaign[i] <= m).sum() + (done_after[i] <= m).sum())
        total = int((done_pre[i] <= m).sum()) + since
        return total, (since if v2[i] and m >= start else None)

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
            "optimized_processes": processes(i, m)[0],
            "caliber_mapping": caliber,
            "risk_register": yes(register_at, i, m),
            "internal_control_review": yes(review_at, i, m),
            "campaign_optimized_processes": processes(i, m)[1],
        })
    return pd.DataFrame(rows, columns=PROGRESS_COLUMNS).sort_values(["period", "hospital_code"], ignore_index=True)


def _stopped(tier: np.ndarray, leader: np.ndarray, quarter_ends: list[pd.Period],
             rng: np.random.Generator) -> dict[int, pd.Period]:
    """≈ 3 % of the 二级+ hospitals (not the leaders) whose last progress report is three quarters
    before the last one due: hospital → its last reporting period."""
    if len(quarter_ends) < 4:
        return {}
    options = np.flatnonzero((tier != "一级") & ~leader)
    k = min(len(options), max(1, round(0.03 * len(tier))))
    return {int(i): quarter_ends[-4] for i in rng.choice(options, k, replace=False)}
