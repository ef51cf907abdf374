"""The submission formats of ``spec/submission-format.md``, as data.

Each kind of file is a list of :class:`Field` — code, Chinese label, type, whether
required, unit — in the order of the template. Parsing, validation, the
templates, storage and the docs all read this one table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["monthly", "progress", "registry"]
KINDS: tuple[Kind, ...] = ("monthly", "progress", "registry")

FieldType = Literal["uscc", "period", "money", "count", "bool", "enum", "text", "adcode"]

YES_NO = {"是": True, "否": False}
# Spellings the spec accepts for 是/否, compared after NFKC folding and lower-casing.
BOOL_TOKENS = {
    "是": True, "否": False, "y": True, "n": False, "yes": True, "no": False,
    "1": True, "0": False, "true": True, "false": False, "√": True, "×": False,
}
# Cells that mean "missing" (never zero).
MISSING_TOKENS = frozenset({"", "-", "—", "——", "–", "/", "无"})

PLATFORM_STATUS = {"未启动": "not_started", "建设中": "building", "已建成": "built", "已应用": "in_use"}
CALIBER_MAPPING = {"未开始": "not_started", "进行中": "in_progress", "已完成": "done"}
HOSPITAL_LEVELS = ("三级甲等", "三级乙等", "三级", "二级甲等", "二级乙等", "二级", "一级", "未定级")
CATEGORIES = ("综合医院", "中医医院", "中西医结合医院", "民族医医院", "专科医院", "妇幼保健院")
# v2 adds 中央属 and 委属委管 (e.g. university hospitals under a national ministry).
AFFILIATIONS = ("省属", "市属", "县属", "中央属", "委属委管")
# v2: 国家/省 budget-managed hospital or neither; absent → derived from is_budget_managed (是 → 省).
BUDGET_AUTHORITIES = ("国家", "省", "无")
AUTHORITIES = ("卫生健康委", "中医药局")


@dataclass(frozen=True)
class Field:
    """One column of a submission file."""

    code: str
    label: str
    type: FieldType
    required: bool = True
    unit: str | None = None
    stock: bool = False  # month-end balance (期末数) rather than the month's flow (本月数)
    # For enums: accepted cell text → stored value (Chinese label → code, or label → label).
    values: dict[str, str] = field(default_factory=dict)
    en: str = ""

    @property
    def header(self) -> str:
        """The template's header cell: label with its unit, e.g. ``收入合计（元）``."""
        return f"{self.label}（{self.unit}）" if self.unit else self.label


def _money(code: str, label: str, en: str, *, required: bool = True, stock: bool = False) -> Field:
    return Field(code, label, "money", required=required, unit="元", stock=stock, en=en)


def _count(code: str, label: str, en: str, unit: str, *, stock: bool = False) -> Field:
    return Field(code, label, "count", unit=unit, stock=stock, en=en)


HOSPITAL_CODE = Field("hospital_code", "机构代码", "uscc", en="Hospital code (USCC)")
PERIOD = Field("period", "报告期", "period", en="Reporting period")

MONTHLY: tuple[Field, ...] = (
    HOSPITAL_CODE,
    PERIOD,
    _money("total_revenue", "收入合计", "Total revenue"),
    _money("medical_revenue", "医疗收入", "Medical revenue"),
    _money("outpatient_revenue", "门急诊收入", "Outpatient revenue"),
    _money("inpatient_revenue", "住院收入", "Inpatient revenue"),
    _money("drug_revenue", "药品收入", "Drug revenue"),
    _money("consumables_revenue", "卫生材料收入", "Consumables revenue"),
    _money("exam_revenue", "检查收入", "Examination revenue"),
    _money("lab_revenue", "化验收入", "Laboratory revenue"),
    _money("fiscal_subsidy_revenue", "财政拨款收入", "Fiscal subsidy revenue"),
    _money("other_revenue", "其他收入", "Other revenue"),
    _money("total_expense", "费用合计", "Total expense"),
    _money("business_expense", "业务活动费用", "Business activity expense"),
    _money("admin_expense", "单位管理费用", "Administrative expense"),
    _money("other_expense", "其他费用", "Other expense"),
    _money("personnel_expense", "人员经费", "Personnel expense"),
    _money("drug_expense", "药品费", "Drug expense", required=False),
    _money("consumables_expense", "卫生材料费", "Consumables expense", required=False),
    _money("depreciation_expense", "固定资产折旧费", "Depreciation expense", required=False),
    _money("energy_expense", "能源费用（水电气热）", "Energy expense"),
    _money("total_assets", "资产总额", "Total assets", stock=True),
    _money("current_assets", "流动资产", "Current assets", stock=True),
    _money("cash", "货币资金", "Cash", stock=True),
    _money("total_liabilities", "负债总额", "Total liabilities", stock=True),
    _money("current_liabilities", "流动负债", "Current liabilities", stock=True),
    _money("long_term_loans", "长期借款", "Long-term loans", stock=True),
    _money("construction_debt", "基本建设借款余额", "Construction debt", stock=True),
    _money("salary_arrears", "拖欠职工薪酬", "Salary arrears", stock=True),
    _count("outpatient_visits", "门急诊人次", "Outpatient visits", "人次"),
    _count("discharges", "出院人次", "Discharges", "人次"),
    _count("inpatient_bed_days", "出院者占用总床日数", "Inpatient bed-days", "床日"),
    _count("open_beds", "实际开放床位数", "Open beds", "张", stock=True),
    _count("doctors", "执业（助理）医师数", "Doctors", "人", stock=True),
    _count("nurses", "注册护士数", "Nurses", "人", stock=True),
    # v2 optional columns: present → the official formula; absent → the v1 approximation (近似).
    _money("medical_service_revenue", "医疗服务收入（挂号、床位、诊察、治疗、手术、药事服务、护理等，不含药品、耗材、检查、化验收入）",
           "Medical service revenue", required=False),
    _money("medical_activity_revenue", "医疗活动收入（医疗活动收入费用明细表）", "Medical activity revenue",
           required=False),
    _money("medical_activity_expense", "医疗活动费用（医疗活动收入费用明细表）", "Medical activity expense",
           required=False),
    _money("discharged_patient_revenue", "出院患者住院费用", "Discharged patients' inpatient revenue", required=False),
    _money("herbal_pieces_revenue", "中药饮片收入", "Herbal pieces revenue", required=False),
    _money("insurance_receivable", "应收医疗款—医保", "Insurance receivable", required=False, stock=True),
    _money("supplier_payable", "应付账款—药品及卫生材料", "Drug and consumables payable", required=False, stock=True),
    _money("short_term_loans", "短期借款", "Short-term loans", required=False, stock=True),
    _money("long_term_payables", "长期应付款（含融资租赁）", "Long-term payables", required=False, stock=True),
    _money("inventory", "库存物资", "Inventory", required=False, stock=True),
)

# The v2 optional monthly columns (a v1 file lacks them and stays valid).
MONTHLY_V2: tuple[str, ...] = ("medical_service_revenue", "medical_activity_revenue", "medical_activity_expense",
                               "discharged_patient_revenue", "herbal_pieces_revenue", "insurance_receivable",
                               "supplier_payable", "short_term_loans", "long_term_payables", "inventory")

PROGRESS: tuple[Field, ...] = (
    HOSPITAL_CODE,
    PERIOD,
    Field("ops_committee", "运营管理委员会", "bool", en="Operations committee"),
    Field("ops_department", "运营管理部门", "bool", en="Operations department"),
    Field("chief_accountant", "总会计师", "bool", en="Chief accountant"),
    Field("ops_platform_status", "运营管理信息集成平台", "enum", values=PLATFORM_STATUS,
          en="Operations information platform"),
    Field("pilot_projects_year", "本年业财融合试点项目数", "count", unit="个", en="Pilot projects this year"),
    Field("optimized_processes", "累计优化业务流程数", "count", unit="个", en="Optimised processes (cumulative)"),
    Field("caliber_mapping", "医疗服务项目归集口径映射", "enum", values=CALIBER_MAPPING,
          en="Service-item caliber mapping"),
    Field("risk_register", "经济运行风险清单", "bool", en="Economic risk register"),
    Field("internal_control_review", "内部控制评价", "bool", en="Internal control review"),
    # v2: processes optimised since 2024-01 (the 2024–2025 campaign); absent → optimized_processes, 近似.
    Field("campaign_optimized_processes", "本轮活动以来优化业务流程数（2024年1月起）", "count", required=False, unit="个",
          en="Processes optimised since 2024-01"),
)

REGISTRY: tuple[Field, ...] = (
    HOSPITAL_CODE,
    Field("name", "机构名称", "text", en="Name"),
    Field("adcode", "所在县区代码", "adcode", en="County adcode"),
    Field("level", "医院等级", "enum", values={v: v for v in HOSPITAL_LEVELS}, en="Grade"),
    Field("category", "机构类别", "enum", values={v: v for v in CATEGORIES}, en="Category"),
    Field("affiliation", "隶属关系", "enum", values={v: v for v in AFFILIATIONS}, en="Affiliation"),
    Field("authority", "主管部门", "enum", values={v: v for v in AUTHORITIES}, en="Authority"),
    Field("is_pilot", "高质量发展试点医院", "bool", en="High-quality development pilot"),
    Field("is_budget_managed", "预算管理医院", "bool", en="Budget-managed hospital"),
    Field("alliance_lead_code", "医联体牵头医院代码", "uscc", required=False, en="Alliance lead hospital code"),
    Field("budget_authority", "预算管理级别", "enum", required=False, values={v: v for v in BUDGET_AUTHORITIES},
          en="Budget management level"),
)

FIELDS: dict[Kind, tuple[Field, ...]] = {"monthly": MONTHLY, "progress": PROGRESS, "registry": REGISTRY}

# Columns whose presence in a header identifies the kind of a file.
KIND_MARKERS: dict[Kind, tuple[str, ...]] = {
    "monthly": ("total_revenue", "total_expense"),
    "progress": ("ops_platform_status", "ops_committee"),
    "registry": ("name", "adcode"),
}

# Columns that identify a row: a (hospital, period) for reports, a hospital for the registry.
KEYS: dict[Kind, tuple[str, ...]] = {
    "monthly": ("hospital_code", "period"),
    "progress": ("hospital_code", "period"),
    "registry": ("hospital_code",),
}


def value_columns(kind: Kind) -> list[str]:
    """The stored value columns of *kind*, without the key columns."""
    return [f.code for f in FIELDS[kind] if f.code not in KEYS[kind]]


def by_code(kind: Kind) -> dict[str, Field]:
    """The fields of *kind* by code."""
    return {f.code: f for f in FIELDS[kind]}
