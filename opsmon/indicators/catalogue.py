"""The indicator catalogue of ``spec/indicators.md``, as data.

Each :class:`Indicator` says *what* to compute — a numerator and a denominator
written as SQL expressions over the spec's field codes — and *how it
aggregates* (its ``basis``). The query layer turns every entry into the same
SQL shape, so adding an indicator is adding an entry here, not a code path.

Bases (how hospitals and months enter a value):

``flow``
    Flow fields summed over the months of the span a hospital reported; the
    hospital contributes when it reported at least one month of the span.
``stock``
    Month-end values at the last month of the span; a hospital that did not
    report that month contributes nothing (neither numerator nor denominator).
``status``
    Programme status as of the period (the latest progress row on or before
    it). Every open hospital of the population counts in the denominator; one
    that never reported progress counts as "not done".
``roster``
    Per-hospital flags (reported, timely, deficit…) over every open hospital
    of the population; used by the counts.

Kinds: ``ratio`` (Σ numerator ÷ Σ denominator × factor), ``sum`` and
``count`` (Σ numerator × factor), ``growth`` (the base value — Σ numerator
÷ Σ denominator, or Σ numerator alone — over the same span a year earlier,
minus 1, on hospital-months reported in both years).

**Official definitions and 近似.** The numerator and denominator are the
official definition (国家三级公立医院绩效考核操作手册; ``spec/indicators.md`` v2).
Where it reads an optional field of the monthly report (v2's
``medical_service_revenue``…, v1's ``drug_expense``…), the entry says what a
hospital that lacks the field gets, as data:

``approximation`` (:class:`Approximation`)
    The optional fields the official definition ``needs`` and the v1 expressions
    that stand in for a hospital lacking any of them; that hospital's value is
    marked 近似 (approximate), and so is every region value it contributes to.
    Without stand-in expressions the official ones are used as they are (they
    cope with the absence themselves, e.g. ``coalesce(long_term_payables, 0)``)
    and the value is still marked 近似: it omits a part of the definition.
``requires``
    Optional fields without which a hospital has no value at all (there is no
    v1 approximation): it contributes neither numerator nor denominator.

"Has the field" depends on the basis: for a flow over a span, the hospital
reported it in every month it reported in the span (else its whole span is
approximated); for growth, in every matched month of both years; for a
month-end stock, in that month; for a flow read through a trailing mean of
``ind_month`` (:data:`TRAILING`), in every reported month of that mean's window;
for programme status, in the status row (a hospital without status is not
approximated: it has no value to approximate).

**Trailing means** (:data:`TRAILING`): per hospital-month means of a flow
expression over the reported months of a trailing window, kept in ``ind_month``
beside the stocks so stock-basis ratios (cash_months, the turnover days) are
plain SQL over one hospital-month row. With fewer reported months than the
window the mean is over the months reported (a 12-month flow is then the mean
× 12, i.e. annualised from the months there are).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from opsmon.ingest.fields import FIELDS, KEYS, value_columns

Kind = Literal["ratio", "sum", "count", "growth"]
Basis = Literal["flow", "stock", "status", "roster"]
Group = Literal["programme", "financial", "counts"]
Direction = Literal["up", "down", "monitor", "target", "none"]

SQL_FUNCTIONS = frozenset({"coalesce", "greatest", "least", "nullif", "abs"})

_TOKEN = re.compile(r"'[^']*'|\b[a-z_][a-z0-9_]*\b")


def identifiers(expression: str) -> set[str]:
    """The lower-case identifiers of an SQL expression, quoted literals and functions excepted."""
    found = {t for t in _TOKEN.findall(expression) if not t.startswith("'")}
    return found - SQL_FUNCTIONS


_MONTHLY = [f for f in FIELDS["monthly"] if f.code not in KEYS["monthly"]]
FLOW_FIELDS: tuple[str, ...] = tuple(f.code for f in _MONTHLY if not f.stock)
STOCK_FIELDS: tuple[str, ...] = tuple(f.code for f in _MONTHLY if f.stock)
PROGRESS_FIELDS: tuple[str, ...] = tuple(value_columns("progress"))
# Fields a report may leave out (v1's drug/consumables/depreciation expense, the v2 columns,
# campaign_optimized_processes): an indicator reading one says what stands in for it.
OPTIONAL_FIELDS: frozenset[str] = frozenset(
    f.code for kind in ("monthly", "progress") for f in FIELDS[kind] if not f.required)


@dataclass(frozen=True)
class Trailing:
    """A per hospital-month mean of a flow *expression* over the reported months of the last *months*."""

    column: str
    expression: str
    months: int


# The trailing means ``ind_month`` keeps (opsmon.indicators.aggregate). The risk rules read them too.
TRAILING: tuple[Trailing, ...] = (
    Trailing("total_expense_avg3", "total_expense", 3),  # v1 cash_months' denominator
    # cash_months v2: expense less depreciation (not paid in cash), depreciation 0 where not reported.
    Trailing("cash_expense_avg3", "total_expense - coalesce(depreciation_expense, 0)", 3),
    Trailing("medical_revenue_avg12", "medical_revenue", 12),  # insurance_receivable_days
    Trailing("drug_consumables_expense_avg12", "drug_expense + consumables_expense", 12),  # supplier_payable_days
)
TRAILING_COLUMNS: tuple[str, ...] = tuple(t.column for t in TRAILING)


def _trailing_flags() -> dict[str, Trailing]:
    """Optional flow → the trailing mean whose window its ``has_<flow>`` column of ``ind_month`` covers."""
    flags: dict[str, Trailing] = {}
    for t in TRAILING:
        for f in sorted(identifiers(t.expression) & OPTIONAL_FIELDS):
            if f in flags and flags[f].months != t.months:
                raise ValueError(f"{f} is read by trailing means of {flags[f].months} and {t.months} months: "
                                 "its has_ flag would be ambiguous")
            flags.setdefault(f, t)
    return flags


# ``has_<flow>`` columns of ind_month: 1 when the flow was reported in every reported month of the
# window of the trailing mean that reads it.
TRAILING_FLAGS: dict[str, Trailing] = _trailing_flags()
# Per hospital-month values the materialised aggregates add to the stocks.
POINT_EXTRAS: tuple[str, ...] = ("reported", "timely", "has_progress", *TRAILING_COLUMNS,
                                 *(f"has_{f}" for f in TRAILING_FLAGS))
POINT_FIELDS: tuple[str, ...] = STOCK_FIELDS + PROGRESS_FIELDS + POINT_EXTRAS
# How many months of the span the hospital reported (readable where flows are): the 12-month
# deficit counts judge only hospitals with all 12, as the deficit_12m risk rule does.
SPAN_MONTHS = "span_months"
HOSPITAL_ATTRIBUTES: tuple[str, ...] = ("tier", "category", "affiliation", "authority", "is_pilot",
                                        "is_budget_managed", "budget_authority")
# Display units: value × scale is shown with the unit (fractions → percentages).
UNIT_SCALE = {"%": 100.0}

SECONDARY_PLUS = "tier IN ('三级', '二级')"


def _flag(condition: str) -> str:
    return f"CASE WHEN {condition} THEN 1 ELSE 0 END"


@dataclass(frozen=True)
class Approximation:
    """What a hospital lacking optional fields of the official definition gets instead: 近似.

    *needs*: the optional fields the official definition reads. *numerator* /
    *denominator*: the v1 expressions standing in for the official ones where a
    hospital lacks any of them (None: the official expression is kept — it copes
    with the absence itself — and the value is only marked). *note*: the
    stand-in in words (docs/indicators.md, the UI).
    """

    needs: tuple[str, ...]
    numerator: str | None = None
    denominator: str | None = None
    note: str = ""


@dataclass(frozen=True)
class Indicator:
    """One entry of the catalogue."""

    id: str
    zh: str
    en: str
    group: Group
    kind: Kind
    basis: Basis
    numerator: str
    denominator: str | None = None
    unit: str = "%"
    direction: Direction = "monitor"
    factor: float = 1.0  # part of the definition (× 10 000 for "per 万元")
    population: str | None = None  # SQL condition over hospital attributes; None = every hospital
    span: str | None = None  # a fixed span overriding the query's (deficit counts: the last 12 months)
    decimals: int = 1
    source: str = ""
    note: str = ""  # e.g. how the monthly report approximates a 国考 indicator
    approximation: Approximation | None = None  # the v1 stand-in where optional fields are absent (近似)
    requires: tuple[str, ...] = ()  # optional fields without which a hospital has no value

    @property
    def optional_fields(self) -> tuple[str, ...]:
        """The optional fields whose presence decides how (or whether) a hospital's value is computed."""
        return (self.approximation.needs if self.approximation else ()) + self.requires

    def expressions(self) -> tuple[str, ...]:
        """Every SQL expression of the entry: official, stand-in, population."""
        parts = [self.numerator, self.denominator, self.population]
        if self.approximation:
            parts += [self.approximation.numerator, self.approximation.denominator]
        return tuple(p for p in parts if p)

    @property
    def scale(self) -> float:
        """Multiplier from the stored value to the displayed one (100 for percentages)."""
        return UNIT_SCALE.get(self.unit, 1.0)

    @property
    def is_ratio(self) -> bool:
        """True when the value is Σ numerator ÷ Σ denominator (ratios and ratio growth bases)."""
        return self.denominator is not None

    def label(self, language: str = "zh") -> str:
        """The indicator's name in *language* ('zh' or 'en')."""
        return self.zh if language == "zh" else self.en


_GUOKAO = "国考（国办发〔2019〕4号、国卫办医发〔2019〕23号）"
_FIN132 = "国卫财务函〔2024〕132号"
_JILIN19 = "吉卫联发〔2022〕19号"

CATALOGUE: tuple[Indicator, ...] = (
    # ── Operations-management programme: status as of the period ──────────────────
    Indicator("ops_platform_coverage_tertiary", "三级公立医院运营管理信息集成平台覆盖率",
              "Ops platform coverage, tertiary", "programme", "ratio", "status",
              _flag("ops_platform_status = 'in_use'"), "1", population="tier = '三级'", direction="up",
              source=_FIN132 + "：2025年底≥50%，2027年底100%"),
    Indicator("ops_platform_coverage_secondary", "二级公立医院运营管理信息集成平台覆盖率",
              "Ops platform coverage, secondary", "programme", "ratio", "status",
              _flag("ops_platform_status = 'in_use'"), "1", population="tier = '二级'", direction="up",
              source=_FIN132 + "：明显提升（省定目标）"),
    Indicator("ops_committee_share", "成立运营管理委员会医院占比", "Hospitals with an operations committee",
              "programme", "ratio", "status", _flag("ops_committee"), "1", population=SECONDARY_PLUS,
              direction="up"),
    Indicator("chief_accountant_share", "设立总会计师医院占比", "Tertiary hospitals with a chief accountant",
              "programme", "ratio", "status", _flag("chief_accountant"), "1", population="tier = '三级'",
              direction="up", source=_GUOKAO + " 三级 43"),
    Indicator("pilot_projects_total", "业财融合试点项目数", "Business-finance pilot projects",
              "programme", "count", "status", "pilot_projects_year", unit="个", decimals=0, direction="up",
              source=_JILIN19, note="本年数：取本年内最近一次进展报告"),
    Indicator("pilot_hospital_share", "开展业财融合试点医院占比", "Hospitals running a pilot project",
              "programme", "ratio", "status", _flag("pilot_projects_year >= 1"), "1", population=SECONDARY_PLUS,
              direction="up", source=_JILIN19 + "（每院每年至少1个）"),
    Indicator("process_target_share", "业务流程优化达标医院占比", "Hospitals meeting their process target",
              "programme", "ratio", "status",
              # The 2024–2025 campaign's target: 5 processes optimised since 2024-01 for pilot and
              # 国家 budget-managed hospitals, 2 otherwise (campaign_optimized_processes; where a report
              # lacks it, the cumulative optimized_processes stands in: 近似).
              _flag("coalesce(campaign_optimized_processes, optimized_processes) >= "
                    "CASE WHEN is_pilot OR budget_authority = '国家' THEN 5 ELSE 2 END"), "1",
              population=SECONDARY_PLUS, direction="up", source=_FIN132 + "：2024—2025年活动，2025年底100%",
              approximation=Approximation(("campaign_optimized_processes",),
                                          note="进展报告未填本轮活动以来优化流程数：以累计优化业务流程数近似")),
    Indicator("leaders_platform_share", "试点及国家预算管理医院平台应用率",
              "Ops platform in use, pilot and national budget-managed hospitals", "programme", "ratio", "status",
              _flag("ops_platform_status = 'in_use'"), "1", population="is_pilot OR budget_authority = '国家'",
              direction="up", source=_FIN132 + "：试点及国家预算管理医院率先完成，2025年底100%"),
    Indicator("caliber_mapping_share", "归集口径映射完成医院占比", "Hospitals with caliber mapping done",
              "programme", "ratio", "status", _flag("caliber_mapping = 'done'"), "1", direction="up"),
    Indicator("risk_register_share", "建立经济运行风险清单医院占比", "Hospitals with a risk register",
              "programme", "ratio", "status", _flag("risk_register"), "1", direction="up", source=_JILIN19),
    # ── Financial structure and efficiency ─────────────────────────────────────────
    Indicator("medical_service_revenue_share", "医疗服务收入（不含药品、耗材、检查检验收入）占医疗收入比例",
              "Medical service revenue share", "financial", "ratio", "flow",
              "medical_service_revenue", "medical_revenue", direction="up", source=_GUOKAO + " 三级 31 ▲ / 二级 19",
              approximation=Approximation(
                  ("medical_service_revenue",),
                  "medical_revenue - drug_revenue - consumables_revenue - exam_revenue - lab_revenue",
                  note="未报医疗服务收入：以医疗收入扣除药品、卫生材料、检查、化验收入近似")),
    Indicator("personnel_expense_share", "人员支出占业务支出比重", "Personnel expense share",
              "financial", "ratio", "flow", "personnel_expense", "business_expense + admin_expense",
              direction="up", source=_GUOKAO + " 三级 33 ▲ / 二级 16",
              note="业务支出以业务活动费用与单位管理费用之和计"),
    Indicator("energy_per_10k_revenue", "万元收入能耗支出", "Energy expense per 10 000 yuan revenue",
              "financial", "ratio", "flow", "energy_expense", "total_revenue", unit="元", factor=10_000.0,
              direction="down", decimals=2, source=_GUOKAO + " 三级 34 ▲ / 二级 17"),
    Indicator("medical_surplus_rate", "医疗盈余率", "Medical surplus rate", "financial", "ratio", "flow",
              "medical_activity_revenue - medical_activity_expense", "medical_activity_revenue",
              source=_GUOKAO + " 三级 35 ▲ / 二级 14",
              approximation=Approximation(
                  ("medical_activity_revenue", "medical_activity_expense"),
                  "medical_revenue + fiscal_subsidy_revenue - business_expense - admin_expense",
                  "medical_revenue + fiscal_subsidy_revenue",
                  note="未报医疗活动收入、费用：以（医疗收入＋财政拨款收入－业务活动费用－单位管理费用）"
                       "÷（医疗收入＋财政拨款收入）近似")),
    Indicator("surplus_rate", "收支结余率", "Surplus rate", "financial", "ratio", "flow",
              "total_revenue - total_expense", "total_revenue"),
    Indicator("debt_ratio", "资产负债率", "Debt ratio", "financial", "ratio", "stock",
              "total_liabilities", "total_assets", source=_GUOKAO + " 三级 36 ▲ / 二级 15"),
    Indicator("current_ratio", "流动比率", "Current ratio", "financial", "ratio", "stock",
              "current_assets", "current_liabilities", unit="", decimals=2),
    Indicator("long_term_loan_ratio", "长期借款占总资产比例", "Long-term loans to total assets",
              "financial", "ratio", "stock", "long_term_loans", "total_assets", direction="down"),
    Indicator("long_term_debt_ratio", "长期债务占总资产比例", "Long-term debt to total assets",
              "financial", "ratio", "stock", "long_term_loans + coalesce(long_term_payables, 0)", "total_assets",
              direction="down", source=_FIN132 + "（长期债务风险）",
              approximation=Approximation(("long_term_payables",),
                                          note="未报长期应付款：按0计（仅长期借款），值偏低")),
    Indicator("quick_ratio", "速动比率", "Quick ratio", "financial", "ratio", "stock",
              "current_assets - inventory", "current_liabilities", unit="", decimals=2, requires=("inventory",),
              note="仅统计报送库存物资的医院"),
    Indicator("insurance_receivable_days", "应收医保款周转天数", "Insurance receivable days", "financial", "ratio",
              "stock", "insurance_receivable", "medical_revenue_avg12 * 12 / 365", unit="天", decimals=0,
              direction="down", requires=("insurance_receivable",),
              note="期末应收医保款 ÷（近12个月医疗收入 ÷ 365）；不足12个月按已报月份月均×12；仅统计报送应收医保款的医院"),
    Indicator("supplier_payable_days", "应付药品耗材款周转天数", "Drug and consumables payable days", "financial",
              "ratio", "stock", "supplier_payable", "drug_consumables_expense_avg12 * 12 / 365", unit="天", decimals=0,
              direction="down", requires=("supplier_payable", "drug_expense", "consumables_expense"),
              source="集采货款30天内结清",
              note="期末应付药品耗材款 ÷（近12个月药品费＋卫生材料费 ÷ 365）；不足12个月按已报月份月均×12；"
                   "仅统计报送应付药品耗材款且各月报送药品费、卫生材料费的医院"),
    Indicator("cash_months", "货币资金可支付月数", "Months of cash", "financial", "ratio", "stock",
              "cash", "cash_expense_avg3", unit="月", decimals=1,
              note="期末货币资金 ÷ 近3个月月均（费用合计－固定资产折旧费）（按已报月份平均）",
              approximation=Approximation(("depreciation_expense",),
                                          note="未报固定资产折旧费：折旧按0计（费用合计），值偏低")),
    Indicator("drug_revenue_share", "药品收入占比（不含中药饮片）", "Drug revenue share (excl. herbal pieces)",
              "financial", "ratio", "flow", "drug_revenue - herbal_pieces_revenue", "medical_revenue",
              direction="down",
              approximation=Approximation(("herbal_pieces_revenue",), "drug_revenue",
                                          note="未报中药饮片收入：以药品收入（含中药饮片）近似")),
    Indicator("consumables_revenue_share", "卫生材料收入占比", "Consumables revenue share", "financial",
              "ratio", "flow", "consumables_revenue", "medical_revenue", direction="down"),
    Indicator("consumables_per_100_revenue", "百元医疗收入（不含药品收入）中消耗的卫生材料",
              "Consumables used per 100 yuan medical revenue (excl. drugs)", "financial", "ratio", "flow",
              "consumables_expense", "medical_revenue - drug_revenue", unit="元", factor=100.0, decimals=2,
              direction="down", requires=("consumables_expense",), source=_GUOKAO + " 三级（控制指标）",
              note="仅统计各月均报送卫生材料费的医院"),
    Indicator("outpatient_revenue_share", "门诊收入占医疗收入比例", "Outpatient revenue share", "financial",
              "ratio", "flow", "outpatient_revenue", "medical_revenue", source=_GUOKAO + " 三级 27"),
    Indicator("inpatient_revenue_share", "住院收入占医疗收入比例", "Inpatient revenue share", "financial",
              "ratio", "flow", "inpatient_revenue", "medical_revenue", source=_GUOKAO + " 三级 29"),
    Indicator("fiscal_subsidy_share", "财政拨款收入占比", "Fiscal subsidy share", "financial", "ratio", "flow",
              "fiscal_subsidy_revenue", "total_revenue"),
    Indicator("medical_revenue_growth", "医疗收入增幅", "Medical revenue growth", "financial", "growth", "flow",
              "medical_revenue", source=_GUOKAO + " 三级 37 / 二级 20", note="同比，仅比较两年均报送的月份"),
    Indicator("avg_outpatient_cost", "门急诊次均费用", "Revenue per outpatient visit", "financial", "ratio",
              "flow", "outpatient_revenue", "outpatient_visits", unit="元", decimals=2, direction="none"),
    Indicator("avg_outpatient_cost_growth", "门急诊次均费用增幅", "Outpatient cost per visit growth",
              "financial", "growth", "flow", "outpatient_revenue", "outpatient_visits", direction="down",
              source=_GUOKAO + " 三级 38 ▲ / 二级 21", note="同比，仅比较两年均报送的月份"),
    Indicator("avg_inpatient_cost", "出院患者次均费用", "Cost per discharged patient", "financial", "ratio", "flow",
              "discharged_patient_revenue", "discharges", unit="元", decimals=2, direction="none",
              approximation=Approximation(("discharged_patient_revenue",), "inpatient_revenue",
                                          note="未报出院患者住院费用：以住院收入近似")),
    Indicator("avg_inpatient_cost_growth", "住院次均费用增幅", "Cost per discharged patient growth",
              "financial", "growth", "flow", "discharged_patient_revenue", "discharges", direction="down",
              source=_GUOKAO + " 三级 40 ▲ / 二级 21", note="同比，仅比较两年均报送的月份",
              approximation=Approximation(("discharged_patient_revenue",), "inpatient_revenue",
                                          note="两年匹配月份中未全部报送出院患者住院费用：以住院收入近似")),
    Indicator("alos", "平均住院日", "Average length of stay", "financial", "ratio", "flow",
              "inpatient_bed_days", "discharges", unit="日", decimals=1, direction="down"),
    Indicator("nurse_doctor_ratio", "医护比（每名医师对应护士数）", "Nurses per doctor", "financial", "ratio",
              "stock", "nurses", "doctors", unit="", decimals=2, direction="target",
              note="吉林市目标≥2（医护比1:2；吉市政办发〔2022〕26号，目标表中限于吉林市）", source=_GUOKAO + " 三级 46"),
    Indicator("salary_arrears_total", "拖欠职工薪酬总额", "Salary arrears", "financial", "sum", "stock",
              "salary_arrears", unit="元", decimals=0, direction="down"),
    # ── Counts and data completeness ───────────────────────────────────────────────
    Indicator("hospitals_expected", "应报医院数", "Hospitals expected", "counts", "count", "roster", "1",
              unit="家", decimals=0, direction="none"),
    Indicator("hospitals_reporting", "已报医院数", "Hospitals reporting", "counts", "count", "roster",
              "reported", unit="家", decimals=0, direction="none"),
    Indicator("reporting_rate", "报送率", "Reporting rate", "counts", "ratio", "roster", "reported", "1",
              direction="up"),
    Indicator("timely_rate", "及时报送率", "On-time reporting rate", "counts", "ratio", "roster", "timely", "1",
              direction="up", note="首个被接受的版本在截止日（默认次月10日）前送达"),
    # v2: over the last 12 months (span 'year', the trailing 12), so the Spring-Festival months do not
    # make a hospital "in deficit" every January; the months the hospital reported in that window count.
    Indicator("deficit_hospitals", "收不抵支医院数", "Hospitals in deficit (12 months)", "counts", "count", "roster",
              _flag("reported = 1 AND span_months = 12 AND total_revenue < total_expense"), unit="家", span="year",
              decimals=0, direction="down", source=_FIN132,
              note="近12个月（12个月均已报送）收入合计小于费用合计"),
    Indicator("deficit_hospital_share", "收不抵支医院占比", "Share of hospitals in deficit (12 months)", "counts",
              "ratio", "roster", _flag("reported = 1 AND span_months = 12 AND total_revenue < total_expense"),
              _flag("reported = 1 AND span_months = 12"), span="year", direction="down", source=_FIN132,
              note="近12个月收入合计小于费用合计的医院 ÷ 近12个月均已报送的已报医院（不足12个月的医院不作判断）"),
    Indicator("salary_arrears_hospitals", "拖欠薪酬医院数", "Hospitals with salary arrears", "counts", "count",
              "roster", _flag("salary_arrears > 0"), unit="家", decimals=0, direction="down", source=_FIN132),
)

BY_ID: dict[str, Indicator] = {i.id: i for i in CATALOGUE}
IDS: tuple[str, ...] = tuple(BY_ID)

# Expressions are SQL fragments: only these keywords (upper case), literals, numbers and operators.
SQL_KEYWORDS = frozenset({"CASE", "WHEN", "THEN", "ELSE", "END", "AND", "OR", "NOT", "IN", "IS", "NULL", "TRUE",
                          "FALSE"})
_WORD = re.compile(r"'[^']*'|[A-Za-z_][A-Za-z0-9_]*")
_SAFE = re.compile(r"^(?:'[^';]*'|[A-Za-z0-9_ .,+\-*/()<>=])*$")


def qualify(expression: str, resolve: Callable[[str], str]) -> str:
    """*expression* with every field code replaced by ``resolve(code)`` (literals and functions kept)."""
    def replace(match: re.Match) -> str:
        token = match.group(0)
        return token if token.startswith("'") or token in SQL_FUNCTIONS else resolve(token)

    return _TOKEN.sub(replace, expression)


def _check_expression(owner: str, expression: str) -> None:
    """Refuse anything but the small SQL expression language of the catalogue."""
    words = {w for w in _WORD.findall(expression) if not w.startswith("'")}
    odd = {w for w in words if not w.islower() and w not in SQL_KEYWORDS}
    if not _SAFE.match(expression) or "--" in expression or odd:
        raise ValueError(f"{owner}: {expression!r} is not a plain expression over field codes")


def get(indicator_id: str) -> Indicator:
    """The catalogue entry *indicator_id*; ``KeyError`` naming the known ids otherwise."""
    try:
        return BY_ID[indicator_id]
    except KeyError:
        raise KeyError(f"unknown indicator {indicator_id!r}; known: {', '.join(IDS)}") from None


def check(entries: tuple[Indicator, ...] = CATALOGUE) -> None:
    """Refuse a malformed catalogue: unknown fields, a basis that cannot read them, duplicates."""
    seen: set[str] = set()
    for ind in entries:
        if ind.id in seen or not re.fullmatch(r"[a-z][a-z0-9_]*", ind.id):
            raise ValueError(f"indicator id {ind.id!r} is duplicated or malformed")
        seen.add(ind.id)
        if (ind.kind == "ratio") != (ind.denominator is not None) and ind.kind != "growth":
            raise ValueError(f"{ind.id}: a ratio needs a denominator, and only a ratio (or growth) has one")
        readable = {
            "flow": set(FLOW_FIELDS) | {SPAN_MONTHS} | set(HOSPITAL_ATTRIBUTES),
            "stock": set(STOCK_FIELDS) | set(TRAILING_COLUMNS) | set(HOSPITAL_ATTRIBUTES),
            "status": set(PROGRESS_FIELDS) | {"has_progress"} | set(HOSPITAL_ATTRIBUTES),
            "roster": set(POINT_FIELDS) | set(FLOW_FIELDS) | {SPAN_MONTHS} | set(HOSPITAL_ATTRIBUTES),
        }[ind.basis]
        for expression in ind.expressions():
            _check_expression(ind.id, expression)
        approx = ind.approximation
        for expression in (ind.numerator, ind.denominator or "",
                           *((approx.numerator or "", approx.denominator or "") if approx else ())):
            unknown = identifiers(expression) - readable
            if unknown:
                raise ValueError(f"{ind.id}: {sorted(unknown)} cannot be read by basis {ind.basis!r}")
        if approx is not None and not approx.needs:
            raise ValueError(f"{ind.id}: an approximation names the optional fields it stands in for")
        if approx is not None and (approx.denominator is not None) and ind.denominator is None:
            raise ValueError(f"{ind.id}: an approximation's denominator needs an official one")
        # Where "has the field" is known: flows over a span, month-end stocks, flows of a trailing
        # mean (stock basis), status rows. A roster has no optional part.
        checkable = {
            "flow": set(FLOW_FIELDS),
            "stock": set(STOCK_FIELDS) | set(TRAILING_FLAGS),
            "status": set(PROGRESS_FIELDS) if not ind.requires else set(),
            "roster": set(),
        }[ind.basis]
        odd = set(ind.optional_fields) - (checkable & OPTIONAL_FIELDS)
        if odd:
            raise ValueError(f"{ind.id}: {sorted(odd)} are not optional fields whose presence basis "
                             f"{ind.basis!r} can tell")
        if ind.population and identifiers(ind.population) - set(HOSPITAL_ATTRIBUTES):
            raise ValueError(f"{ind.id}: population may only use hospital attributes")
        if ind.kind == "growth" and ind.basis != "flow":
            raise ValueError(f"{ind.id}: growth compares flows only")
        if ind.span is not None and ind.span not in ("month", "quarter", "ytd", "year"):
            raise ValueError(f"{ind.id}: unknown fixed span {ind.span!r}")


def check_trailing(means: tuple[Trailing, ...] = TRAILING) -> None:
    """Refuse a trailing mean that is not a plain expression over flows, or a duplicated column."""
    columns = [t.column for t in means]
    if len(set(columns)) != len(columns) or set(columns) & (set(STOCK_FIELDS) | set(FLOW_FIELDS)):
        raise ValueError(f"trailing mean columns must be new and unique: {columns}")
    for t in means:
        _check_expression(t.column, t.expression)
        if identifiers(t.expression) - set(FLOW_FIELDS) or not 1 <= t.months <= 12:
            raise ValueError(f"{t.column}: a mean of flows over 1 to 12 months, not {t.expression!r} "
                             f"over {t.months}")


check_trailing()
check()

# Flows some growth indicator compares with a year earlier: their matched sums are materialised
# (opsmon.indicators.aggregate), and only theirs.
GROWTH_FLOWS: tuple[str, ...] = tuple(sorted({
    f for ind in CATALOGUE if ind.kind == "growth"
    for f in identifiers(" ".join(ind.expressions())) if f in FLOW_FIELDS}))
# Optional flows whose presence over a span decides a flow entry's value: ``ind_span`` counts the
# months each was reported in (``k_<flow>``; for growth entries ``gk_<flow>``: matched months
# reported in both years). Only these are counted.
SPAN_FLAGS: tuple[str, ...] = tuple(sorted({
    f for ind in CATALOGUE if ind.basis == "flow" and ind.kind != "growth" for f in ind.optional_fields}))
GROWTH_FLAGS: tuple[str, ...] = tuple(sorted({
    f for ind in CATALOGUE if ind.kind == "growth" for f in ind.optional_fields}))

_TIER_POPULATION = re.compile(r"tier\s*(?:=\s*'([^']*)'|IN\s*\(((?:\s*'[^']*'\s*,?)+)\))")


def population_tiers(ind: Indicator) -> frozenset[str] | None:
    """The tiers *ind*'s population is limited to, when its population is only that; else None.

    ``tier = '三级'`` → {'三级'}; ``tier IN ('三级', '二级')`` → both; anything else → None.
    """
    match = _TIER_POPULATION.fullmatch((ind.population or "").strip())
    if not match:
        return None
    return frozenset([match.group(1)] if match.group(1) is not None else re.findall(r"'([^']*)'", match.group(2)))
