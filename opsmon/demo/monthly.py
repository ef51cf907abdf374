"""The monthly financial reports: one row per hospital and month, every identity exact to the cent.

Stocks follow the public magnitudes cited in :mod:`opsmon.demo.generate`. The current assets
come from a current ratio (流动资产 ÷ 流动负债) drawn per hospital — median ≈ 1.5, lower with
debt above 45 % of assets and with a designed deficit, below 1 in about one hospital in ten,
nearly all of them indebted or in deficit, and always where liabilities exceed assets — rather
than from a share of total assets, which made every hospital with a debt ratio over ≈ 55 %
illiquid (a quarter of the province). Hospitals' own published financial disclosures show ≈ 2.2–
2.6 at a debt ratio of ≈ 26–28 %; short-term solvency is weak only in the indebted minority.
Insurance receivables stay 45–85 days of medical revenue except where a story stretches them
(:mod:`opsmon.demo.planted`), bridged by short-term loans.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from opsmon.demo import planted
from opsmon.demo.common import COST_COLUMNS, MONEY_COLUMNS, MONTHLY_COLUMNS, V2_COLUMNS, ar1, by_tier, cents, walk


def _norm(season: list[float]) -> np.ndarray:
    a = np.asarray(season, dtype=float)
    return a / a.mean()


# Seasonality (index by month − 1). Revenue and volumes: the Spring Festival (late January to
# mid-February) empties the wards — January ≈ 10 % and February ≈ 20 % below March —, a quieter
# October (国庆), a mild December peak; March catches up what the festival postponed.
_REVENUE_SEASON = _norm([0.93, 0.81, 1.06, 1.01, 1.00, 1.03, 1.01, 1.00, 1.00, 0.96, 1.03, 1.10])
# Expenses: drugs and consumables follow the patients, salaries do not. Last year's performance
# pay (年终绩效) is paid out in January and February, and December carries the year-end
# settlement (accruals): so January and February are deficit months even in a healthy hospital
# (a margin up to ≈ 8 %), while its 12 months stay in surplus.
_EXPENSE_SEASON = 0.65 * _REVENUE_SEASON + 0.35 * _norm([1.14, 1.03, 0.97, 0.97, 0.97, 0.97, 0.97, 0.97, 0.97,
                                                         0.97, 0.97, 1.12])
# Fiscal money arrives unevenly, more of it at year end.
_FISCAL_SEASON = _norm([0.85, 0.8, 0.95, 0.95, 0.95, 1.1, 0.95, 0.95, 1.05, 0.9, 1.0, 1.55])
# 吉林's heating season (Oct 20 – Apr 5) dominates energy bills.
_ENERGY_SEASON = _norm([1.25, 1.20, 1.10, 0.95, 0.80, 0.85, 0.95, 0.95, 0.80, 0.95, 1.05, 1.15])
# The current ratio's fall (in log) per unit of debt ratio above 45 %, and for a designed deficit.
CR_DEBT_SLOPE = 1.5
CR_DEFICIT_DROP = 0.15



def _monthly(h: pd.DataFrame, periods: pd.PeriodIndex,
             rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per hospital and month, every identity of the spec exact to the cent; and the planted truth."""
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

    fiscal_share = np.clip(by_tier(tier, {"三级": 0.07, "二级": 0.13, "一级": 0.24}) + 0.07 * mch + 0.05 * spec
                           + rng.normal(0, 0.025, H), 0.02, 0.5)
    other_share = np.clip(rng.normal(0.025, 0.008, H), 0.005, 0.06)
    medical_share = 1 - fiscal_share - other_share
    out_share = np.clip(by_tier(tier, {"三级": 0.36, "二级": 0.40, "一级": 0.50}) + 0.08 * mch + 0.05 * tcm
                        + rng.normal(0, 0.04, H), 0.2, 0.8)

    # Costs per visit/discharge (统计年鉴: 三级 ≈ 390 / 12 900 元, 二级 ≈ 250 / 6 400 元), rising slowly.
    cost_out = by_tier(tier, {"三级": 390, "二级": 250, "一级": 165}) * np.exp(rng.normal(0, 0.12, H))
    cost_in = by_tier(tier, {"三级": 12900, "二级": 6400, "一级": 3800}) * np.exp(rng.normal(0, 0.14, H))
    cost_growth = np.exp(rng.normal(0.01, 0.015, H)[:, col] * tt)
    cost_out_t = cost_out[:, col] * cost_growth
    cost_in_t = cost_in[:, col] * cost_growth

    vol_sd = by_tier(tier, {"三级": 0.025, "二级": 0.035, "一级": 0.05})[:, col]
    common = np.exp(ar1(rng, (H, T), 1.0, 0.6) * vol_sd)
    season = _REVENUE_SEASON[month][col, :]
    medical_path = trend * medical_share[:, col] * season * common
    visits = np.maximum(1, np.round(medical_path * out_share[:, col] * np.exp(rng.normal(0, 0.02, (H, T)))
                                    / cost_out_t)).astype(np.int64)
    discharges = np.maximum(1, np.round(medical_path * (1 - out_share[:, col])
                                        * np.exp(rng.normal(0, 0.025, (H, T))) / cost_in_t)).astype(np.int64)
    outpatient = cents(visits * cost_out_t * np.exp(rng.normal(0, 0.01, (H, T))))
    inpatient = cents(discharges * cost_in_t * np.exp(rng.normal(0, 0.012, (H, T))))
    medical = outpatient + inpatient
    fiscal = cents(trend * fiscal_share[:, col] * _FISCAL_SEASON[month][col, :]
                    * np.exp(rng.normal(0, 0.15, (H, T))))
    other = cents(trend * other_share[:, col] * np.exp(rng.normal(0, 0.2, (H, T))))
    total = medical + fiscal + other

    # Medical revenue by source: 医疗服务收入 (the rest) ≈ 26–34 % (国考 医疗服务收入占比).
    shares = np.stack([
        by_tier(tier, {"三级": 0.27, "二级": 0.31, "一级": 0.38}) + 0.08 * tcm - 0.03 * mch,  # drugs (中药饮片)
        by_tier(tier, {"三级": 0.17, "二级": 0.12, "一级": 0.08}) - 0.04 * tcm,  # 卫生材料
        by_tier(tier, {"三级": 0.135, "二级": 0.14, "一级": 0.12}),  # 检查
        by_tier(tier, {"三级": 0.115, "二级": 0.125, "一级": 0.11}),  # 化验
    ]) + rng.normal(0, [[0.025], [0.02], [0.015], [0.015]], (4, H))
    shares = np.clip(shares, 0.02, None)
    shares *= np.minimum(1, 0.84 / shares.sum(axis=0))  # keep at least 16 % for services
    jitter = np.clip(np.exp(rng.normal(0, 0.03, (4, H, T))), 0.92, 1.08)
    drug_rev, cons_rev, exam_rev, lab_rev = (
        np.floor(medical * shares[k][:, col] * jitter[k]).astype(np.int64) for k in range(4))

    # Debt ratio: median ≈ 44 %, a tail above 70 %; a few 资不抵债 set below.
    d0 = np.minimum(0.44 * np.exp(rng.normal(0, 0.27, H)), 0.95)
    ev = planted.events(h, d0, T, rng)
    d0[ev.insolvent] = rng.uniform(1.03, 1.25, len(ev.insolvent))

    # Expenses: the hospital's margin sets how far expenses follow revenue; weak, indebted
    # hospitals run deficits (≈ a third 收不抵支 over 12 months, as the 国考 reports find). The
    # design keeps every margin at least MARGIN_GAP away from zero, every year (a yearly shock
    # moves it, never across), so whether a hospital runs a 12-month deficit is planted truth.
    raw = (by_tier(tier, {"三级": 0.032, "二级": 0.016, "一级": 0.004}) - 0.06 * (np.minimum(d0, 1.3) - 0.44)
           + rng.normal(0, 0.028, H))
    for i, *_ in ev.arrears:
        raw[i] -= 0.05
    margin = raw + np.where(raw < 0, -planted.MARGIN_GAP, planted.MARGIN_GAP)
    margin_t = margin[:, col] + rng.normal(0, 0.006, (H, year_idx.max() + 1))[:, year_idx]
    floor = 2 * planted.MARGIN_GAP / 3
    margin_t = np.where(margin[:, col] < 0, np.minimum(margin_t, -floor), np.maximum(margin_t, floor))
    # Drugs and consumables follow the patients (the common volume swing), salaries do not.
    follow = 0.65 * common + 0.35
    expense_f = trend * (1 - margin_t) * _EXPENSE_SEASON[month][col, :] * follow * np.exp(ar1(rng, (H, T), 0.015, 0.5))
    # The noise must not undo the design: where a 12-month window came out on the wrong side of
    # zero (within 0.5 % of revenue), the hospital's expenses are scaled by one factor until none does.
    rev12, exp12 = _windows(total.astype(float) / 100), _windows(expense_f)
    if rev12.shape[1]:
        healthy = margin >= 0
        k_healthy = np.minimum((0.995 * rev12 / exp12).min(axis=1), 1.0)
        k_deficit = np.maximum((1.005 * rev12 / exp12).max(axis=1), 1.0)
        expense_f *= np.where(healthy, k_healthy, k_deficit)[:, col]
    # Healthy-and-seasonal hospitals: their January and February are deficits (the Spring
    # Festival), whatever the noise drew; their 12-month surplus stays (margin ≥ 3 %).
    seasonal = planted.pick_seasonal(margin, d0, ev, rng)
    jan_feb = np.flatnonzero(month <= 1)
    for i in seasonal:
        expense_f[i, jan_feb] = np.maximum(expense_f[i, jan_feb], total[i, jan_feb] / 100 * 1.02)
    expense = cents(expense_f)
    b_share = np.clip(rng.normal(0.87, 0.015, H), 0.80, 0.92)
    a_share = np.minimum(np.clip(rng.normal(0.105, 0.012, H), 0.06, 0.15), 0.99 - b_share)
    business = cents(expense / 100 * b_share[:, col] * np.exp(rng.normal(0, 0.005, (H, T))))
    admin = np.minimum(cents(expense / 100 * a_share[:, col] * np.exp(rng.normal(0, 0.005, (H, T)))),
                       expense - business)
    other_exp = expense - business - admin
    # 人员经费 / (业务活动费用 + 单位管理费用) ≈ 35–45 % (国考 人员支出占业务支出比重).
    p_share = np.clip(by_tier(tier, {"三级": 0.385, "二级": 0.41, "一级": 0.44}) + rng.normal(0, 0.03, H), 0.28, 0.58)
    personnel = np.minimum(cents((business + admin) / 100 * p_share[:, col] * np.exp(rng.normal(0, 0.02, (H, T)))),
                           business + admin)
    # 药品零加成: drug expense ≈ drug revenue; consumables also include non-chargeable items.
    drug_exp = cents(drug_rev / 100 * rng.uniform(0.97, 1.01, H)[:, col] * np.exp(rng.normal(0, 0.01, (H, T))))
    cons_exp = cents(cons_rev / 100 * rng.uniform(0.95, 1.02, H)[:, col]
                     + expense / 100 * rng.uniform(0.005, 0.015, H)[:, col])
    # 万元收入能耗支出 ≈ 90 元 (三级) / 125 元 (二级) (国考), heating-season heavy.
    energy_rate = np.clip(by_tier(tier, {"三级": 88, "二级": 124, "一级": 140})
                          + rng.normal(0, 1, H) * by_tier(tier, {"三级": 10, "二级": 14, "一级": 18}), 50, 250)
    energy = cents(trend * energy_rate[:, col] / 1e4 * _ENERGY_SEASON[month][col, :]
                   * np.exp(rng.normal(0, 0.05, (H, T))))

    # ---- stocks: smooth month to month
    assets = R * np.exp(rng.normal(np.log(1.3), 0.2, H))
    asset_growth = growth + rng.normal(0, 0.015, H)
    ta_path = assets[:, col] * np.exp(asset_growth[:, col] * tt + walk(rng, (H, T), 0.003))
    drift = rng.normal(0, 0.012, H)
    drift[ev.insolvent] = 0.03
    cap = np.where(np.isin(np.arange(H), ev.insolvent), 1.6, 0.98)
    d_path = np.clip(d0[:, col] + drift[:, col] * tt + walk(rng, (H, T), 0.002), 0.05, cap[:, col])
    tl_base = d_path * ta_path

    # Long-term loans: piecewise constant, repaid in June and December; under 15 % of assets
    # except where a story says otherwise (heavy debt, a drawdown, construction borrowing).
    has_loan = rng.random(H) < by_tier(tier, {"三级": 0.7, "二级": 0.55, "一级": 0.25})
    ltl0 = np.minimum(has_loan * rng.uniform(0.04, 0.25, H) * tl_base[:, 0], planted.ORGANIC_LTD_CAP * ta_path[:, 0])
    construction0 = np.where(has_loan & (rng.random(H) < 0.15), ltl0 * rng.uniform(0.2, 0.7, H), 0.0)
    repay = np.zeros((H, T))
    repay[:, np.isin(month, [5, 11])] = (ltl0 * rng.uniform(0.03, 0.07, H))[:, col]
    for i, share in ev.heavy_debt:
        ltl0[i] = share * ta_path[i, 0]
        repay[i] = 0  # interest only: the principal stays
    draws = np.zeros((H, T))
    cdraws = np.zeros((H, T))
    for i, months in ev.construction:
        if ltl0[i] == 0:
            ltl0[i] = 0.1 * tl_base[i, 0]
        construction0[i] = max(construction0[i], ltl0[i] * rng.uniform(0.3, 0.8))
        amounts = assets[i] * rng.uniform(0.01, 0.03, len(months))
        draws[i, months] = amounts
        cdraws[i, months] = amounts
        repay[i, months] = 0
    for i, when, jump in ev.borrowing:
        if ltl0[i] == 0:
            ltl0[i] = 0.08 * ta_path[i, 0]
        repay[i, when] = 0
        draws[i, when] = jump * (ltl0[i] - repay[i, :when].sum())  # one drawdown: + jump × the loans before
    ltl_base = ltl0[:, col] - repay.cumsum(axis=1)
    ratio = np.divide(ltl_base, ltl0[:, col], out=np.zeros((H, T)), where=ltl0[:, col] > 0)
    ltl_path = ltl_base + draws.cumsum(axis=1)
    cd_path = construction0[:, col] * ratio + cdraws.cumsum(axis=1)
    # Borrowed money funds buildings: it adds to assets and liabilities alike.
    ta_path = ta_path + draws.cumsum(axis=1)
    tl_path = tl_base + draws.cumsum(axis=1)

    total_assets = cents(ta_path)
    total_liab = cents(tl_path)
    long_term = np.minimum(cents(ltl_path), total_liab)
    construction = np.minimum(cents(cd_path), long_term)
    other_noncurrent = cents(tl_path * rng.uniform(0.05, 0.15, H)[:, col])
    current_liab = np.clip(total_liab - long_term - other_noncurrent, 0, None)
    # 长期应付款 (mostly equipment finance leases): a fifth of hospitals, 1–3 % of assets, paid down.
    lease = (rng.random(H) < 0.2) * rng.uniform(0.01, 0.03, H)
    long_term_payables = np.minimum(cents(ta_path[:, :1] * lease[:, col] * np.linspace(1, 0.7, T)[col, :]),
                                    other_noncurrent.min(axis=1)[:, col] // 2)  # capped, so it never rises
    # 流动资产 from a current ratio (流动资产 ÷ 流动负债) drawn per hospital: hospitals' published
    # financial disclosures (医院财务信息公开) put it around 2–2.5 where the debt ratio is ≈ 25 %,
    # and the analyses of 公立医院财务年报 find short-term solvency weak only in the heavily
    # indebted minority (the same hospitals that borrow, run deficits and are 资不抵债). So: median
    # ≈ 1.6, lower as the debt ratio climbs above 45 % and for a designed deficit, below 1 for
    # roughly one hospital in ten — nearly all of them indebted or in deficit — and always below 1
    # where liabilities exceed assets.
    # (One uniform draw per hospital, as the v1 current-asset share took: the draws after it, and
    # so every other calibrated share of the demo, stay as they were.)
    spread = rng.uniform(-0.27, 0.27, H)
    log_cr = (np.log(1.65) + spread - CR_DEBT_SLOPE * np.maximum(np.minimum(d0, 1.3) - 0.45, 0)
              - CR_DEFICIT_DROP * (margin < 0))
    log_cr[ev.insolvent] = np.log(0.7) + spread[ev.insolvent] / 3  # 0.64–0.76
    current_assets = np.minimum(cents(current_liab / 100 * np.exp(log_cr)[:, col] * np.exp(walk(rng, (H, T), 0.01))),
                                cents(0.85 * total_assets / 100))
    cash_share = np.where(d0 > 0.7, rng.uniform(0.12, 0.25, H), rng.uniform(0.28, 0.55, H))
    cash = np.minimum(cents(current_assets / 100 * cash_share[:, col] * np.exp(walk(rng, (H, T), 0.03))),
                      current_assets)
    # Depreciation follows fixed assets (≈ 9 % a year of non-current assets).
    dep = cents((total_assets - current_assets) / 100 * rng.uniform(0.07, 0.11, H)[:, col] / 12)

    # Cash cover (货币资金可支付月数: cash ÷ the last 3 months' spending less depreciation).
    spend3 = _trailing_mean((expense - dep).astype(float), 3)
    target = np.maximum(cash, cents(planted.CASH_FLOOR_MONTHS * spend3 / 100))  # unplanted: ≥ 1.3 months
    for i, start, m0, m_end in ev.falling_cash:
        # Own funds spent on equipment: cover flat at m0, then falling in a straight line to m_end.
        cover = np.full(T, m0)
        cover[start:] = np.linspace(m0, m_end, T - start)
        target[i] = cents(cover * spend3[i] / 100)
    delta = target - cash
    cash, current_assets = target, current_assets + delta
    total_assets = np.maximum(total_assets, current_assets)  # cash spent on equipment stays an asset

    # 应付账款—药品及卫生材料 ≈ 40–80 days of drug and consumables expense (集采货款 30 天内结清
    # is the rule for centrally procured drugs; other suppliers wait longer): under 85 days
    # except where payables are planted to stretch; the unpaid bills stay in the bank.
    supply12 = _trailing_mean((drug_exp + cons_exp).astype(float), 12) * 12 / 365  # cents per day
    days = np.clip(rng.uniform(40, 80, H)[:, col] * np.exp(walk(rng, (H, T), 0.02)), 30, planted.SUPPLIER_DAYS_CAP)
    base_days = days.copy()
    for i, start, days_end in ev.supplier:
        days[i, start:] = np.linspace(days[i, start], days_end, T - start)
    base_payable = np.minimum(cents(base_days * supply12 / 100), cents(0.6 * current_liab / 100))
    extra = np.maximum(cents((days - base_days) * supply12 / 100), 0)
    supplier_payable = base_payable + extra
    current_liab, total_liab = current_liab + extra, total_liab + extra
    cash, current_assets, total_assets = cash + extra, current_assets + extra, total_assets + extra

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
    salary_arrears = np.minimum(cents(arrears), current_liab)

    # 应收医疗款—医保 ≈ 45–75 days of medical revenue (医保 settles monthly, a month or two behind);
    # 库存物资 ≈ 1–2 months of drugs and consumables; both inside current assets beside cash.
    med12 = _trailing_mean(medical.astype(float), 12) * 12 / 365
    receivable_days = rng.uniform(45, 75, H)[:, col] * np.exp(walk(rng, (H, T), 0.02))
    room = current_assets - cash
    insurance_receivable = np.minimum(cents(np.minimum(receivable_days, planted.RECEIVABLE_DAYS_CAP) * med12 / 100),
                                      cents(0.7 * room / 100))
    inventory = np.minimum(cents(rng.uniform(0.8, 2.0, H)[:, col] * _trailing_mean((drug_exp + cons_exp).astype(float),
                                                                                    3) / 100),
                           room - insurance_receivable)
    # 短期借款: two in five hospitals, 2–12 % of current liabilities (more when indebted).
    short_share = (rng.random(H) < np.where(d0 > 0.6, 0.7, 0.35)) * rng.uniform(0.02, 0.12, H)
    short_term_loans = np.clip(cents(current_liab / 100 * short_share[:, col]), 0,
                               np.maximum(current_liab - supplier_payable - salary_arrears, 0))
    # Planted: 医保 pays later and later; the receivable grows in a straight line (in days) to the
    # story's end, bridged by short-term loans (a current asset and a current liability alike).
    stretched = np.zeros((H, T))
    for i, start, days_end in ev.receivable:
        now_days = insurance_receivable[i] / np.maximum(med12[i], 1e-9)
        goal = np.linspace(now_days[start], days_end, T - start)
        stretched[i, start:] = np.maximum(goal - now_days[start:], 0) * med12[i, start:]
    owed = cents(stretched / 100)
    insurance_receivable, short_term_loans = insurance_receivable + owed, short_term_loans + owed
    current_assets, total_assets = current_assets + owed, total_assets + owed
    current_liab, total_liab = current_liab + owed, total_liab + owed

    # The v2 flows. 医疗服务收入 (挂号、床位、诊察、治疗、手术、药事服务、护理…) is most of what is
    # left after drugs, consumables, examinations and tests (the rest: 其他医疗收入).
    residual = medical - drug_rev - cons_rev - exam_rev - lab_rev
    service = np.floor(residual * rng.uniform(0.90, 0.97, H)[:, col]).astype(np.int64)
    # 中药饮片: a third of drug revenue in TCM hospitals, a few percent elsewhere.
    herbal_share = np.where(tcm > 0, rng.uniform(0.25, 0.45, H), rng.uniform(0.02, 0.08, H))
    herbal = np.floor(drug_rev * herbal_share[:, col]).astype(np.int64)
    # 出院患者住院费用: this month's discharges carry some earlier months' costs (≈ ±3 %).
    discharged = cents(inpatient / 100 * np.exp(rng.normal(0, 0.015, (H, T))))
    # 医疗活动收入/费用 (医疗活动收入费用明细表, 国考 35 医疗盈余率): medical revenue plus the basic part of
    # the fiscal subsidy and the medical part of other revenue; business and admin expense less
    # research and teaching projects (操作手册: 医疗盈余 = 医疗活动收入 − 医疗活动费用).
    activity_rev = (medical + np.floor(fiscal * rng.uniform(0.65, 0.85, H)[:, col]).astype(np.int64)
                    + np.floor(other * rng.uniform(0.3, 0.6, H)[:, col]).astype(np.int64))
    activity_exp = np.floor((business + admin) * rng.uniform(0.975, 0.995, H)[:, col]).astype(np.int64)

    # Beds from throughput: bed-days / (30.4 × occupancy); ALOS ≈ 8–9 days.
    alos = np.clip(by_tier(tier, {"三级": 8.6, "二级": 8.2, "一级": 8.6}) + 1.0 * tcm - 2.5 * mch + 1.5 * spec
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
    doctors0 = np.maximum(3, beds0 * by_tier(tier, {"三级": 0.40, "二级": 0.34, "一级": 0.30})
                          * np.exp(rng.normal(0, 0.12, H)))
    nurse_ratio = np.clip(by_tier(tier, {"三级": 1.5, "二级": 1.3, "一级": 1.05}) + rng.normal(0, 0.12, H), 0.8, 2.1)
    staff_growth = np.exp(rng.normal(0.02, 0.015, H)[:, col] * np.arange(T) / 12)
    doctors = np.round(doctors0[:, col] * staff_growth).astype(np.int64)
    nurses = np.round((doctors0 * nurse_ratio)[:, col] * staff_growth).astype(np.int64)

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
        "medical_service_revenue": service, "medical_activity_revenue": activity_rev,
        "medical_activity_expense": activity_exp, "discharged_patient_revenue": discharged,
        "herbal_pieces_revenue": herbal, "insurance_receivable": insurance_receivable,
        "supplier_payable": supplier_payable, "short_term_loans": short_term_loans,
        "long_term_payables": long_term_payables, "inventory": inventory,
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
    # v1 reporters send no v2 column; a few small ones keep no cost accounting either.
    codes = h["hospital_code"].to_numpy()
    frame.loc[frame["hospital_code"].isin(codes[~h["reports_v2"].to_numpy()]), V2_COLUMNS] = np.nan
    frame.loc[frame["hospital_code"].isin(codes[~h["cost_accounting"].to_numpy()]), COST_COLUMNS] = np.nan

    lt_debt = (long_term + long_term_payables) / 100
    # The lowest 12-month surplus rate the design gives (the margin itself when the history is shorter).
    rev12, exp12 = _windows(total.astype(float)), _windows(expense.astype(float))
    worst_rate = ((rev12 - exp12) / rev12).min(axis=1) if rev12.shape[1] else margin
    truth = planted.planted_frame(
        codes, periods, ev, margin, worst_rate, debt_ratio=total_liab / total_assets, lt_debt=lt_debt,
        lt_debt_ratio=lt_debt / (total_assets / 100), cash_months=cash / np.maximum(spend3, 1),
        supplier_days=supplier_payable / np.maximum(supply12, 1e-9),
        receivable_days=insurance_receivable / np.maximum(med12, 1e-9))
    return frame, truth


def _windows(x: np.ndarray) -> np.ndarray:
    """Sums over every full 12-month window (hospitals × windows; none when fewer than 12 months)."""
    c = np.concatenate([np.zeros((x.shape[0], 1)), np.cumsum(x, axis=1)], axis=1)
    return c[:, 12:] - c[:, :-12]


def _trailing_mean(x: np.ndarray, window: int) -> np.ndarray:
    """Mean over the last *window* months (fewer at the start of the history), along axis 1."""
    c = np.concatenate([np.zeros((x.shape[0], 1)), np.cumsum(x, axis=1)], axis=1)
    t = np.arange(1, x.shape[1] + 1)
    lo = np.maximum(t - window, 0)
    return (c[:, t] - c[:, lo]) / (t - lo)
