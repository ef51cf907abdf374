"""The risk rules of ``spec/indicators.md`` (v2), as data — and the words that explain a firing.

A rule reads one or more per-hospital-month *metrics* (each defined once, in SQL,
in :mod:`opsmon.indicators.risk`; ``cash_forecast``'s in
:mod:`opsmon.indicators.cash_forecast`). Each :class:`Condition` compares one
metric with thresholds, per level; the rule fires at the most severe level any
of its conditions passes ("the higher of the two" for ``long_term_debt``).
An *escalation* raises a firing to a level when another rule fires for the same
hospital and month (``deficit_streak`` is orange only together with
``deficit_12m``: a short-lived pattern never outranks a sustained one).

The thresholds below are the spec's defaults — conventional analysis cut-offs,
not official grades. Rows of the ``risk_thresholds`` table override them for
this database's province, add a level, or switch one off; a row names its
condition by ``metric`` (NULL: the rule's first condition).

:func:`explain` turns a firing's stored ``detail`` (the triggering values and
the threshold, see :mod:`opsmon.indicators.risk`) into a sentence in Chinese or
English, for the risk page, the hospital profile and ``opsmon risks list``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

Level = Literal["yellow", "orange", "red"]
Op = Literal["lt", "le", "gt", "ge"]
LEVELS: tuple[Level, ...] = ("yellow", "orange", "red")  # mildest first
LEVEL_LABELS: dict[str, tuple[str, str]] = {"yellow": ("黄色", "Yellow"), "orange": ("橙色", "Orange"),
                                            "red": ("红色", "Red")}
OP_SQL: dict[str, str] = {"lt": "<", "le": "<=", "gt": ">", "ge": ">="}
OP_TEXT: dict[str, str] = {"lt": "<", "le": "≤", "gt": ">", "ge": "≥"}
# What a condition's value reads: month-end values, the trailing 12 months, a comparison with the
# same month a year earlier, consecutive months, the forecast horizon.
Window = Literal["month", "12m", "12m_change", "streak", "forecast"]


@dataclass(frozen=True)
class Condition:
    """*metric* *op* threshold, per level; *unit* is the metric's ('%' for a fraction)."""

    metric: str
    op: Op
    levels: tuple[tuple[Level, Decimal], ...]
    unit: str = ""
    window: Window = "month"


@dataclass(frozen=True)
class RiskRule:
    """One rule: its conditions (the most severe level any passes), and its escalations."""

    id: str
    zh: str
    en: str
    conditions: tuple[Condition, ...]
    # (level, rule id): the firing is raised to *level* when that rule fires in the same month.
    escalations: tuple[tuple[Level, str], ...] = ()
    description: str = ""
    source: str = ""

    @property
    def metric(self) -> str:
        """The first condition's metric (the one ``risk_thresholds`` rows without a metric override)."""
        return self.conditions[0].metric

    @property
    def op(self) -> Op:
        return self.conditions[0].op

    @property
    def levels(self) -> tuple[tuple[Level, Decimal], ...]:
        return self.conditions[0].levels

    @property
    def unit(self) -> str:
        return self.conditions[0].unit

    def label(self, language: str = "zh") -> str:
        """The rule's name in *language*."""
        return self.zh if language == "zh" else self.en

    def condition(self, metric: str | None) -> Condition:
        """The condition on *metric* (None: the first); ``KeyError`` otherwise."""
        for cond in self.conditions:
            if metric is None or cond.metric == metric:
                return cond
        raise KeyError(f"rule {self.id} has no condition on {metric!r}")


def _d(value: str) -> Decimal:
    return Decimal(value)


def _c(metric: str, op: Op, levels: dict[str, str], unit: str = "", window: Window = "month") -> Condition:
    return Condition(metric, op, tuple((lv, _d(v)) for lv, v in levels.items()), unit, window)  # type: ignore[misc]


_FIN132 = "国卫财务函〔2024〕132号"
_JILIN19 = "吉卫联发〔2022〕19号"
RULES: tuple[RiskRule, ...] = (
    RiskRule("deficit_12m", "收不抵支", "Deficit over 12 months",
             (_c("surplus_rate_12m", "lt", {"orange": "0", "red": "-0.05"}, "%", "12m"),),
             description="近12个月收入合计小于费用合计（须有12个月报送）；收支结余率低于−5%为红色", source=_FIN132),
    RiskRule("deficit_streak", "连续3个月收不抵支", "Deficit 3 months in a row",
             (_c("deficit_streak", "ge", {"yellow": "3"}, "月", "streak"),),
             escalations=(("orange", "deficit_12m"),),
             description="最近3个月（逐月相连、均已报送）每月收入合计小于费用合计；近12个月亦收不抵支时为橙色",
             source=_FIN132),
    RiskRule("medical_deficit", "医疗盈余为负", "Medical deficit",
             (_c("medical_surplus_12m", "lt", {"yellow": "0"}, "元", "12m"),),
             description="近12个月医疗活动收入小于医疗活动费用（未报送时以医疗收入+财政拨款收入−业务活动费用−"
                         "单位管理费用近似）：依靠财政补助维持"),
    RiskRule("debt_ratio_high", "资产负债率偏高", "High debt ratio",
             (_c("debt_ratio", "ge", {"yellow": "0.5", "orange": "0.7"}, "%"),),
             description="资产负债率≥50%黄色、≥70%橙色"),
    RiskRule("net_assets_negative", "资不抵债", "Liabilities exceed assets",
             (_c("net_assets", "lt", {"red": "0"}, "元"),),
             description="负债总额大于资产总额"),
    RiskRule("long_term_debt", "长期债务", "Long-term debt",
             (_c("long_term_debt_ratio", "ge", {"yellow": "0.2", "orange": "0.35"}, "%"),
              _c("long_term_debt_growth", "ge", {"yellow": "0.2", "orange": "0.5"}, "%", "12m_change"),
              # From none 12 months earlier the growth is unbounded (≥ 50 %): a first loan is orange.
              _c("long_term_debt_new", "gt", {"orange": "0"}, "元", "12m_change")),
             description="长期债务（长期借款+长期应付款）占总资产≥20%黄色、≥35%橙色；或比12个月前增长≥20%黄色、"
                         "≥50%橙色（一次提款即计）；取两者较高者", source=_FIN132),
    RiskRule("salary_arrears", "拖欠职工薪酬", "Salary arrears",
             (_c("salary_arrears", "gt", {"red": "0"}, "元"),),
             description="期末拖欠职工薪酬大于0", source=_FIN132),
    RiskRule("construction_loans_increase", "基本建设借款增加", "Construction loans increased",
             (_c("construction_debt_change_12m", "gt", {"orange": "0"}, "元", "12m_change"),),
             description="基本建设借款余额高于12个月前（严禁举债建设：请核实是否经批准）"),
    RiskRule("liquidity_low", "流动性不足", "Low liquidity",
             (_c("current_ratio", "lt", {"orange": "1"}),),
             description="流动比率小于1"),
    RiskRule("cash_short", "现金支付能力不足", "Short of cash",
             (_c("cash_months", "lt", {"orange": "1", "red": "0.5"}, "月"),),
             description="货币资金可支付月数小于1为橙色，小于0.5为红色"),
    RiskRule("cash_forecast", "现金支付能力预警", "Cash running short (forecast)",
             (_c("cash_months_forecast", "lt", {"yellow": "1"}, "月", "forecast"),),
             description="货币资金可支付月数目前不低于1，但近12个月的趋势预计在6个月内降到1以下"),
    RiskRule("receivable_days_high", "应收医保款周转天数偏长", "Slow insurance receivables",
             (_c("insurance_receivable_days", "gt", {"yellow": "90", "orange": "150"}, "天", "12m"),),
             description="应收医保款周转天数大于90天黄色、大于150天橙色（须报送应收医保款）"),
    RiskRule("supplier_payable_days_high", "应付药品耗材款周转天数偏长", "Slow payment of drug and consumables suppliers",
             (_c("supplier_payable_days", "gt", {"yellow": "90", "orange": "180"}, "天", "12m"),),
             description="应付药品耗材款周转天数大于90天黄色、大于180天橙色（集采货款应在30天内结清）"),
    RiskRule("report_missing", "未按时报送", "Report not in on time",
             (_c("late", "ge", {"yellow": "1"}),),
             description="截止日（次月10日）前没有被接受的月报"),
)
BY_ID: dict[str, RiskRule] = {r.id: r for r in RULES}


def get(rule_id: str) -> RiskRule:
    """The rule *rule_id*; ``KeyError`` naming the known rules otherwise."""
    try:
        return BY_ID[rule_id]
    except KeyError:
        raise KeyError(f"unknown risk rule {rule_id!r}; known: {', '.join(BY_ID)}") from None


def check(rules: tuple[RiskRule, ...] = RULES) -> None:
    """Refuse a malformed rule set: duplicate ids or metrics, unknown levels, escalations to unknown rules."""
    ids = [r.id for r in rules]
    if len(set(ids)) != len(ids):
        raise ValueError(f"duplicate risk rule ids: {ids}")
    for rule in rules:
        metrics = [c.metric for c in rule.conditions]
        if not metrics or len(set(metrics)) != len(metrics):
            raise ValueError(f"{rule.id}: each condition needs a metric of its own")
        for cond in rule.conditions:
            if cond.op not in OP_SQL or any(level not in LEVELS for level, _ in cond.levels):
                raise ValueError(f"{rule.id}: bad operator or level in {cond}")
        for level, other in rule.escalations:
            if level not in LEVELS or other not in ids or other == rule.id:
                raise ValueError(f"{rule.id}: bad escalation ({level}, {other})")


check()


# ── Explanations ────────────────────────────────────────────────────────────────────────────────

def _minus(text: str) -> str:
    return text.replace("-", "−")


def _money(value: float, language: str) -> str:
    v = float(value)
    if language == "zh":
        if abs(v) >= 1e8:
            return _minus(f"{v / 1e8:.2f}亿元")
        if abs(v) >= 1e4:
            return _minus(f"{v / 1e4:.1f}万元")
        return _minus(f"{v:,.0f}元")
    if abs(v) >= 1e6:
        return _minus(f"CNY {v / 1e6:,.2f} m")
    return _minus(f"CNY {v:,.0f}")


def _short(value: float, decimals: int) -> str:
    """*value* with at most *decimals* decimals, trailing zeros dropped (−5, 0.5, 1.25)."""
    text = f"{float(value):.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return _minus("0" if text in ("-0", "") else text)


def format_value(value: float | None, unit: str, language: str = "zh", *, threshold: bool = False) -> str:
    """A metric's value for a sentence: fractions as percentages, money in 万元/亿元, days, months.

    *threshold* formats a threshold (no trailing zeros: −5%, 0.5个月).
    """
    if value is None:
        return "—"
    v = float(value)
    if unit == "%":
        return f"{_short(v * 100, 1)}%" if threshold else _minus(f"{v * 100:.1f}%")
    if unit == "元":
        return _money(v, language)
    if unit == "天":
        number = _short(v, 0)
        return f"{number}天" if language == "zh" else f"{number} days"
    if unit == "月":
        number = _short(v, 1 if threshold else 2)
        return f"{number}个月" if language == "zh" else f"{number} months"
    return _short(v, 2)


# Per metric: (zh, en) sentences over the detail's fields, formatted by _fields(). {head} is the
# "（红色阈值 < −5%）" part, added by explain().
_SENTENCES: dict[str, tuple[str, str]] = {
    "surplus_rate_12m": ("近12个月收入合计 {revenue_12m} {cmp} 费用合计 {expense_12m}，收支结余率 {value}",
                         "Revenue over the last 12 months {revenue_12m} {cmp} expense {expense_12m}; "
                         "surplus rate {value}"),
    "deficit_streak": ("连续{months}个月收入合计小于费用合计", "Expense above revenue {months} months in a row"),
    "medical_surplus_12m": ("近12个月医疗活动收入 {medical_activity_revenue_12m} − 医疗活动费用 "
                            "{medical_activity_expense_12m} = 医疗盈余 {value}",
                            "Medical revenue over the last 12 months {medical_activity_revenue_12m} − medical "
                            "expense {medical_activity_expense_12m} = medical surplus {value}"),
    "debt_ratio": ("负债总额 {total_liabilities} ÷ 资产总额 {total_assets} = 资产负债率 {value}",
                   "Liabilities {total_liabilities} ÷ assets {total_assets} = debt ratio {value}"),
    "net_assets": ("负债总额 {total_liabilities} > 资产总额 {total_assets}，净资产 {value}",
                   "Liabilities {total_liabilities} > assets {total_assets}; net assets {value}"),
    "long_term_debt_ratio": ("长期债务（长期借款+长期应付款）{long_term_debt} ÷ 资产总额 {total_assets} = {value}",
                             "Long-term debt (loans + payables) {long_term_debt} ÷ assets {total_assets} = {value}"),
    "long_term_debt_growth": ("长期债务 {long_term_debt}，比12个月前（{long_term_debt_12m_ago}）增长 {value}",
                              "Long-term debt {long_term_debt}, up {value} on 12 months earlier "
                              "({long_term_debt_12m_ago})"),
    "long_term_debt_new": ("新增长期债务 {value}（12个月前为0）", "New long-term debt {value} (none 12 months earlier)"),
    "salary_arrears": ("期末拖欠职工薪酬 {value}", "Salary arrears at month end {value}"),
    "construction_debt_change_12m": ("基本建设借款余额 {construction_debt}，比12个月前（{construction_debt_12m_ago}）增加 "
                                     "{value}",
                                     "Construction loans {construction_debt}, up {value} on 12 months earlier "
                                     "({construction_debt_12m_ago})"),
    "current_ratio": ("流动资产 {current_assets} ÷ 流动负债 {current_liabilities} = 流动比率 {value}",
                      "Current assets {current_assets} ÷ current liabilities {current_liabilities} = "
                      "current ratio {value}"),
    "cash_months": ("货币资金 {numerator} ÷ 月均费用（扣除折旧）{denominator} = 可支付 {value}",
                    "Cash {numerator} ÷ monthly expense net of depreciation {denominator} = {value} of cover"),
    "cash_months_forecast": ("货币资金可支付月数 {value}，近12个月趋势每月 {slope}，预计 {projected_period} 降至 {threshold}"
                             "以下（R² {r2}）",
                             "Cash cover {value}; its 12-month trend ({slope} a month) falls below {threshold} in "
                             "{projected_period} (R² {r2})"),
    "insurance_receivable_days": ("应收医保款 {insurance_receivable} ÷ 近12个月日均医疗收入 {daily} = {value}",
                                  "Insurance receivable {insurance_receivable} ÷ daily medical revenue over the last "
                                  "12 months {daily} = {value}"),
    "supplier_payable_days": ("应付药品耗材款 {supplier_payable} ÷ 近12个月日均药品耗材费 {daily} = {value}",
                              "Drug and consumables payable {supplier_payable} ÷ daily drug and consumables expense "
                              "over the last 12 months {daily} = {value}"),
    "late": ("截止日前没有被接受的月报", "No accepted monthly report by the due date"),
}
_MONEY_FIELDS = frozenset({
    "revenue_12m", "expense_12m", "medical_activity_revenue_12m", "medical_activity_expense_12m", "medical_revenue_12m",
    "drug_consumables_expense_12m", "total_liabilities", "total_assets",
    "long_term_debt", "long_term_debt_12m_ago", "construction_debt", "construction_debt_12m_ago", "current_assets",
    "current_liabilities", "numerator", "denominator", "insurance_receivable", "supplier_payable"})


def _fields(detail: Mapping[str, Any], cond: Condition, language: str) -> dict[str, str]:
    out = {k: _money(v, language) for k, v in detail.items() if k in _MONEY_FIELDS and v is not None}
    value = detail.get("value")
    out["value"] = format_value(value, cond.unit, language)
    out["threshold"] = format_value(detail.get("threshold"), cond.unit, language, threshold=True)
    if value is not None:
        out["months"] = _short(value, 0)
    if "revenue_12m" in detail and "expense_12m" in detail:
        out["cmp"] = "<" if float(detail["revenue_12m"]) < float(detail["expense_12m"]) else "≥"
    if detail.get("slope") is not None:
        out["slope"] = _minus(f"{float(detail['slope']):+.2f}")
    if detail.get("r2") is not None:
        out["r2"] = f"{float(detail['r2']):.2f}"
    out["projected_period"] = str(detail.get("projected_period") or "—")
    for stock, total in (("insurance_receivable", "medical_revenue_12m"),
                         ("supplier_payable", "drug_consumables_expense_12m")):
        if stock in detail and detail.get(total) is not None:
            out["daily"] = _money(float(detail[total]) / 365, language)
    return out


def explain(rule_id: str, level: str, detail: Mapping[str, Any] | None, language: str = "zh") -> str:
    """The sentence explaining a firing: its triggering values and the threshold it passed.

    *detail* is what the register stores with the firing (``metric``, ``value``, ``op``,
    ``threshold``, the inputs; ``escalated_by``, ``approx``, ``projected_period`` where they
    apply). E.g. ``近12个月收入合计 1.23亿元 < 费用合计 1.31亿元，收支结余率 −6.1%（红色阈值 < −5%）``.
    Without a detail (a register built before v2), the rule's description.
    """
    rule = get(rule_id)
    if not detail or "metric" not in detail:
        return rule.description if language == "zh" else rule.en
    cond = rule.condition(detail.get("metric"))
    zh, en = _SENTENCES.get(cond.metric, ("{value}", "{value}"))
    text = (zh if language == "zh" else en).format_map(_Missing(_fields(detail, cond, language)))
    op = OP_TEXT.get(str(detail.get("op")), "")
    base_level = detail.get("condition_level", level)
    level_name = LEVEL_LABELS.get(str(base_level), (base_level, base_level))[0 if language == "zh" else 1]
    threshold = format_value(detail.get("threshold"), cond.unit, language, threshold=True)
    if cond.metric == "late":
        return text
    if language == "zh":
        text += f"（{level_name}阈值 {op} {threshold}）"
        if detail.get("approx"):
            text += "（近似：以医疗收入+财政拨款收入−业务活动费用−单位管理费用计）"
        if detail.get("escalated_by"):
            other = get(str(detail["escalated_by"]))
            text += f"；同时{other.zh}，升为{LEVEL_LABELS[level][0]}"
    else:
        text += f" ({level_name.lower()} threshold {op} {threshold})"
        if detail.get("approx"):
            text += " (approximated from medical revenue + fiscal subsidy − business and admin expense)"
        if detail.get("escalated_by"):
            other = get(str(detail["escalated_by"]))
            text += f"; together with {other.en.lower()}: raised to {LEVEL_LABELS[level][1].lower()}"
    return text


class _Missing(dict):
    """format_map's mapping: a field the detail lacks shows as '—' rather than raising."""

    def __missing__(self, key: str) -> str:
        return "—"
