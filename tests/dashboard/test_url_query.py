"""URL state, number formats and the strings table: plain functions, no database."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from urllib.parse import parse_qs

import pandas as pd
import pytest

from opsmon.dashboard import components
from opsmon.dashboard import format as fmt
from opsmon.dashboard import url_query
from opsmon.dashboard.strings import STRINGS, t, using_language
from opsmon.indicators import get

DASHBOARD = Path(__file__).resolve().parents[2] / "opsmon" / "dashboard"


def test_search_round_trips_through_the_parsers():
    params = {"period": "2026-10", "indicator": "debt_ratio", "span": "ytd", "tier": ["三级", "二级"],
              "pilot": True, "region": "220100", "lang": "en"}
    query = {k: v[0] for k, v in parse_qs(url_query.search(params)[1:]).items()}

    assert url_query.period(query["period"], ["2026-10", "2026-09"]) == "2026-10"
    assert url_query.indicator(query["indicator"], "surplus_rate") == "debt_ratio"
    assert url_query.span(query["span"]) == "ytd"
    assert url_query.language(query["lang"]) == "en"
    assert url_query.filters(query) == {"tier": ["三级", "二级"], "pilot": True}
    assert url_query.api_filters(url_query.filters(query)) == {"tier": ["三级", "二级"], "is_pilot": True}


def test_a_table_of_hospital_links_is_each_hospitals_link():
    codes = pd.Series(["12220102412345670G", "1222010213UJDU4T6K"], index=[7, 3])
    for lang in ("zh", "en"):
        with using_language(lang):
            for period in ("2026-10", None):
                links = components.hospital_hrefs(codes, period)
                assert links.to_dict() == {i: components.hospital_href(code, period) for i, code in codes.items()}
    with using_language("en"):
        assert components.hospital_hrefs(codes, "2026-10")[7] == "/hospital/12220102412345670G?period=2026-10&lang=en"


def test_invalid_values_fall_back_instead_of_failing():
    assert url_query.period("1999-01", ["2026-10", "2026-09"]) == "2026-10"
    assert url_query.period(None, []) is None
    assert url_query.indicator("DROP TABLE", "surplus_rate") == "surplus_rate"
    assert url_query.span("decade") == "month"
    assert url_query.filters({"tier": "四级,三级", "category": "x", "pilot": "maybe"}) == {"tier": ["三级"]}
    assert url_query.language(["en", "zh"]) == "en" and url_query.language("fr") == "zh"


def test_search_leaves_out_defaults_and_chinese_is_kept_readable():
    assert url_query.search({"lang": "zh", "region": None, "tier": []}) == ""
    assert url_query.href("/rankings", tier=["三级"]) == "/rankings?tier=%E4%B8%89%E7%BA%A7"
    with using_language("en"):
        assert url_query.href("/rankings", period="2026-10") == "/rankings?period=2026-10&lang=en"


@pytest.mark.parametrize(("value", "zh", "en"), [
    (5_709_662, "571.0 万元", "¥5.71 m"),
    (1.23e9, "12.30 亿元", "¥1.23 bn"),
    (812, "812 元", "¥812"),
    (None, "—", "—"),
])
def test_money_for_chinese_readers(value, zh, en):
    assert fmt.money(value) == zh
    with using_language("en"):
        assert fmt.money(value) == en


def test_indicator_values_follow_their_units():
    assert fmt.indicator_value(get("surplus_rate"), 0.03568) == "3.6%"
    assert fmt.indicator_value(get("salary_arrears_total"), 5_709_662) == "571.0 万元"
    assert fmt.indicator_value(get("avg_outpatient_cost"), 318.128) == "318.13 元"
    assert fmt.indicator_value(get("deficit_hospitals"), 39.0) == "39"
    assert fmt.period_label("2026-03") == "2026年3月"
    with using_language("en"):
        assert fmt.indicator_value(get("cash_months"), 3.14) == "3.1 months"
        assert fmt.period_label("2026-03") == "Mar 2026"


def test_strings_table_has_no_duplicate_keys_and_both_languages():
    tree = ast.parse((DASHBOARD / "strings.py").read_text(encoding="utf-8"))
    table = next(n.value for n in ast.walk(tree) if isinstance(n, ast.AnnAssign) and n.target.id == "STRINGS")
    keys = [k.value for k in table.keys]
    assert sorted({k for k in keys if keys.count(k) > 1}) == []
    assert all(zh.strip() and en.strip() for zh, en in STRINGS.values())


def test_every_label_the_pages_ask_for_exists():
    used = set()
    for path in [*DASHBOARD.glob("*.py"), *(DASHBOARD / "pages").glob("*.py")]:
        used |= set(re.findall(r'\bt\(\s*"([a-z_][\w.]*)"', path.read_text(encoding="utf-8")))
    assert sorted(used - set(STRINGS)) == []
    assert t("nav.rankings", "en") == "Rankings" and t("nav.rankings") == "排名"
