"""Every UI label, Chinese and English side by side. Layouts never hold literals."""

from __future__ import annotations

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"

STRINGS: dict[str, tuple[str, str]] = {
    "app.title": ("公立医院经济运行监测", "Public Hospital Economic Operations Monitor"),
    "app.subtitle": ("公立医疗机构经济管理年", "Public Medical Institutions Economic Management Year"),
    "nav.overview": ("总览", "Overview"),
    "data.as_of": ("数据截至", "Data as of"),
    "data.none": ("暂无数据", "No data yet"),
    "data.none_hint": (
        "本期暂无数据：请先导入机构名录和月度快报（opsmon ingest），或运行 opsmon demo。",
        "No data for this period yet: load the registry and monthly reports (opsmon ingest), or run opsmon demo.",
    ),
    "overview.period": ("报告期", "Period"),
    "overview.map_title": ("各市（州）医院分布与报送情况", "Hospitals and reporting by prefecture"),
    "overview.table_title": ("分地区汇总", "By region"),
    "overview.color_by": ("地图着色", "Colour map by"),
    "overview.kpi.hospitals": ("应报医院数", "Hospitals expected"),
    "overview.kpi.reporting": ("已报医院数", "Hospitals reporting"),
    "overview.kpi.rate": ("报送率", "Reporting rate"),
    "overview.kpi.tertiary": ("三级医院", "Tertiary hospitals"),
    "region.direct": ("省直管", "Province-administered"),
    "col.name": ("地区", "Region"),
    "col.code": ("区划代码", "Adcode"),
    "col.hospitals_expected": ("应报医院数", "Hospitals expected"),
    "col.tertiary": ("三级", "Tertiary"),
    "col.secondary": ("二级", "Secondary"),
    "col.hospitals_reporting": ("已报医院数", "Hospitals reporting"),
    "col.reporting_rate": ("报送率", "Reporting rate"),
    "unit.hospitals": ("家", "hospitals"),
    "error.database": (
        "数据库暂时无法连接，请稍后刷新页面。",
        "The database is temporarily unavailable; please refresh in a moment.",
    ),
}


def t(key: str, lang: str = DEFAULT_LANGUAGE) -> str:
    """The label *key* in *lang* ('zh' or 'en'); a missing key is a programming error."""
    zh, en = STRINGS[key]
    return en if lang == "en" else zh
