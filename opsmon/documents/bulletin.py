"""The monthly 经济运行分析通报: a region's closed month, as a :class:`~opsmon.documents.model.Document`.

Sections: 一、填报情况 (who reported, by region, and who did not or late); 二、主要指标
(:data:`HEADLINES`: this month, the year to date, a year earlier, the change; the
targets; a monthly chart against last year); 三、地区比较 (the units directly below:
a ranking table, a bar chart and a map); 四、风险监测 (new, persisting and resolved risks,
the new orange and red ones, the persisting red ones, overdue disposals); 五、下一步工作.

**Every number comes from a library read with the caller's scope**: the indicators
from :func:`opsmon.indicators.query.query` (one call per level, span and month — the
very call ``opsmon export --indicator … --level … --period … --span … --region …``
makes, so a figure in the 通报 equals the export's value formatted by
:mod:`opsmon.documents.prose`), the targets from :func:`opsmon.indicators.targets.evaluate`,
the risks from :func:`opsmon.indicators.risk.changes`, the overdue disposals from
:func:`opsmon.disposal.records.list_disposals`. Derived figures are arithmetic on those
values only (a change = this value − the value a year earlier; 未报 = 应报 − 已报).

A 通报 is for a region and a *closed* month (its due date has passed:
:func:`opsmon.indicators.risk.latest_closed_period`); anything else is a ``ValueError``
with a message in Chinese and English. A region outside the caller's scope gets the
same message as a region that does not exist: the message must not disclose which
regions exist beyond the scope.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from opsmon import geo, periods
from opsmon.disposal.records import list_disposals
from opsmon.documents import charts, prose
from opsmon.documents.model import Block, Document, Figure, Heading, Paragraph, Table
from opsmon.indicators import catalogue, reporting, restrict, risk, targets
from opsmon.indicators.query import LEVELS, level_of, query, series
from opsmon.indicators.risk_rules import LEVEL_LABELS, explain
from opsmon.indicators.risk_rules import get as rule

Format = Literal["docx", "pdf"]


@dataclass(frozen=True)
class Headline:
    """A headline indicator of 二、主要指标; *short* is its name in prose (default: the catalogue's)."""

    id: str
    short: str | None = None

    @property
    def ind(self) -> catalogue.Indicator:
        """The catalogue entry."""
        return catalogue.get(self.id)

    @property
    def cumulative(self) -> bool:
        """Whether a year-to-date value means something (flows; stocks and status are as of the month)."""
        return self.ind.basis == "flow"

    @property
    def name(self) -> str:
        """The name used in prose."""
        return self.short or self.ind.zh


# 二、主要指标: growth, the surplus and the cost structure over the year to date; the balance
# sheet at the month's end; the programme; salary arrears. All are catalogue entries.
HEADLINES: tuple[Headline, ...] = (
    Headline("medical_revenue_growth", "医疗收入"),
    Headline("surplus_rate"),
    Headline("personnel_expense_share"),
    Headline("medical_service_revenue_share", "医疗服务收入占医疗收入比例"),
    Headline("debt_ratio"),
    Headline("cash_months"),
    Headline("ops_platform_coverage_tertiary"),
    Headline("salary_arrears_total", "拖欠职工薪酬"),
)
# 三、地区比较: the units below ranked by the first, year to date; the second beside it.
COMPARE: tuple[str, str] = ("medical_revenue_growth", "surplus_rate")
TREND = "surplus_rate"  # the monthly chart: this year against last year
RATE_IDS = ["hospitals_expected", "hospitals_reporting", "reporting_rate", "timely_rate"]
RISK_IDS = ["deficit_hospitals", "deficit_hospital_share"]
TOP = 5  # top and bottom five when there are more than 2 × TOP units
STATUS_ZH = {"met": "已达标", "missed": "逾期未达标", "on_track": "按趋势可如期达标",
             "off_track": "按趋势难以如期达标", "insufficient_data": "数据不足"}
LEVEL_WORD = {"nation": "省份", "province": "市（州）", "prefecture": "县（市、区）", "county": "医院"}
NEXT_STEPS = (
    "各地区卫生健康行政部门要督促未按期报送的医院尽快补报，并核实数据质量；对新发橙色、红色风险医院逐一研判原因，"
    "按风险处置流程限期整改；对逾期未办结的处置事项加强督办。",
    "各医院要加强运营管理，严控不合理支出，优化收支结构，推进运营管理信息集成平台建设和业财融合，"
    "持续提升精细化管理水平。",
)


# ── inputs ───────────────────────────────────────────────────────────────────────────────────────────

def _regions(engine: Engine) -> pd.DataFrame:
    """Every region: code, name, level, parent (reporting hierarchy)."""
    with engine.connect() as conn:
        return pd.read_sql_query(sa.text(
            "SELECT CAST(adcode AS text) AS code, name, level, CAST(parent_adcode AS text) AS parent FROM regions"),
            conn).set_index("code")


def _unknown_region(region: object) -> ValueError:
    # One message for "does not exist" and "not yours": it must not tell which regions exist.
    return ValueError(f"未知地区或不在权限范围内：{region}（unknown region {region!r}, or outside your scope）")


def _check(engine: Engine, period: str, region: str | None, scope: str | None) -> tuple[str, str]:
    """(period 'YYYY-MM', region adcode) after the checks of :func:`build`; ``ValueError`` otherwise."""
    sc = restrict.parse_scope(scope)
    if sc.hospital:
        raise ValueError("通报按地区编制，医院账号不能生成通报（a bulletin is for a region: a hospital scope "
                         "cannot build one）")
    try:
        month = periods.to_period(periods.to_date(period))
    except (ValueError, TypeError):
        raise ValueError(f"报告期格式应为 YYYY-MM：{period!r}（a period is 'YYYY-MM', got {period!r}）") from None
    closed = risk.latest_closed_period(engine)
    if month > closed:
        raise ValueError(f"{month} 尚未截止报送，不能生成通报；最近已截止的月份为 {closed}"
                         f"（{month} is not closed yet: the latest closed month is {closed}）")
    code = region if region is not None else (sc.region or reporting.root_code(engine))
    if not isinstance(code, str) or len(code) != 6 or not code.isdigit():
        raise _unknown_region(region)
    with engine.connect() as conn:
        visible = conn.execute(sa.text(
            "SELECT 1 FROM region_ancestors WHERE adcode = :r AND ancestor_adcode = coalesce(:s, ancestor_adcode)"),
            {"r": code, "s": sc.region}).first()
    if visible is None:
        raise _unknown_region(region if region is not None else code)
    return month, code


def _child_level(level: str) -> str:
    return LEVELS[LEVELS.index(level) + 1]


def _whole(level: str, name: str) -> str:
    """How the text names the region's whole: 全省, 全国, or the region's name."""
    return {"province": "全省", "nation": "全国"}.get(level, name)


def _values(frame: pd.DataFrame, code: str) -> dict[str, pd.Series]:
    """The rows of *code* in a query frame, by indicator."""
    rows = frame[frame["code"] == code]
    return {r["indicator"]: r for _, r in rows.iterrows()}


def _value(rows: dict[str, pd.Series], id: str) -> float | None:
    row = rows.get(id)
    return None if row is None or pd.isna(row["value"]) else float(row["value"])


class _Numbering:
    """表n / 图n captions, numbered in order."""

    def __init__(self) -> None:
        self.tables = self.figures = 0

    def table(self, text: str) -> str:
        self.tables += 1
        return f"表{self.tables} {text}"

    def figure(self, text: str) -> str:
        self.figures += 1
        return f"图{self.figures} {text}"


@dataclass(frozen=True)
class _Context:
    engine: Engine
    period: str
    prior: str  # the same month a year earlier
    code: str
    name: str
    level: str
    scope: str | None
    regions: pd.DataFrame

    @property
    def whole(self) -> str:
        return _whole(self.level, self.name)

    @property
    def month(self) -> str:
        return f"{int(self.period[5:])}月"

    def where(self, adcode: str) -> str:
        """A hospital's place below the region: '长春市双阳区' (its county and the units above it, up to the region)."""
        names = []
        code = adcode
        while code is not None and code != self.code and code in self.regions.index:
            names.append(self.regions.at[code, "name"])
            parent = self.regions.at[code, "parent"]
            code = parent if isinstance(parent, str) else None
        return "".join(reversed(names)) or self.name

    def query(self, ids: Sequence[str], level: str, span: str = "month", period: str | None = None) -> pd.DataFrame:
        return query(self.engine, list(ids), level, period or self.period, span=span, region=self.code,
                     scope=self.scope)


# ── sections ─────────────────────────────────────────────────────────────────────────────────────────

def _reporting(ctx: _Context, numbers: _Numbering) -> list[Block]:
    """一、填报情况."""
    blocks: list[Block] = [Heading("一、填报情况")]
    own = _values(ctx.query(RATE_IDS, ctx.level), ctx.code)
    expected, reported = _value(own, "hospitals_expected"), _value(own, "hospitals_reporting")
    hospitals = ctx.query(["hospitals_reporting", "timely_rate"], "hospital")
    wide = hospitals.pivot(index=["code", "name", "parent_code"], columns="indicator", values="value").reset_index()
    missing = wide[wide["hospitals_reporting"] == 0].sort_values(["parent_code", "code"])
    late = wide[(wide["hospitals_reporting"] == 1) & (wide["timely_rate"] == 0)].sort_values(["parent_code", "code"])
    text = prose.sentence(
        f"{ctx.month}，{ctx.whole}应报送月报的公立医院{prose.count(expected)}",
        f"已报送{prose.count(reported)}",
        f"报送率{prose.percent(_value(own, 'reporting_rate'))}",
        f"及时报送率{prose.percent(_value(own, 'timely_rate'))}")
    if len(missing):
        text += (f"截至目前仍有{len(missing)}家医院未报送："
                 f"{prose.enumerate_names(missing['name'].tolist(), limit=10)}。")
    else:
        text += "应报医院均已报送。"
    if len(late):
        text += f"另有{len(late)}家医院逾期报送。"
    blocks.append(Paragraph(text))
    if ctx.level != "county":  # a county's units are its hospitals: listed below
        child = _child_level(ctx.level)
        rates = ctx.query(RATE_IDS, child)
        rates = rates[rates["parent_code"] == ctx.code]
        wide_rates = rates.pivot(index=["code", "name"], columns="indicator", values="value").reset_index()
        rows = [(r["name"], prose.count(r["hospitals_expected"]), prose.count(r["hospitals_reporting"]),
                 prose.count(r["hospitals_expected"] - r["hospitals_reporting"]),
                 prose.percent(r["reporting_rate"]), prose.percent(r["timely_rate"]))
                for _, r in wide_rates.sort_values("code").iterrows()]
        rows.append((f"{ctx.name}合计", prose.count(expected), prose.count(reported),
                     prose.count(None if expected is None or reported is None else expected - reported),
                     prose.percent(_value(own, "reporting_rate")), prose.percent(_value(own, "timely_rate"))))
        blocks.append(Table(("地区", "应报医院", "已报医院", "未报医院", "报送率", "及时报送率"), tuple(rows),
                            caption=numbers.table(f"各{LEVEL_WORD[ctx.level]}月报报送情况（{ctx.month}）")))
    listed = pd.concat([missing.assign(state="未报送"), late.assign(state="逾期报送")])
    if len(listed):
        rows = [(str(i), r["name"], ctx.where(r["parent_code"]), r["state"])
                for i, (_, r) in enumerate(listed.iterrows(), start=1)]
        blocks.append(Table(("序号", "医院", "所属地区", "情况"), tuple(rows),
                            caption=numbers.table(f"未报送及逾期报送医院名单（{ctx.month}）"),
                            column_align=("center", "left", "left", "center"),
                            note="逾期报送：首个被接受的版本晚于报送截止日送达。"))
    return blocks


def _headline_rows(ctx: _Context) -> tuple[list[tuple[str, ...]], dict[str, tuple[float | None, ...]]]:
    """The headline table's rows, and per indicator (month, ytd, compared now, a year earlier)."""
    ids = [h.id for h in HEADLINES]
    frames = {(span, when): _values(ctx.query(ids, ctx.level, span, period), ctx.code)
              for span in ("month", "ytd") for when, period in (("now", ctx.period), ("prior", ctx.prior))}
    rows, found = [], {}
    for h in HEADLINES:
        ind = h.ind
        month = _value(frames[("month", "now")], h.id)
        ytd = _value(frames[("ytd", "now")], h.id) if h.cumulative else None
        # The comparison a year earlier: the year to date for flows, the month-end otherwise.
        span = "ytd" if h.cumulative else "month"
        now = _value(frames[(span, "now")], h.id)
        before = _value(frames[(span, "prior")], h.id)
        approx = any(bool(frames[(s, "now")][h.id]["approx"]) for s in ("month", "ytd") if h.id in frames[(s, "now")])
        growth = ind.kind == "growth"
        rows.append((ind.zh, prose.value(ind, month), prose.value(ind, ytd) if h.cumulative else prose.MISSING,
                     prose.MISSING if growth else prose.value(ind, before),
                     prose.MISSING if growth else prose.change(ind, now, before), "近似" if approx else ""))
        found[h.id] = (month, ytd, now, before)
    return rows, found


def _headline_text(ctx: _Context, found: dict) -> str:
    """The prose of 二、主要指标: the year to date, then the month's end, the programme, arrears."""
    ytd = prose.ytd_label(ctx.period)
    by_id = {h.id: h for h in HEADLINES}
    flow, stock, status, other = [], [], [], []
    for h_id, (month, ytd_value, now, before) in found.items():
        h = by_id[h_id]
        ind = h.ind
        if ind.kind == "growth":
            flow.append(f"{h.name}同比{prose.growth_words(ytd_value)}（{ctx.month}当月{prose.growth_words(month)}）")
            continue
        if ind.kind == "sum":  # a total (salary arrears): its amount, or that there is none
            stock.append(f"{h.name}{prose.value(ind, now)}" if now else f"{h.name}为零")
            continue
        compared = prose.change_words(ind, now, before)
        clause = f"{h.name}{prose.value(ind, now)}" + (f"，比上年同期{compared}" if compared else "")
        {"flow": flow, "stock": stock, "status": status}.get(ind.basis, other).append(clause)
    parts = []
    if flow:
        parts.append(f"{ytd}，{ctx.whole}公立医院" + "；".join(flow) + "。")
    if stock:
        parts.append(f"{ctx.month}末，" + "；".join(stock) + "。")
    if status:
        parts.append(f"截至{ctx.month}，" + "；".join(status) + "。")
    if other:
        parts.append("；".join(other) + "。")
    return "".join(parts)


def _target_names(frame: pd.DataFrame) -> list[str]:
    """Targets by name, with the tier where one applies: 成立运营管理委员会医院占比（三级）."""
    return [catalogue.get(i).zh + (f"（{t}）" if isinstance(t, str) else "")
            for i, t in zip(frame["indicator"], frame["tier"], strict=True)]


def _targets(ctx: _Context, numbers: _Numbering) -> list[Block]:
    frame = targets.evaluate(ctx.engine, ctx.code, as_of=ctx.period, scope=ctx.scope)
    if frame.empty:
        return []
    rows = []
    for _, t in frame.iterrows():
        ind = catalogue.get(t["indicator"])
        tier = t["tier"] if isinstance(t["tier"], str) else "全部"
        due = t["due_period"]
        rows.append((ind.zh, tier, prose.value(ind, t["target"]), prose.month_label(due), prose.value(ind, t["value"]),
                     STATUS_ZH.get(t["status"], t["status"])))
    counts = frame["status"].value_counts()
    missed = frame[frame["status"] == "missed"]
    text = prose.sentence(
        f"对照工作目标，{ctx.whole}{len(frame)}项目标中已达标{int(counts.get('met', 0))}项",
        f"逾期未达标{int(counts.get('missed', 0))}项"
        + (f"（{prose.enumerate_names(_target_names(missed))}）" if len(missed) else ""),
        f"按当前趋势难以如期达标{int(counts.get('off_track', 0))}项")
    return [Paragraph(text),
            Table(("指标", "范围", "目标值", "期限", "当前值", "状态"), tuple(rows),
                  caption=numbers.table(f"工作目标完成情况（截至{ctx.month}）"),
                  column_align=("left", "center", "right", "center", "right", "center"),
                  note="目标按地区和医院级别适用；“按趋势”为近24个月线性趋势外推至期限。")]


def _trend_chart(ctx: _Context, numbers: _Numbering) -> list[Block]:
    """Monthly values of :data:`TREND` this year against last year."""
    year = int(ctx.period[:4])
    frame = series(ctx.engine, TREND, ctx.code, f"{year - 1}-01", ctx.period, scope=ctx.scope)
    if frame.empty or frame["value"].notna().sum() == 0:
        return []
    ind = catalogue.get(TREND)
    values = frame.set_index("period")["value"] * ind.scale

    def months(y: int) -> list[float | None]:
        return [values.get(f"{y}-{m:02d}") for m in range(1, 13)]

    png = charts.line_yoy(months(year), months(year - 1), years=(year, year - 1),
                          title=f"{ctx.name}{ind.zh}（当月）", unit=ind.unit)
    return [Figure(png, numbers.figure(f"{ctx.name}{ind.zh}逐月走势（{year}年与{year - 1}年）"), 15.0)]


def _indicators(ctx: _Context, numbers: _Numbering) -> list[Block]:
    """二、主要指标."""
    rows, found = _headline_rows(ctx)
    ytd = prose.ytd_label(ctx.period)
    blocks: list[Block] = [Heading("二、主要指标"), Paragraph(_headline_text(ctx, found))]
    blocks.append(Table(("指标", f"{ctx.month}", ytd, "上年同期", "同比变化", "口径"), tuple(rows),
                        caption=numbers.table(f"{ctx.name}公立医院主要指标（{prose.month_label(ctx.period)}）"),
                        column_align=("left", "right", "right", "right", "right", "center"),
                        note=(f"上年同期、同比变化：收支、费用类指标按{ytd}累计值比较，资产负债、运营管理类指标按月末"
                              "（期末）值比较；增幅类指标本身即为同比。“近似”：部分医院未报送规定口径的可选字段，"
                              "按近似口径计算。")))
    blocks += _targets(ctx, numbers)
    blocks += _trend_chart(ctx, numbers)
    return blocks


def _map(ctx: _Context, frame: pd.DataFrame, ind: catalogue.Indicator, title: str) -> bytes | None:
    """The choropleth of the units in *frame* (code, value), or None where no boundaries are shipped."""
    folder = geo.NATION if ctx.code == geo.NATION else geo.province_of(ctx.code)
    wanted = set(frame["code"])
    features = []
    try:
        for layer in ("provinces", "prefectures", "counties"):  # enclosing layers first: a 直管 city on top
            if geo.has_layer(folder, layer):
                taken = {str(f["id"]) for f in features}
                features += [f for f in geo.load_geojson(folder, layer)["features"]
                             if str(f["id"]) in wanted - taken]
    except (FileNotFoundError, ValueError):
        return None
    if not features:
        return None
    values = {c: (None if pd.isna(v) else float(v) * ind.scale) for c, v in zip(frame["code"], frame["value"])}
    texts = {c: prose.value(ind, v) for c, v in zip(frame["code"], frame["value"])}
    return charts.choropleth(features, values, texts, title=title, legend=ind.unit)


def _comparison(ctx: _Context, numbers: _Numbering) -> list[Block]:
    """三、地区比较 (a county ranks its hospitals)."""
    child = _child_level(ctx.level)
    word = LEVEL_WORD[ctx.level]
    first, second = (catalogue.get(i) for i in COMPARE)
    ytd = prose.ytd_label(ctx.period)
    frame = ctx.query(list(COMPARE) + ["hospitals_reporting", "hospitals_expected"], child, "ytd")
    frame = frame[frame["parent_code"] == ctx.code]
    blocks: list[Block] = [Heading("三、地区比较")]
    if frame.empty:
        return blocks + [Paragraph(f"{ctx.name}下无可比较的{word}。")]
    wide = frame.pivot(index=["code", "name"], columns="indicator", values="value").reset_index()
    ranked = wide.sort_values([first.id, "code"], ascending=[False, True], na_position="last").reset_index(drop=True)
    known = ranked[ranked[first.id].notna()]
    head, tail = known.head(3), known.tail(3).iloc[::-1]
    if len(known) >= 2:
        blocks.append(Paragraph(prose.sentence(
            f"从各{word}看，{ytd}{first.zh}居前的是"
            + "、".join(f"{r['name']}（{prose.value(first, r[first.id])}）" for _, r in head.iterrows()),
            "居后的是" + "、".join(f"{r['name']}（{prose.value(first, r[first.id])}）" for _, r in tail.iterrows()))))
    shown = ranked if len(ranked) <= 2 * TOP else pd.concat([ranked.head(TOP), ranked.tail(TOP)])
    rows = [(str(i + 1), r["name"], prose.value(first, r[first.id]), prose.value(second, r[second.id]),
             f"{prose.count(r['hospitals_reporting'], '')}/{prose.count(r['hospitals_expected'], '')}")
            for i, r in shown.iterrows()]
    which = "" if len(ranked) <= 2 * TOP else f"（前{TOP}位和后{TOP}位，共{len(ranked)}个）"
    blocks.append(Table(("排名", "名称", f"{first.zh}", f"{second.zh}", "已报/应报医院"), tuple(rows),
                        caption=numbers.table(f"各{word}{ytd}{first.zh}排名{which}"),
                        column_align=("center", "left", "right", "right", "center"),
                        note=f"按{first.zh}由高到低排列；{ytd}累计口径。"))
    if child != "hospital" or len(ranked) <= 30:  # a chart of hundreds of hospitals reads as nothing
        png = charts.bar_ranking(ranked["name"].tolist(), (ranked[first.id] * first.scale).tolist(),
                                 [prose.value(first, v) for v in ranked[first.id]],
                                 title=f"{first.zh}（{ytd}）", unit=first.unit)
        blocks.append(Figure(png, numbers.figure(f"各{word}{ytd}{first.zh}"), 15.0))
    if child != "hospital":
        png = _map(ctx, wide.rename(columns={first.id: "value"})[["code", "value"]], first,
                   f"{ctx.name}各{word}{first.zh}（{ytd}）")
        if png is not None:
            blocks.append(Figure(png, numbers.figure(f"{ctx.name}各{word}{ytd}{first.zh}分布"), 15.0))
    return blocks


def _level_counts(changes: pd.DataFrame) -> list[tuple[str, ...]]:
    counts = changes.groupby(["status", "level"]).size()
    rows = []
    for status, label in (("new", "新发"), ("persisting", "持续"), ("resolved", "解除")):
        cells = [int(counts.get((status, lv), 0)) for lv in ("red", "orange", "yellow")]
        rows.append((label, *(f"{n}项" for n in cells), f"{sum(cells)}项"))
    return rows


def _risk_rows(ctx: _Context, frame: pd.DataFrame, with_first: bool) -> tuple[tuple[str, ...], ...]:
    rows = []
    for i, (_, r) in enumerate(frame.iterrows(), start=1):
        detail = r["detail"] if isinstance(r["detail"], dict) else None
        cells = [str(i), r["name"], ctx.where(r["adcode"]), rule(r["rule"]).zh, LEVEL_LABELS[r["level"]][0]]
        if with_first:
            cells.append(prose.month_label(r["first_period"]))
        cells.append(explain(r["rule"], r["level"], detail))
        rows.append(tuple(cells))
    return tuple(rows)


def _risks(ctx: _Context, numbers: _Numbering) -> list[Block]:
    """四、风险监测."""
    changes = risk.changes(ctx.engine, ctx.period, region=ctx.code, scope=ctx.scope)
    blocks: list[Block] = [Heading("四、风险监测")]
    by_status = changes["status"].value_counts()
    new = changes[changes["status"] == "new"]
    new_levels = new["level"].value_counts()
    deficit = _values(ctx.query(RISK_IDS, ctx.level), ctx.code)
    new_parts = "、".join(f"{LEVEL_LABELS[lv][0]}{int(new_levels[lv])}项" for lv in ("red", "orange", "yellow")
                         if lv in new_levels)
    text = prose.sentence(
        f"{ctx.month}，{ctx.whole}新发风险{int(by_status.get('new', 0))}项" + (f"（{new_parts}）" if new_parts else ""),
        f"持续风险{int(by_status.get('persisting', 0))}项",
        f"解除风险{int(by_status.get('resolved', 0))}项")
    share = deficit.get("deficit_hospital_share")
    text += prose.sentence(
        f"近12个月收不抵支医院{prose.value(catalogue.get('deficit_hospitals'), _value(deficit, 'deficit_hospitals'))}",
        f"占近12个月均已报送医院的{prose.percent(_value(deficit, 'deficit_hospital_share'))}" if share is not None else "")
    blocks.append(Paragraph(text))
    blocks.append(Table(("类别", "红色", "橙色", "黄色", "合计"), tuple(_level_counts(changes)),
                        caption=numbers.table(f"风险监测情况（{ctx.month}）"),
                        column_align=("center", "right", "right", "right", "right")))
    severe_new = new[new["level"].isin(["orange", "red"])]
    if len(severe_new):
        blocks.append(Table(("序号", "医院", "所属地区", "风险", "等级", "说明"), _risk_rows(ctx, severe_new, False),
                            caption=numbers.table(f"新发橙色、红色风险医院（{ctx.month}）"),
                            column_align=("center", "left", "left", "left", "center", "left")))
    else:
        blocks.append(Paragraph(f"{ctx.month}无新发橙色、红色风险。"))
    red = changes[(changes["status"] == "persisting") & (changes["level"] == "red")]
    if len(red):
        blocks.append(Table(("序号", "医院", "所属地区", "风险", "等级", "首次触发", "说明"),
                            _risk_rows(ctx, red, True), caption=numbers.table(f"持续红色风险医院（{ctx.month}）"),
                            column_align=("center", "left", "left", "left", "center", "center", "left")))
    today = periods.today()
    overdue = list_disposals(ctx.engine, scope=ctx.scope, region=ctx.code, overdue=True, today=today)
    if overdue.empty:
        blocks.append(Paragraph(f"截至{prose.date_label(today)}，无逾期未办结的风险处置事项。"))
    else:
        blocks.append(Paragraph(f"截至{prose.date_label(today)}，风险处置逾期未办结{len(overdue)}项，请有关地区和医院抓紧办理。"))
        rows = tuple((str(i), r["hospital_name"], ctx.where(r["adcode"]), rule(r["rule"]).zh,
                      LEVEL_LABELS.get(r["level"], (r["level"],))[0],
                      f"{r['due_on'].year}年{r['due_on'].month}月{r['due_on'].day}日" if pd.notna(r["due_on"]) else "—")
                     for i, (_, r) in enumerate(overdue.iterrows(), start=1))
        blocks.append(Table(("序号", "医院", "所属地区", "风险", "等级", "整改期限"), rows,
                            caption=numbers.table("逾期未办结的风险处置事项"),
                            column_align=("center", "left", "left", "left", "center", "center")))
    return blocks


# ── the document ─────────────────────────────────────────────────────────────────────────────────────

def title(name: str, period: str) -> str:
    """The 通报's title: '吉林省公立医院经济运行分析通报（2026年5月）'."""
    return f"{name}公立医院经济运行分析通报（{prose.month_label(period)}）"


def build(engine: Engine, period: str, *, region: str | None = None, scope: str | None = None) -> Document:
    """The 经济运行分析通报 of *region* for the closed month *period* ('YYYY-MM'), read within *scope*.

    *region* defaults to the scope's region, or the whole database's (the province).
    ``ValueError`` (Chinese and English) for a month not yet closed, a malformed
    period, a region that does not exist or lies outside *scope* (one message for
    both), or a hospital *scope* (a 通报 is for a region).
    """
    month, code = _check(engine, period, region, scope)
    regions = _regions(engine)
    level = level_of(engine, code)
    name = regions.at[code, "name"]
    prior = periods.to_period(periods.add_months(periods.to_date(month), -12))
    ctx = _Context(engine, month, prior, code, name, level, scope, regions)
    numbers = _Numbering()
    as_of = reporting.data_as_of(engine)
    issuer = "国家卫生健康委员会" if level == "nation" else f"{name}卫生健康委员会"
    subtitle = (issuer, prose.date_label(periods.today()))
    blocks: list[Block] = []
    if as_of is not None:
        local = as_of.astimezone(periods.configured_tz(engine))
        blocks.append(Paragraph(f"本通报数据来自公立医院经济运行监测系统，数据截至{prose.date_label(local.date())}"
                                f"{local:%H:%M}；各项指标口径见指标说明。"))
    blocks += _reporting(ctx, numbers)
    blocks += _indicators(ctx, numbers)
    blocks += _comparison(ctx, numbers)
    blocks += _risks(ctx, numbers)
    blocks += [Heading("五、下一步工作"), *(Paragraph(p) for p in NEXT_STEPS)]
    return Document(title(name, month), subtitle, tuple(blocks))


def render(engine: Engine, period: str, *, region: str | None = None, scope: str | None = None,
           fmt: Format = "docx") -> bytes:
    """:func:`build`, rendered as DOCX or PDF bytes."""
    if fmt not in ("docx", "pdf"):
        raise ValueError(f"format must be docx or pdf, got {fmt!r}")
    doc = build(engine, period, region=region, scope=scope)
    if fmt == "docx":
        from opsmon.documents.docx_render import to_docx

        return to_docx(doc)
    from opsmon.documents.pdf_render import to_pdf

    return to_pdf(doc)
