"""The risk rules of ``spec/indicators.md``, as data.

A rule compares one per-hospital-month *metric* (defined once, in SQL, in
:mod:`opsmon.indicators.risk`) with thresholds: the rule fires at the most
severe level whose threshold the metric passes. The thresholds below are the
spec's defaults — conventional analysis cut-offs, not official grades; rows of
the ``risk_thresholds`` table override them for this database's province, add a
level, or switch one off.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

Level = Literal["yellow", "orange", "red"]
Op = Literal["lt", "le", "gt", "ge"]
LEVELS: tuple[Level, ...] = ("yellow", "orange", "red")  # mildest first
LEVEL_LABELS: dict[str, tuple[str, str]] = {"yellow": ("黄色", "Yellow"), "orange": ("橙色", "Orange"),
                                            "red": ("红色", "Red")}
OP_SQL: dict[str, str] = {"lt": "<", "le": "<=", "gt": ">", "ge": ">="}


@dataclass(frozen=True)
class RiskRule:
    """One rule: *metric* *op* threshold, per level."""

    id: str
    zh: str
    en: str
    metric: str
    op: Op
    levels: tuple[tuple[Level, Decimal], ...]
    unit: str = ""
    description: str = ""
    source: str = ""

    def label(self, language: str = "zh") -> str:
        """The rule's name in *language*."""
        return self.zh if language == "zh" else self.en


def _d(value: str) -> Decimal:
    return Decimal(value)


_FIN132 = "国卫财务函〔2024〕132号"
RULES: tuple[RiskRule, ...] = (
    RiskRule("deficit_ytd", "收不抵支", "Deficit year to date", "ytd_surplus_rate", "lt",
             (("orange", _d("0")), ("red", _d("-0.05"))), "%",
             "本年累计收入合计小于费用合计；累计收支结余率低于−5%为红色", _FIN132),
    RiskRule("deficit_streak", "连续亏损", "Deficit months in a row", "deficit_streak", "ge",
             (("red", _d("3")),), "月", "连续3个月（已报送月份，逐月相连）当月收入合计小于费用合计", _FIN132),
    RiskRule("debt_ratio_high", "资产负债率偏高", "High debt ratio", "debt_ratio", "ge",
             (("yellow", _d("0.5")), ("orange", _d("0.7")), ("red", _d("1"))), "%",
             "资产负债率≥50%黄色、≥70%橙色、≥100%红色（资不抵债）"),
    RiskRule("long_term_debt_rising", "长期债务增长", "Long-term debt rising", "long_term_loans_rise_streak", "ge",
             (("orange", _d("3")),), "月", "长期借款连续3个月逐月上升", _FIN132),
    RiskRule("salary_arrears", "拖欠职工薪酬", "Salary arrears", "salary_arrears", "gt",
             (("red", _d("0")),), "元", "期末拖欠职工薪酬大于0", _FIN132),
    RiskRule("construction_debt_increase", "举债建设", "Construction debt increased", "construction_debt_change",
             "gt", (("red", _d("0")),), "元", "基本建设借款余额高于上月（严禁举债建设）"),
    RiskRule("liquidity_low", "流动性不足", "Low liquidity", "current_ratio", "lt",
             (("orange", _d("1")),), "", "流动比率小于1"),
    RiskRule("cash_short", "现金支付能力不足", "Short of cash", "cash_months", "lt",
             (("orange", _d("1")), ("red", _d("0.5"))), "月", "现金支付月数小于1为橙色，小于0.5为红色"),
    RiskRule("report_missing", "未按时报送", "Report not in on time", "late", "ge",
             (("yellow", _d("1")),), "", "截止日（次月10日）前没有被接受的月报"),
)
BY_ID: dict[str, RiskRule] = {r.id: r for r in RULES}


def get(rule_id: str) -> RiskRule:
    """The rule *rule_id*; ``KeyError`` naming the known rules otherwise."""
    try:
        return BY_ID[rule_id]
    except KeyError:
        raise KeyError(f"unknown risk rule {rule_id!r}; known: {', '.join(BY_ID)}") from None
