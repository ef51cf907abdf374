"""When each monthly report arrived (or that it never did), and the rows corrected later."""

from __future__ import annotations

import numpy as np
import pandas as pd

from opsmon.demo.common import DUE_DAY, by_tier, cents

# Fixed-date public holidays on which nobody submits (元旦, 劳动节, 国庆节); the movable
# Spring Festival is left out: the due date never falls in it by more than a day or two.
_HOLIDAYS = {(1, 1), (5, 1), (5, 2), (5, 3), (5, 4), (5, 5), (10, 1), (10, 2), (10, 3), (10, 4),
             (10, 5), (10, 6), (10, 7)}


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
    base = by_tier(tier, {"三级": 0.955, "二级": 0.895, "一级": 0.82})
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
    frame["first_total_revenue"] = ((cents(rows["total_revenue"]) - cents(rows["other_revenue"])
                                     + cents(first_other)) / 100).round(2)
    return frame.drop(columns="factor")
