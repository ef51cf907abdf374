"""The fast paths of ingestion give what the full rules give, value for value, problem for problem.

parse recognises a CSV's plain cells (1234.56, 1,234.56, 2025-03, an upper-case code) over a
matrix of character codes and sends every other cell through the full rules; validate checks
ASCII codes in numpy and matches plausibility rows on integer keys; store stages a monthly
file in COPY's binary format. Each is compared here with the slow, obvious way on the inputs
that could tell them apart: thousands separators, full-width digits, 万 units, percent signs,
blanks and missing tokens, negatives in brackets, signs, currency marks, long and huge numbers.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opsmon.ingest import cells as C
from opsmon.ingest import parse as P
from opsmon.ingest import read as R
from opsmon.ingest import uscc
from opsmon.ingest import validate as V
from opsmon.ingest.api import ingest_bytes
from opsmon.ingest.fields import FIELDS, MONTHLY_V2, value_columns
from opsmon.periods import period_text, shift_series

TRICKY_NUMBERS = [
    "", " ", "  ", "0", "00", "007", "12", "12.", ".5", ".", ",", ",,", "1,234", "1,234.56", "12,345,678.90",
    "1,234,567,890,123.45", "1,2345", ",123", "123,", "1,234,", "0,123", "1234,567", "1,23", "12,345.6,7",
    "12.5", "12.50", "12.500", "12.001", "12.010", "0.001", "0.00", "00.10", "99.999", "4.35", "0.285", "1.005",
    "1.2.3", "-12", "+12", "-0", "(12)", "(1,234.00)", "(+1)", "(-1)", "()", "¥12", "¥1,234.5", "-¥5", "¥(5)",
    "１２３", "１，２３４．５", "１２.５", "１２３４５６７８９０１２３４５６", " 12 ", "12\u3000", "\u300012",
    "12%", "12 %", "1e5", "1E5", "1.2E+07", "1e20", "abc", "十二", "一千一百五十万", "12万", "1.2万元", "12元",
    "无", "-", "—", "——", "–", "/", "－", "／", "99999999999999999", "9999999999999999.99", "10000000000000000",
    "999999999999999", "999999999999999.9", "123456789012345", "1234567890123456", "12345678901234.56",
    "3000000000", "2147483647", "2147483648", "2147483647.00", "1" * 23, "1" * 24, "1" * 30, "١٢٣", "1 234",
    "nan", "NaN", "inf", "-inf", "1_000", "0x10", "٫5",
]


def numbers(values: list[str], money: bool, *, fast: bool) -> C._Column:
    raw = pd.Series(values, dtype=object)
    return C._numbers(None, raw, pd.Series(money, index=raw.index), fast=fast)


def assert_same_column(a: C._Column, b: C._Column) -> None:
    pd.testing.assert_series_equal(a.values, b.values, check_exact=True, check_dtype=False)
    assert a.values.dtype == b.values.dtype or {str(a.values.dtype), str(b.values.dtype)} <= {"float64"}
    assert set(a.failures) == set(b.failures)
    for key in a.failures:
        assert a.failures[key].tolist() == b.failures[key].tolist(), key


@pytest.mark.parametrize("money", [True, False], ids=["money", "count"])
def test_numbers_fast_path_equals_the_full_rules(money):
    assert_same_column(numbers(TRICKY_NUMBERS, money, fast=True), numbers(TRICKY_NUMBERS, money, fast=False))


@pytest.mark.parametrize("money", [True, False], ids=["money", "count"])
@pytest.mark.parametrize("text", TRICKY_NUMBERS)
def test_numbers_one_cell_at_a_time(text, money):
    # Alone, so no neighbour decides the width of the matrix or the dtype of a conversion.
    assert_same_column(numbers([text], money, fast=True), numbers([text], money, fast=False))


def test_plain_forms_take_the_fast_path():
    plain = ["0", "12", "12.", ".5", "1,234", "1,234.56", "12.500", "999999999999999"]
    not_plain = ["", " 12", "-12", "(12)", "¥12", "１２", "1,2345", "1.2.3", "1e5", "1234567890123456", "12%"]
    usable, chars, length = C.ascii_codes(np.array(plain + not_plain, dtype=object))
    found, value, _ = C._plain_numbers(chars, length)
    assert (found & usable).tolist() == [True] * len(plain) + [False] * len(not_plain)
    assert value[: len(plain)].tolist() == [0.0, 12.0, 12.0, 0.5, 1234.0, 1234.56, 12.5, 999999999999999.0]


CELL = st.text(alphabet="0123456789.,,, -+()¥１．，e%万", max_size=22)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(CELL, min_size=1, max_size=30), st.booleans())
def test_numbers_fast_path_on_arbitrary_cells(cells, money):
    assert_same_column(numbers(cells, money, fast=True), numbers(cells, money, fast=False))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.from_regex(r"[0-9]{1,16}(\.[0-9]{0,8})?", fullmatch=True), min_size=1, max_size=20), st.booleans())
def test_plain_numbers_parse_as_python_does(cells, money):
    # Exactly the float the full rules' pd.to_numeric (and float()) give, rounding included.
    assert_same_column(numbers(cells, money, fast=True), numbers(cells, money, fast=False))


TRICKY_PERIODS = [
    "2025-03", "2025-3", "2025/03", "202503", "2025年3月", "2025 年 3 月", "2025.1", "2025.10", "2025.03",
    "2025-13", "2025-00", "1899-12", "1900-01", "9999-12", "２０２５－０３", " 2025-03", "2025-03 ", "2025-03-01",
    "2025/3/1", "2025年3月1日", "", " ", "-", "无", "abcd-ef", "20a5-03", "2025_03", "2025--3", "45717", "2025",
]


def test_periods_fast_path_equals_the_full_rules():
    raw = pd.Series(TRICKY_PERIODS, dtype="string")
    assert_same_column(C._periods(None, raw), C._periods(None, raw, fast=False))


TRICKY_CODES = [
    "12220102412345670G", "12220102412345670g", " 12220102412345670G ", "1222 0102 4123 4567 0G",
    "１２２２０１０２４１２３４５６７０Ｇ", "", " ", "-", "无", "ABC", "12220102412345670G1", "é", "12-34",
]


@pytest.mark.parametrize("code", ["uscc", "adcode"])
def test_codes_fast_path_equals_the_full_rules(code):
    f = next(f for k in FIELDS for f in FIELDS[k] if f.type == code)
    raw = pd.Series(TRICKY_CODES, dtype="string")
    assert_same_column(C._convert(None, raw, f), C._convert(None, raw, f, fast=False))


@pytest.mark.parametrize("text", [
    "a,b\r\nc,d\r\n", "a,b\n\nc\n", "a\rb\r\n\r\nc", ",,\n", "x", "", "\n", "a,b\n \n", "a,b", "1,,2\r\n,\r\n",
    "机构代码,报告期\n12220102412345670G,2025-03\n",
])
def test_unquoted_csv_splits_as_csv_reader_reads_it(text):
    assert R._split_unquoted(text) == [list(r) for r in csv.reader(io.StringIO(text, newline=""))]


@pytest.mark.parametrize("text", ['a,"b,c"\n', "a\x85b\n", "a\u2028b", "a," + "x" * (csv.field_size_limit() + 1)])
def test_quotes_unusual_line_breaks_and_long_fields_go_through_csv_reader(text):
    assert R._split_unquoted(text) is None


def slow_parse(content: bytes, monkeypatch: pytest.MonkeyPatch) -> P.Parsed:
    """parse() with every fast path switched off."""
    with monkeypatch.context() as m:
        m.setattr(R, "_split_unquoted", lambda text: None)
        for name in ("_numbers", "_periods", "_convert"):
            full = getattr(C, name)
            m.setattr(C, name, lambda *a, _full=full, **k: _full(*a, **{**k, "fast": False}))
        return P.parse(content, "x.csv")


def assert_same_parse(a: P.Parsed, b: P.Parsed) -> None:
    assert (a.kind, a.header_row, a.columns, a.problems) == (b.kind, b.header_row, b.columns, b.problems)
    pd.testing.assert_frame_equal(a.frame, b.frame, check_exact=True)
    pd.testing.assert_frame_equal(a.raw, b.raw, check_exact=True)


def tricky_file(seed: int, rows: int = 40, quoted: bool = False) -> bytes:
    rng = random.Random(seed)
    header = [f.header for f in FIELDS["monthly"]]
    body = []
    for _ in range(rows):
        row = [rng.choice([uscc.make("220102", "41234567"), rng.choice(TRICKY_CODES)]),
               rng.choice(["2025-03", rng.choice(TRICKY_PERIODS)])]
        row += [rng.choice(TRICKY_NUMBERS) if rng.random() < 0.3 else f"{rng.uniform(0, 1e7):,.2f}"[:rng.randint(1, 14)]
                for _ in header[2:]]
        del row[rng.randint(len(row) - 3, len(row)):]  # ragged rows
        body.append(row)
    body.insert(rows // 2, [])
    buf = io.StringIO(newline="")
    csv.writer(buf, quoting=csv.QUOTE_ALL if quoted else csv.QUOTE_MINIMAL).writerows([header, *body])
    return buf.getvalue().encode("utf-8")


@pytest.mark.parametrize("seed", range(6))
def test_a_whole_file_parses_as_with_the_full_rules(seed, monkeypatch):
    for content in (tricky_file(seed), tricky_file(seed, quoted=True), tricky_file(seed).replace(b'"', b"")):
        assert_same_parse(P.parse(content, "x.csv"), slow_parse(content, monkeypatch))


@pytest.mark.parametrize("fixture", ["monthly_excel_gbk.csv", "monthly_utf8_bom.csv", "progress.csv"])
def test_the_stored_fixtures_parse_as_with_the_full_rules(fixture, monkeypatch):
    content = (Path(__file__).parent / "fixtures" / fixture).read_bytes()
    assert_same_parse(P.parse(content, fixture), slow_parse(content, monkeypatch))


# --- validate ------------------------------------------------------------------------------------


def assert_same_code_check(codes: list) -> None:
    """uscc.valid_mask's numpy path gives what is_valid gives code by code."""
    series = pd.Series(codes, dtype="string")
    fast = uscc.valid_mask(series)
    assert fast.dtype == bool and fast.index.equals(series.index)
    assert fast.tolist() == uscc.valid_mask(series, fast=False).tolist() == [uscc.is_valid(c) for c in codes]


def test_code_check_equals_uscc_is_valid():
    good = [uscc.make(a, f"{40000000 + i:08d}") for i, a in enumerate(["220102", "220103", "110101", "650102"])]
    codes = good + [
        good[0][:17] + ("0" if good[0][17] != "0" else "1"),  # wrong check character
        good[0].lower(), good[0][:17], good[0] + "1", "I" + good[0][1:], good[0][:5] + "O" + good[0][6:],
        good[0][:3] + "A" + good[0][4:], "é" + good[0][1:], good[0] + "\x00", "", " " * 18, "Z" * 18, "0" * 18,
        good[0][:2] + "\u0661" + good[0][3:], good[0] + "\n", "１" + good[0][1:], None,
    ]
    valid = uscc.valid_mask(pd.Series(codes, dtype="string"))
    assert [c for c, ok in zip(codes, valid, strict=True) if ok] == [*good, "0" * 18]  # its check character is 0
    assert_same_code_check(codes)
    assert_same_code_check(["12", "", None])  # a matrix narrower than any code
    assert_same_code_check([])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 3), st.integers(0, 19),
                          st.sampled_from(uscc.CHARSET + "IOSVZa -é\x00１\u0661")), min_size=1, max_size=20))
def test_code_check_on_codes_one_character_off(edits):
    # Valid codes as they are, with one character replaced, inserted or cut off from there on.
    good = [uscc.make(a, b) for a, b in [("220102", "41234567"), ("650102", "MA000001"), ("110101", "00000000")]]
    codes = []
    for which, how, at, char in edits:
        code = good[which]
        codes.append([code, code[:at] + char + code[at + 1:], code[:at] + char + code[at:], code[:at]][how])
    assert_same_code_check(codes)


def reference_plausibility(frame: pd.DataFrame, raw: pd.DataFrame, history: pd.DataFrame | None) -> list:
    """plausibility() as it was written first, merging on the string keys: the oracle."""
    if history is None or frame.empty or not {"hospital_code", "period"} <= set(frame.columns):
        return []
    fields = V.by_code("monthly")
    value_cols = [f.code for f in FIELDS["monthly"] if f.type in ("money", "count") and f.code in frame]
    cur = frame.loc[frame["hospital_code"].notna() & frame["period"].notna(), ["hospital_code", "period", *value_cols]]
    cur = cur.reset_index().drop_duplicates(["hospital_code", "period"], keep="first")
    if cur.empty:
        return []
    cur = cur.astype({"hospital_code": "string", "period": "string", **{c: "float64" for c in value_cols}})
    hist = history.loc[:, ~history.columns.duplicated(keep="last")]
    hist = hist.reindex(columns=list(dict.fromkeys(["hospital_code", "period", *hist.columns])))
    hist["period"] = V._str(hist["period"].map(period_text))
    hist["hospital_code"] = V._str(hist["hospital_code"]).str.strip()
    hist = hist.reindex(columns=["hospital_code", "period", *value_cols])
    for c in value_cols:
        hist[c] = pd.to_numeric(hist[c], errors="coerce").astype("float64")
    keys = cur[["hospital_code", "period"]].assign(_in_file=True)
    hist = hist.merge(keys, on=["hospital_code", "period"], how="left")
    hist = hist[hist["_in_file"].isna()].drop(columns="_in_file")
    series = pd.concat([hist, cur.drop(columns="row")], ignore_index=True)
    series = series.dropna(subset=["hospital_code", "period"]).drop_duplicates(["hospital_code", "period"])
    prev = series.rename(columns={"period": "prev_period", **{c: f"{c}_prev" for c in value_cols}})
    cur = cur.assign(prev_period=shift_series(cur["period"], -1)).merge(prev, on=["hospital_code", "prev_period"],
                                                                   how="left").set_index("row")
    out = []
    money = [c for c in value_cols if fields[c].type == "money"]
    now = cur[money]
    before = cur[[f"{c}_prev" for c in money]].set_axis(money, axis=1)
    ratio = now / before.where(before > 0)
    lo, hi = V.UNIT_SLIP_RATIO
    flagged: set[tuple[int, str]] = set()
    for variant, mask in {"larger": (ratio >= lo) & (ratio <= hi),
                          "smaller": (ratio >= 1 / hi) & (ratio <= 1 / lo)}.items():
        cells = V._cells(mask & (now > 0))
        flagged.update(cells)
        out += [V._warning("unit_slip", variant, cur, raw, r, fields[c]) for r, c in cells]
    if "open_beds" in cur:
        now_b, before_b = cur["open_beds"], cur["open_beds_prev"]
        jump = (before_b > 0) & ((now_b - before_b).abs() / before_b > V.BEDS_JUMP)
        out += [V._warning("beds_jump", None, cur, raw, r, fields["open_beds"]) for r in V._rows(jump)]
    metrics = [c for c in V.CHANGE_METRICS if c in cur]
    prev = series.rename(columns={"period": "prev_period", **{c: f"{c}_prev" for c in metrics}})
    changes = series.assign(prev_period=shift_series(series["period"], -1)).merge(
        prev[["hospital_code", "prev_period", *[f"{c}_prev" for c in metrics]]],
        on=["hospital_code", "prev_period"], how="inner")
    now_rows = cur.reset_index()[["row", "hospital_code", "period"]]
    for c in metrics:
        with np.errstate(divide="ignore", invalid="ignore"):
            ok = (changes[c] > 0) & (changes[f"{c}_prev"] > 0)
            log_change = np.log(changes[c].where(ok) / changes[f"{c}_prev"].where(ok))
        past = changes.assign(r=log_change)[["hospital_code", "period", "r"]].dropna()
        pairs = now_rows.merge(past.rename(columns={"period": "past_period"}), on="hospital_code")
        pairs = pairs[pairs["past_period"] < pairs["period"]]
        if pairs.empty:
            continue
        stats = pairs.groupby("row")["r"].agg(median="median", n="count")
        pairs = pairs.join(stats, on="row")
        stats["mad"] = (pairs["r"] - pairs["median"]).abs().groupby(pairs["row"]).median()
        with np.errstate(divide="ignore", invalid="ignore"):
            ok_now = (cur[c] > 0) & (cur[f"{c}_prev"] > 0)
            r_now = np.log(cur[c].where(ok_now) / cur[f"{c}_prev"].where(ok_now))
        stats = stats.join(r_now.rename("r_now"))
        z = 0.6745 * (stats["r_now"] - stats["median"]) / stats["mad"].clip(lower=V.MIN_MAD)
        unusual = (stats["n"] >= V.MIN_HISTORY_CHANGES) & (z.abs() > V.ROBUST_Z)
        out += [V._warning("unusual_change", None, cur, raw, r, fields[c]) for r in V._rows(unusual)
                if (r, c) not in flagged]
    return out


NUMBERS = [f.code for f in FIELDS["monthly"] if f.type in ("money", "count")]
HOSPITALS = [uscc.make("220102", f"{40000000 + i:08d}") for i in range(10)]


def months(end: str, n: int) -> list[str]:
    return [str(p) for p in pd.period_range(end=end, periods=n, freq="M")]


def random_case(seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """A file (one or two months, some jumps, slips and gaps) and a history of its hospitals."""
    rng, r = np.random.default_rng(seed), random.Random(seed)
    scale = {h: rng.uniform(1e5, 1e7) for h in HOSPITALS}
    keys = [(h, p) for h in r.sample(HOSPITALS, r.randint(1, 8))
            for p in r.sample(months("2025-06", 4), r.randint(1, 2))]  # one or two months a hospital
    keys += r.sample(keys, 1) if r.random() < 0.2 else []  # a repeated key: the first one counts
    keys += [(None, "2025-06")] if r.random() < 0.1 else []
    frame = pd.DataFrame(keys, columns=["hospital_code", "period"])
    factor = rng.choice([1, 1, 1, 1.02, 1.5, 3, 1000, 0.001, 0, -1], (len(frame), len(NUMBERS)))
    base = np.array([[scale.get(h, 1e6)] for h in frame["hospital_code"]])
    for j, c in enumerate(NUMBERS):
        frame[c] = np.round(base[:, 0] * factor[:, j], 2) if j < 29 else np.round(base[:, 0] * factor[:, j] / 1000)
        if r.random() < 0.1:
            frame.loc[frame.sample(frac=0.3, random_state=seed).index, c] = np.nan
    frame.index = pd.Index(range(2, 2 + len(frame)), name="row")
    frame = frame.astype({"hospital_code": "string", "period": "string",
                          **{c: "Int64" if j >= 29 else "float64" for j, c in enumerate(NUMBERS)}})
    raw = frame.astype("string").fillna("")
    hist = pd.DataFrame([(h, p) for h in HOSPITALS for p in months("2025-05", r.randint(0, 14)) if r.random() < 0.85],
                        columns=["hospital_code", "period"])
    noise = rng.normal(0, r.choice([0.001, 0.01, 0.05, 0.3]), (len(hist), len(NUMBERS)))
    for j, c in enumerate(NUMBERS):
        hist[c] = np.array([scale[h] for h in hist["hospital_code"]]).reshape(-1) * np.exp(noise[:, j])
    style = r.random()
    if style < 0.15 and len(hist):
        hist["period"] = [dt.date(int(p[:4]), int(p[5:]), 1) for p in hist["period"]]
    elif style < 0.25 and len(hist):
        hist["period"] = pd.to_datetime(hist["period"] + "-01")
    elif style < 0.35 and len(hist):
        hist["hospital_code"] = " " + hist["hospital_code"] + " "
    elif style < 0.4 and len(hist):
        hist.loc[hist.index[:3], "period"] = None
    elif style < 0.45 and len(hist):
        hist["period"] = hist["period"] + "-01"
    elif style < 0.6:
        hist = hist.astype({"hospital_code": "string", "period": "string"})
    if r.random() < 0.3:
        hist = hist.drop(columns=r.sample(NUMBERS, 5))
    return frame, raw, hist


@pytest.mark.parametrize("seed", range(60))
def test_plausibility_matches_the_string_keyed_version(seed):
    frame, raw, hist = random_case(seed)
    assert V.plausibility(frame, raw, hist) == reference_plausibility(frame, raw, hist)


def test_the_plausibility_cases_cover_every_warning():
    found = {p.code for seed in range(60) for p in reference_plausibility(*random_case(seed))}
    assert found == {"unit_slip", "beds_jump", "unusual_change"}


# --- store ---------------------------------------------------------------------------------------

REGISTRY = ("机构代码,机构名称,所在县区代码,医院等级,机构类别,隶属关系,主管部门,高质量发展试点医院,预算管理医院\n"
            + "".join(f"{h},医院{i},220102,二级甲等,综合医院,县属,卫生健康委,否,否\n" for i, h in enumerate(HOSPITALS)))


def month_file(period: str, drop: tuple[str, ...] = ()) -> bytes:
    rng = np.random.default_rng(int(period.replace("-", "")))
    fields = [f for f in FIELDS["monthly"] if f.code not in drop and f.code not in MONTHLY_V2]  # a v1 file
    rows = []
    for i, h in enumerate(HOSPITALS):
        s = rng.uniform(1e5, 1e12)
        out, inp, fiscal, other = (round(s * k, 2) for k in (0.55, 0.45, 0.1, 0.03))
        business, admin, other_e = (round(s * k, 2) for k in (0.85, 0.1, 0.02))
        assets = round(s * 20, 2)
        v: dict[str, Any] = dict(
            hospital_code=h, period=period, outpatient_revenue=out, inpatient_revenue=inp,
            medical_revenue=round(out + inp, 2), fiscal_subsidy_revenue=fiscal, other_revenue=other,
            total_revenue=round(out + inp + fiscal + other, 2), drug_revenue=0.1, consumables_revenue=0,
            exam_revenue=0.05, lab_revenue=1, business_expense=business, admin_expense=admin, other_expense=other_e,
            total_expense=round(business + admin + other_e, 2), personnel_expense=round(s * 0.3, 2),
            drug_expense="" if i % 3 == 0 else 12.3, consumables_expense="-" if i % 4 == 0 else 0.01,
            depreciation_expense=99999999.99, energy_expense=0, total_assets=assets,
            current_assets=round(assets / 2, 2),
            cash=0, total_liabilities=round(assets / 3, 2), current_liabilities=1, long_term_loans=2,
            construction_debt=3, salary_arrears=0, outpatient_visits=2147483647, discharges=0,
            inpatient_bed_days=i, open_beds=500, doctors=200, nurses=300)
        rows.append([v[f.code] for f in fields])
    buf = io.StringIO(newline="")
    csv.writer(buf).writerows([[f.header for f in fields], *rows])
    return buf.getvalue().encode("utf-8")


def test_staging_stores_every_value_exactly_as_the_file_wrote_it(engine):
    """Amounts up to 10¹³ with fen, blanks and '-' as NULL, int32's largest count, a second
    revision of some rows: what is stored is the file's own decimal text."""
    assert ingest_bytes(REGISTRY.encode(), "名录.csv", engine=engine).status == "accepted"
    first = month_file("2025-01")
    files = [first, month_file("2025-02", drop=("drug_expense", "depreciation_expense")),
             first.replace(b",12.3,", b",12.4,")]  # new revisions of some rows
    expected = {}
    for content in files:
        assert ingest_bytes(content, "快报.csv", engine=engine, today=dt.date(2025, 4, 15)).status == "accepted"
        header, *rows = csv.reader(io.StringIO(content.decode("utf-8")))
        code_of = {f.header: f.code for f in FIELDS["monthly"]}
        for row in rows:
            cells = dict(zip((code_of[h] for h in header), row, strict=True))
            key = (cells.pop("hospital_code"), cells.pop("period"))
            expected[key] = {c: (None if v in ("", "-") else Decimal(v)) for c, v in cells.items()}
    with engine.connect() as conn:
        got = conn.execute(sa.text("SELECT * FROM monthly_values WHERE is_current")).mappings().all()
    assert len(got) == len(expected)
    for r in got:
        want = expected[(r["hospital_code"], r["period"].strftime("%Y-%m"))]
        assert {c: r[c] for c in want} == want
    assert any(v is None for w in expected.values() for v in w.values())  # NULLs went through
    assert any(w["outpatient_visits"] == 2147483647 for w in expected.values())
