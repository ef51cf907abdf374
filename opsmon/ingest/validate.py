"""The rules of ``spec/submission-format.md`` over a parsed file, vectorised with pandas.

``validate`` returns the rule problems (parse problems stay in ``Parsed.problems``):
errors — missing values, codes, scope, periods, duplicates, signs, the accounting
identities (v1 and v2, monthly and progress), registry references and the registry's
budget_authority against its 预算管理医院 flag — and, for monthly reports, warnings: the
bound on 出院患者住院费用 and plausibility against the hospital's own previous months.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from opsmon.ingest import uscc
from opsmon.ingest.cells import missing_mask
from opsmon.ingest.fields import FIELDS, KEYS, Field, by_code
from opsmon.ingest.parse import Parsed
from opsmon.ingest.problems import MAX_ERRORS, Problem, in_sheet_order, make_problem, more_problems
from opsmon.periods import period_text, shift_series, to_period
from opsmon.robust import robust_scale


@dataclass
class Context:
    """What the rules need to know beyond the file."""

    today: datetime.date
    hospitals: pd.DataFrame  # hospital_code, name, adcode, closed_period ('YYYY-MM' or None)
    adcodes: set[str]  # county-level adcodes of the region table
    history: pd.DataFrame | None = None  # monthly: hospital_code, period ('YYYY-MM'), value columns
    allowed_hospitals: set[str] | None = None  # a hospital user's own hospital(s)


# Plausibility thresholds.
UNIT_SLIP_RATIO = (500.0, 2000.0)  # ~1000× (元 vs 千元 / 万元 slips)
ROBUST_Z = 5.0
MIN_HISTORY_CHANGES = 6
# A floor on the MAD of log month-over-month changes, so a hospital whose history is flat
# (MAD 0) is not warned about every small change: with 0.05, changes under ~±37 % never warn.
MIN_MAD = 0.05
CHANGE_METRICS = ("total_revenue", "total_expense", "outpatient_visits", "discharges")
BEDS_JUMP = 0.20

# Accounting identities: (column pointed at, relation, terms). "=" means column = sum(terms);
# "<=" column <= sum(terms); ">=" column >= sum(terms). Tolerance 1 元.
IDENTITIES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("medical_revenue", "=", ("outpatient_revenue", "inpatient_revenue")),
    ("total_revenue", "=", ("medical_revenue", "fiscal_subsidy_revenue", "other_revenue")),
    ("medical_revenue", ">=", ("drug_revenue", "consumables_revenue", "exam_revenue", "lab_revenue")),
    ("total_expense", "=", ("business_expense", "admin_expense", "other_expense")),
    ("personnel_expense", "<=", ("business_expense", "admin_expense")),
    ("cash", "<=", ("current_assets",)),
    ("current_assets", "<=", ("total_assets",)),
    ("current_liabilities", "<=", ("total_liabilities",)),
    ("long_term_loans", "<=", ("total_liabilities",)),
    # v2 (spec "v2 additions"): the optional columns, and two bounds on v1 stocks. Like every
    # identity, checked only where the file has the columns and the cells are not empty.
    ("medical_service_revenue", "<=", ("medical_revenue",)),
    ("herbal_pieces_revenue", "<=", ("drug_revenue",)),
    ("inventory", "<=", ("current_assets",)),
    ("short_term_loans", "<=", ("current_liabilities",)),
    ("salary_arrears", "<=", ("total_liabilities",)),
    ("construction_debt", "<=", ("total_liabilities",)),
)
# The progress report's identities: processes optimised in the 2024–2025 campaign are among
# all processes optimised (counts: no tolerance).
PROGRESS_IDENTITIES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("campaign_optimized_processes", "<=", ("optimized_processes",)),
)
TOLERANCE = 1.0

# Bounds that only warn: (column, bound column, factor) — column ≤ factor × bound (+ 1 元).
# 出院患者住院费用 may carry costs of earlier months (a patient discharged this month was
# billed over their whole stay), so it can exceed the month's 住院收入: only far beyond is odd.
SOFT_BOUNDS: tuple[tuple[str, str, float], ...] = (
    ("discharged_patient_revenue", "inpatient_revenue", 1.5),
)

# The registry's budget_authority and its 预算管理医院 flag must agree: 国家/省 ⇔ 是, 无 ⇔ 否.
BUDGET_MANAGED: dict[str, bool] = {"国家": True, "省": True, "无": False}


def _money(x: float) -> str:
    return f"{x:,.2f}"


def _amount(x: float, f: Field) -> str:
    return _money(x) if f.type == "money" else f"{x:,.0f}"


def _rows(mask: pd.Series) -> Iterable[int]:
    return mask.index[mask.fillna(False).to_numpy(dtype=bool)]


def _str(s: pd.Series) -> pd.Series:
    return s.astype("string")


def _codes(frame: pd.DataFrame | None, column: str = "hospital_code") -> set[str]:
    if frame is None or column not in frame:
        return set()
    return set(frame[column].dropna().astype(str))


# ---------------------------------------------------------------------------------------------
def validate(parsed: Parsed, context: Context) -> list[Problem]:
    """The rule problems of *parsed* (errors and warnings), sorted by row and column."""
    kind = parsed.kind
    frame, raw = parsed.frame.rename_axis("row"), parsed.raw.rename_axis("row")
    if kind is None or frame.empty:
        return []
    fields = by_code(kind)
    problems: list[Problem] = []
    problems += _missing_values(frame, raw, fields)
    problems += _codes_and_scope(frame, raw, kind, context, fields)
    if "period" in frame:
        problems += _future_periods(frame, raw, fields, context.today)
    problems += _duplicates(frame, kind)
    problems += _negatives(frame, raw, fields)
    if kind == "monthly":
        problems += _identities(frame, raw, fields, IDENTITIES)
        problems += _soft_bounds(frame, raw, fields)
        problems += plausibility(_in_scope(frame, context), raw, context.history)
    if kind == "progress":
        problems += _identities(frame, raw, fields, PROGRESS_IDENTITIES)
    if kind == "registry":
        problems += _registry(frame, raw, fields, context)
    # The problems of one cell by code (in_sheet_order keeps that order: it is stable).
    return in_sheet_order(sorted(problems, key=lambda p: p.code), kind)


def _allowed(frame: pd.DataFrame, context: Context) -> pd.Series:
    """True for the rows whose hospital the submitter may send (every row without a limit)."""
    if context.allowed_hospitals is None or "hospital_code" not in frame:
        return pd.Series(True, index=frame.index)
    return _str(frame["hospital_code"]).isin(list(context.allowed_hospitals)).fillna(False).astype(bool)


def _in_scope(frame: pd.DataFrame, context: Context) -> pd.DataFrame:
    """The rows the submitter may send: the only ones compared with stored history."""
    return frame[_allowed(frame, context)]


def _cells(mask: pd.DataFrame) -> Iterable[tuple[int, str]]:
    """(row, column) of the True cells of a boolean frame, row by row."""
    # np.nonzero walks the array in C order: row by row, columns in the frame's order.
    rows, cols = np.nonzero(mask.fillna(False).astype(bool).to_numpy())
    return [(int(mask.index[r]), str(mask.columns[c])) for r, c in zip(rows, cols, strict=True)]


def _cell_problems(mask: pd.DataFrame, make: Any) -> list[Problem]:
    """``make(row, column)`` for each True cell of *mask* in sheet order — at most MAX_ERRORS of them.

    The rest are counted in one ``more_problems`` error (:func:`opsmon.ingest.problems.capped`
    adds it to the file's count): a file of 750,000 empty cells must not become 750,000 objects.
    """
    rows, cols = np.nonzero(mask.fillna(False).astype(bool).to_numpy())
    out = [make(int(mask.index[r]), str(mask.columns[c]))
           for r, c in zip(rows[:MAX_ERRORS], cols[:MAX_ERRORS], strict=True)]
    if len(rows) > MAX_ERRORS:
        out.append(more_problems("error", len(rows) - MAX_ERRORS, MAX_ERRORS))
    return out


def _missing_values(frame: pd.DataFrame, raw: pd.DataFrame, fields: dict[str, Field]) -> list[Problem]:
    cols = [c for c, f in fields.items() if f.required and c in frame]
    if not cols:
        return []
    # Cells that failed to parse are parse problems already: only truly empty cells here.
    absent = frame[cols].isna()
    if not absent.to_numpy().any():
        return []
    empty = absent & raw[cols].apply(missing_mask)
    return _cell_problems(empty, lambda r, c: make_problem("missing_value", row=r, field=fields[c],
                                                           value=raw.at[r, c]))


def _bad_codes(frame: pd.DataFrame, raw: pd.DataFrame, f: Field) -> tuple[pd.Series, list[Problem]]:
    """Invalid USCCs in column *f*; returns the valid mask and the problems."""
    codes = _str(frame[f.code])
    valid = uscc.valid_mask(codes).to_numpy(dtype=bool)
    present = codes.notna().to_numpy(dtype=bool)
    bad = present & ~valid
    out: list[Problem] = []
    if bad.any():  # why each is wrong, for the message: only for the bad codes
        wrong = codes[bad]
        length = wrong.str.len()
        variants = uscc.why_invalid(wrong)
        out = [
            make_problem("bad_hospital_code", variant=variants[r], row=r, field=f, value=raw.at[r, f.code],
                         length=int(length[r]))
            for r in wrong.index
        ]
    return pd.Series(valid & present, index=frame.index), out


def _codes_and_scope(frame: pd.DataFrame, raw: pd.DataFrame, kind: str, context: Context,
                     fields: dict[str, Field]) -> list[Problem]:
    if "hospital_code" not in frame:
        return []
    f = fields["hospital_code"]
    valid, out = _bad_codes(frame, raw, f)
    codes = _str(frame["hospital_code"])
    in_scope = valid.copy()
    if context.allowed_hospitals is not None:
        outside = valid & ~_allowed(frame, context)
        out += [make_problem("out_of_scope", row=r, field=f, value=raw.at[r, "hospital_code"])
                for r in _rows(outside)]
        in_scope &= ~outside
    if kind in ("monthly", "progress"):
        hospitals = context.hospitals if context.hospitals is not None else pd.DataFrame()
        unknown = in_scope & ~codes.isin(list(_codes(hospitals))).fillna(False).astype(bool)
        out += [make_problem("unknown_hospital", row=r, field=f, value=raw.at[r, "hospital_code"])
                for r in _rows(unknown)]
        if "period" in frame and {"hospital_code", "closed_period"} <= set(hospitals.columns):
            closed = hospitals.loc[hospitals["closed_period"].notna(), ["hospital_code", "name", "closed_period"]]
            closed = closed.astype({"hospital_code": str, "closed_period": str}).drop_duplicates("hospital_code")
            rows = frame.loc[in_scope.to_numpy(dtype=bool)].reset_index()[["row", "hospital_code", "period"]]
            rows = rows.astype({"hospital_code": "string"})
            m = rows.merge(closed.astype({"hospital_code": "string"}), on="hospital_code", how="inner")
            m = m[m["period"].notna() & (m["period"].astype(str) > m["closed_period"].str.slice(0, 7))]
            out += [make_problem("hospital_closed", row=r.row, field=fields["period"],
                                 value=raw.at[r.row, "period"], name=r.name, closed=r.closed_period[:7],
                                 period=r.period)
                    for r in m.itertuples(index=False)]
    return out


def _future_periods(frame: pd.DataFrame, raw: pd.DataFrame, fields: dict[str, Field],
                    today: datetime.date) -> list[Problem]:
    current = to_period(today)
    mask = _str(frame["period"]) > current
    return [make_problem("future_period", row=r, field=fields["period"], value=raw.at[r, "period"],
                         period=frame.at[r, "period"], current=current) for r in _rows(mask)]


def _duplicates(frame: pd.DataFrame, kind: str) -> list[Problem]:
    keys = list(KEYS[kind])  # type: ignore[index]
    if not set(keys) <= set(frame.columns):
        return []
    k = frame[keys].dropna()
    if k.empty:
        return []
    k = k.assign(_row=k.index.to_numpy())
    first = k.groupby(keys, sort=False)["_row"].transform("min")
    later = k["_row"] != first
    variant = "registry" if kind == "registry" else None
    return [
        make_problem("duplicate_row", variant=variant, row=r, column=keys[0], value=str(k.at[r, keys[0]]),
                     first=int(first[r]), key=" / ".join(str(k.at[r, c]) for c in keys))
        for r in _rows(later)
    ]


def _negatives(frame: pd.DataFrame, raw: pd.DataFrame, fields: dict[str, Field]) -> list[Problem]:
    cols = [c for c, f in fields.items() if f.type in ("money", "count") and c in frame]
    if not cols:
        return []
    mask = frame[cols].astype("float64") < 0
    return _cell_problems(mask, lambda r, c: make_problem("negative_value", row=r, field=fields[c],
                                                          value=raw.at[r, c]))


def _identities(frame: pd.DataFrame, raw: pd.DataFrame, fields: dict[str, Field],
                identities: tuple[tuple[str, str, tuple[str, ...]], ...]) -> list[Problem]:
    out = []
    for column, relation, terms in identities:
        if not all(c in frame for c in (column, *terms)):
            continue
        lhs = frame[column].astype("float64")
        rhs = frame[list(terms)].astype("float64").sum(axis=1, min_count=len(terms))
        diff = (lhs - rhs).round(2)
        # 1 元 for amounts; counts are whole numbers and must hold exactly.
        tolerance = TOLERANCE if fields[column].type == "money" else 0.0
        if relation == "=":
            bad = diff.abs() > tolerance
        elif relation == "<=":
            bad = diff > tolerance
        else:
            bad = -diff > tolerance
        for r in _rows(bad & lhs.notna() & rhs.notna()):
            zh, en = _arithmetic(frame.loc[r], column, relation, terms, fields, float(diff[r]))
            out.append(make_problem("identity_violation", row=r, field=fields[column], value=raw.at[r, column],
                                    arith_zh=zh, arith_en=en))
    return out


def _arithmetic(row: pd.Series, column: str, relation: str, terms: tuple[str, ...],
                fields: dict[str, Field], diff: float) -> tuple[str, str]:
    """'医疗收入 1,000.00 ≠ 门急诊收入 600.00 + 住院收入 300.00（差 100.00 元）' and its English."""
    f = fields[column]
    unit_zh, unit_en = (" 元", " yuan") if f.type == "money" else (f" {f.unit}" if f.unit else "", "")

    def show(x: Any) -> str:
        return _amount(float(x), f)

    def side(lang: str) -> str:
        name = (lambda c: fields[c].label) if lang == "zh" else (lambda c: fields[c].en or c)
        return " + ".join(f"{name(c)} {show(row[c])}" for c in terms)

    symbol = {"=": "≠", "<=": ">", ">=": "<"}[relation]
    lhs_zh = f"{f.label} {show(row[column])}"
    lhs_en = f"{f.en or column} {show(row[column])}"
    total = sum(float(row[c]) for c in terms)
    sum_zh = f"，合计 {show(total)}{unit_zh}" if len(terms) > 1 and relation != "=" else ""
    sum_en = f", total {show(total)}" if len(terms) > 1 and relation != "=" else ""
    if relation == "=":
        tail_zh, tail_en = f"（差 {show(abs(diff))}{unit_zh}）", f" (off by {show(abs(diff))}{unit_en})"
    else:
        tail_zh, tail_en = f"（超出 {show(abs(diff))}{unit_zh}{sum_zh}）", f" (by {show(abs(diff))}{unit_en}{sum_en})"
    if relation == "<=" and len(terms) == 1:
        rule_zh = f"，{fields[column].label}不应大于{fields[terms[0]].label}"
    elif relation == "<=":
        rule_zh = f"，{fields[column].label}不应大于{'与'.join(fields[c].label for c in terms)}之和"
    elif relation == ">=":
        rule_zh = f"，{'、'.join(fields[c].label for c in terms)}之和不应大于{fields[column].label}"
    else:
        rule_zh = ""
    return (f"{lhs_zh} {symbol} {side('zh')}{tail_zh}{rule_zh}",
            f"{lhs_en} {symbol} {side('en')}{tail_en}")


def _soft_bounds(frame: pd.DataFrame, raw: pd.DataFrame, fields: dict[str, Field]) -> list[Problem]:
    """Warnings: a column far above what its bound makes plausible (:data:`SOFT_BOUNDS`)."""
    out = []
    for column, bound, factor in SOFT_BOUNDS:
        if column not in frame or bound not in frame:
            continue
        value, limit = frame[column].astype("float64"), frame[bound].astype("float64") * factor
        over = (value - limit).round(2) > TOLERANCE
        for r in _rows(over & value.notna() & limit.notna()):
            out.append(make_problem("bound_exceeded", severity="warning", row=r, field=fields[column],
                                    value=raw.at[r, column], now=_money(float(value[r])),
                                    bound_label=fields[bound].label, bound_en=fields[bound].en or bound,
                                    bound=_money(float(frame.at[r, bound])), factor=f"{factor:g}",
                                    limit=_money(float(limit[r]))))
    return out


def _registry(frame: pd.DataFrame, raw: pd.DataFrame, fields: dict[str, Field], context: Context) -> list[Problem]:
    out: list[Problem] = []
    if {"budget_authority", "is_budget_managed"} <= set(frame.columns):
        level = _str(frame["budget_authority"])
        managed = frame["is_budget_managed"].astype("boolean")
        expected = level.map(BUDGET_MANAGED).astype("boolean")
        conflict = (expected != managed).fillna(False).astype(bool)  # both cells filled in, and they disagree
        out += [make_problem("budget_authority_conflict", row=r, field=fields["budget_authority"],
                             value=raw.at[r, "budget_authority"], flag=raw.at[r, "is_budget_managed"],
                             should="是" if expected[r] else "否", should_en="yes" if expected[r] else "no")
                for r in _rows(conflict)]
    if "adcode" in frame:
        codes = _str(frame["adcode"])
        unknown = codes.notna() & ~codes.isin(list(context.adcodes or ())).fillna(False).astype(bool)
        out += [make_problem("unknown_adcode", row=r, field=fields["adcode"], value=raw.at[r, "adcode"])
                for r in _rows(unknown)]
    if "alliance_lead_code" in frame:
        f = fields["alliance_lead_code"]
        valid, bad = _bad_codes(frame, raw, f)
        out += bad
        lead = _str(frame["alliance_lead_code"])
        own = _str(frame["hospital_code"]) if "hospital_code" in frame else pd.Series(pd.NA, index=frame.index)
        itself = valid & (lead == own).fillna(False).astype(bool)
        out += [make_problem("alliance_lead_self", row=r, field=f, value=raw.at[r, f.code])
                for r in _rows(itself)]
        known = _codes(context.hospitals) | _codes(frame)
        unknown = valid & ~itself & ~lead.isin(list(known)).fillna(False).astype(bool)
        out += [make_problem("unknown_hospital", variant="lead", row=r, field=f, value=raw.at[r, f.code])
                for r in _rows(unknown)]
    return out


# ---------------------------------------------------------------------------------------------
# Plausibility (monthly): the file's rows against the hospital's own previous months.
#
# The rows are matched on integer keys — a hospital number and a period number — instead of
# merging on strings: a 12,000-hospital file against 24 months of history joins ~300,000
# rows several times. Period numbers are ranks in string order, so they compare as the
# 'YYYY-MM' texts do; per-value string work (the period of each history row, the month
# before) runs once per distinct value. Same rows matched, same floats, same warnings.
def plausibility(frame: pd.DataFrame, raw: pd.DataFrame, history: pd.DataFrame | None) -> list[Problem]:
    """Warnings: unit slips (~1000×), unusual month-over-month changes, open-bed jumps."""
    if history is None or frame.empty or not {"hospital_code", "period"} <= set(frame.columns):
        return []
    fields = by_code("monthly")
    value_cols = [f.code for f in FIELDS["monthly"] if f.type in ("money", "count") and f.code in frame]
    cur = frame.loc[frame["hospital_code"].notna() & frame["period"].notna(), ["hospital_code", "period", *value_cols]]
    cur = cur.reset_index().drop_duplicates(["hospital_code", "period"], keep="first")
    if cur.empty:
        return []
    cur = cur.astype({"hospital_code": "string", "period": "string", **{c: "float64" for c in value_cols}})

    hist = history.loc[:, ~history.columns.duplicated(keep="last")]
    hist = hist.reindex(columns=list(dict.fromkeys(["hospital_code", "period", *hist.columns])))
    # The history's codes and periods as the string rules read them (codes stripped, periods
    # 'YYYY-MM'), worked out once per distinct value.
    hist_codes, code_texts = _distinct(hist["hospital_code"], lambda s: _str(s).str.strip())
    hist_periods, period_texts = _distinct(hist["period"], lambda s: _str(s.map(period_text)))
    hist = hist.reindex(columns=value_cols)

    cur["prev_period"] = _each_distinct(cur["period"], lambda s: shift_series(s, -1))
    keys = _Keys([cur["hospital_code"], code_texts], [cur["period"], period_texts])
    cur_key = keys.of(keys.hospital(cur["hospital_code"]), keys.period(cur["period"]))
    hist_key = keys.of(keys.hospital(code_texts)[hist_codes], keys.period(period_texts)[hist_periods])
    hist_key[(hist_codes < 0) | (hist_periods < 0)] = -1
    # The file's own rows replace history for the same (hospital, period); then one row a key,
    # the first (history first), as drop_duplicates on the string keys kept it.
    older = ~np.isin(hist_key, cur_key)
    series_key = np.concatenate([hist_key[older], cur_key])
    keep = (series_key >= 0) & ~pd.Series(series_key).duplicated().to_numpy()
    series_key = series_key[keep]

    def series(c: str) -> np.ndarray:
        """Column *c* of the series (history, then file), a float per key."""
        h = hist[c]
        h = h.to_numpy() if h.dtype == "float64" else pd.to_numeric(h, errors="coerce").astype("float64").to_numpy()
        return np.concatenate([h[older], cur[c].to_numpy(dtype="float64")])[keep]

    # Each row of the file with its hospital's month before (NaN: none stored or in the file).
    at = pd.Index(series_key).get_indexer(keys.of(keys.hospital(cur["hospital_code"]), keys.period(cur["prev_period"])))
    if (at < 0).all():
        # No row has a month before: every check below compares with it (an unusual change
        # too: this month's own change is NaN), so none can warn — a hospital's first upload.
        return []
    before = {f"{c}_prev": np.append(series(c), np.nan)[at] for c in value_cols}  # -1 picks the NaN
    cur = pd.concat([cur, pd.DataFrame(before, index=cur.index)], axis=1).set_index("row")

    out: list[Problem] = []
    money = [c for c in value_cols if fields[c].type == "money"]
    now = cur[money]
    before = cur[[f"{c}_prev" for c in money]].set_axis(money, axis=1)
    ratio = now / before.where(before > 0)
    lo, hi = UNIT_SLIP_RATIO
    slips = {"larger": (ratio >= lo) & (ratio <= hi), "smaller": (ratio >= 1 / hi) & (ratio <= 1 / lo)}
    flagged: set[tuple[int, str]] = set()
    for variant, mask in slips.items():
        cells = _cells(mask & (now > 0))
        flagged.update(cells)
        out += [_warning("unit_slip", variant, cur, raw, r, fields[c]) for r, c in cells]

    if "open_beds" in cur:
        now, before = cur["open_beds"], cur["open_beds_prev"]
        jump = (before > 0) & ((now - before).abs() / before > BEDS_JUMP)
        out += [_warning("beds_jump", None, cur, raw, r, fields["open_beds"]) for r in _rows(jump)]

    changes = {c: series(c) for c in CHANGE_METRICS if c in cur}
    out += _unusual_changes(cur, changes, series_key, keys, raw, fields, flagged)
    return out


class _Keys:
    """(hospital, period) pairs as single int64 keys (-1: a part is missing).

    Hospitals are numbered in any order; periods by rank in string order over every period
    seen and the month before each, so ranks compare as the 'YYYY-MM' texts do.
    """

    def __init__(self, codes: list[pd.Series], periods: list[pd.Series]):
        self.hospitals = pd.Index(pd.unique(pd.concat([_str(c) for c in codes]).dropna()), dtype="string")
        seen = pd.Series(pd.unique(pd.concat([_str(p) for p in periods]).dropna()), dtype="string")
        texts = sorted({*seen, *shift_series(seen, -1).dropna()})
        self.periods = pd.Index(texts, dtype="string")
        # The rank of the month before each period (-1: none).
        self.before = self.period(shift_series(pd.Series(texts, dtype="string"), -1))

    def hospital(self, codes: pd.Series) -> np.ndarray:
        return self.hospitals.get_indexer(_str(codes))

    def period(self, periods: pd.Series) -> np.ndarray:
        return self.periods.get_indexer(_str(periods))

    def of(self, hospital: np.ndarray, period: np.ndarray) -> np.ndarray:
        return np.where((hospital >= 0) & (period >= 0), hospital.astype(np.int64) * len(self.periods) + period, -1)

    def split(self, key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return key // len(self.periods), key % len(self.periods)


def _each_distinct(values: pd.Series, fn: Any) -> pd.Series:
    """``fn(values)`` worked out once per distinct value (see :func:`_distinct`); NA stays NA."""
    which, done = _distinct(values, fn)
    # Position -1 (NA) picks the NA appended at the end.
    return pd.Series(np.append(done.to_numpy(dtype=object), pd.NA)[which], index=values.index, dtype=done.dtype)


def _distinct(values: pd.Series, fn: Any) -> tuple[np.ndarray, pd.Series]:
    """*values* as positions into ``fn(distinct values)`` (-1: NA), *fn* run once per distinct value.

    *fn* must work value by value and be idempotent. Only strings are grouped by equality
    (1 == 1.0 == True would merge values that read differently): other values go through
    *fn* one by one first.
    """
    if pd.api.types.infer_dtype(values, skipna=True) not in ("string", "empty"):
        values = fn(values)
    which, uniques = pd.factorize(values)
    return which, fn(pd.Series(uniques, dtype=object)).reset_index(drop=True)


def _unusual_changes(cur: pd.DataFrame, changes: dict[str, np.ndarray], series_key: np.ndarray, keys: _Keys,
                     raw: pd.DataFrame, fields: dict[str, Field], flagged: set[tuple[int, str]]) -> list[Problem]:
    """Robust z-score of this month's log change against the hospital's earlier log changes.

    *changes* holds the change metrics of every known (hospital, month) — history and file —
    keyed by *series_key*; a hospital's past changes are those between two consecutive months.
    """
    out: list[Problem] = []
    metrics = [c for c in CHANGE_METRICS if c in cur]
    if not metrics:
        return out
    hospital, period = keys.split(series_key)
    at = pd.Index(series_key).get_indexer(keys.of(hospital, keys.before[period]))
    pair = at >= 0  # a month whose month before is known too
    hospital, period = hospital[pair], period[pair]
    now = pd.DataFrame({"row": cur.index.to_numpy(), "hospital": keys.hospital(cur["hospital_code"]),
                        "period": keys.period(cur["period"])})
    for c in metrics:
        this, last = changes[c][pair], changes[c][at[pair]]
        with np.errstate(divide="ignore", invalid="ignore"):
            ok = (this > 0) & (last > 0)
            log_change = np.log(np.where(ok, this, np.nan) / np.where(ok, last, np.nan))
        known = ~np.isnan(log_change)
        past = pd.DataFrame({"hospital": hospital[known], "past_period": period[known], "r": log_change[known]})
        pairs = now.merge(past, on="hospital")
        pairs = pairs[pairs["past_period"] < pairs["period"]]
        if pairs.empty:
            continue
        stats = pairs.groupby("row")["r"].agg(median="median", n="count")
        pairs = pairs.join(stats, on="row")
        # One MAD a row over groups of different sizes, in one groupby (statsmodels' mad, which
        # trends uses on one series, takes arrays along an axis: it would run once a row).
        stats["mad"] = (pairs["r"] - pairs["median"]).abs().groupby(pairs["row"]).median()
        with np.errstate(divide="ignore", invalid="ignore"):
            ok_now = (cur[c] > 0) & (cur[f"{c}_prev"] > 0)
            r_now = np.log(cur[c].where(ok_now) / cur[f"{c}_prev"].where(ok_now))
        stats = stats.join(r_now.rename("r_now"))
        z = (stats["r_now"] - stats["median"]) / robust_scale(stats["mad"], min_mad=MIN_MAD)
        unusual = (stats["n"] >= MIN_HISTORY_CHANGES) & (z.abs() > ROBUST_Z)
        out += [_warning("unusual_change", None, cur, raw, r, fields[c]) for r in _rows(unusual)
                if (r, c) not in flagged]
    return out


def _warning(code: str, variant: str | None, cur: pd.DataFrame, raw: pd.DataFrame, r: int, f: Field) -> Problem:
    now, before = float(cur.at[r, f.code]), float(cur.at[r, f"{f.code}_prev"])
    up = now >= before
    pct = f"{abs(now - before) / before * 100:.0f}%" if before else ""
    return make_problem(
        code, variant=variant, severity="warning", row=r, field=f, value=raw.at[r, f.code],
        now=_amount(now, f), prev=_amount(before, f), prev_period=cur.at[r, "prev_period"], pct=pct,
        direction_zh="增加了" if up else "减少了", direction_en="higher" if up else "lower",
    )
