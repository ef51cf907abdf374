"""A paged grid's blocks: the rows AG Grid's infinite row model asks for, searched, filtered and sorted on the server."""

from __future__ import annotations

import math

import pandas as pd

from opsmon.dashboard import paged_grid

HOSPITALS = pd.DataFrame({
    "code": ["A", "B", "C", "D", "E"],
    "name": ["长春市中心医院", "吉林市人民医院", "长春中医院", "延边医院", "通化市人民医院"],
    "value": [0.12, float("nan"), -0.05, 0.30, 0.12],
    "tier": ["三级", "二级", "三级", None, "二级"],
})


def block(request: dict | None = None, **kwargs) -> dict:
    return paged_grid.rows(HOSPITALS, {"startRow": 0, "endRow": 100, **(request or {})}, **kwargs)


def codes(response: dict) -> list[str]:
    return [r["code"] for r in response["rowData"]]


def test_a_block_is_the_rows_from_start_to_end_with_the_count_of_all():
    got = paged_grid.rows(HOSPITALS, {"startRow": 1, "endRow": 3})
    assert codes(got) == ["B", "C"] and got["rowCount"] == 5
    assert paged_grid.rows(HOSPITALS, {"startRow": 4, "endRow": 104})["rowData"][0]["code"] == "E"


def test_missing_numbers_are_sent_as_null():
    row = paged_grid.rows(HOSPITALS, {"startRow": 1, "endRow": 2})["rowData"][0]
    assert row["value"] is None
    assert all(not (isinstance(v, float) and math.isnan(v)) for r in block()["rowData"] for v in r.values())


def test_the_search_is_a_case_blind_substring_of_the_search_fields():
    assert codes(block(search="长春")) == ["A", "C"]
    assert codes(block(search=" 人民医院 ")) == ["B", "E"]
    assert codes(block(search="e", search_fields=("name", "code"))) == ["E"]
    assert block(search="上海")["rowCount"] == 0


def test_the_sort_model_orders_the_rows_missing_values_last():
    assert codes(block({"sortModel": [{"colId": "value", "sort": "asc"}]})) == ["C", "A", "E", "D", "B"]
    assert codes(block({"sortModel": [{"colId": "value", "sort": "desc"}]})) == ["D", "A", "E", "C", "B"]
    # Two keys; an unknown column is ignored rather than failing the block.
    assert codes(block({"sortModel": [{"colId": "value", "sort": "desc"}, {"colId": "code", "sort": "desc"},
                                      {"colId": "nonexistent", "sort": "asc"}]})) == ["D", "E", "A", "C", "B"]


def test_number_filters():
    def number(kind: str, value, to=None) -> list[str]:
        return codes(block({"filterModel": {"value": {"filterType": "number", "type": kind, "filter": value,
                                                      "filterTo": to}}}))

    assert number("greaterThan", 0.1) == ["A", "D", "E"]
    assert number("lessThanOrEqual", 0.12) == ["A", "C", "E"]
    assert number("equals", 0.3) == ["D"]
    assert number("inRange", 0, 0.2) == ["A", "E"]
    assert number("notEqual", 0.12) == ["C", "D"]  # a missing value equals nothing, nor differs from it


def test_text_filters_and_blanks():
    def text(field: str, kind: str, value=None) -> list[str]:
        return codes(block({"filterModel": {field: {"filterType": "text", "type": kind, "filter": value}}}))

    assert text("name", "contains", "人民") == ["B", "E"]
    assert text("name", "startsWith", "长春") == ["A", "C"]
    assert text("name", "endsWith", "中医院") == ["C"]
    assert text("tier", "equals", "三级") == ["A", "C"]
    assert text("name", "notContains", "医院") == []
    assert text("tier", "blank") == ["D"]
    assert text("tier", "notBlank") == ["A", "B", "C", "E"]


def test_two_conditions_joined_by_and_or_or():
    def joined(operator: str) -> list[str]:
        return codes(block({"filterModel": {"value": {"filterType": "number", "operator": operator, "conditions": [
            {"filterType": "number", "type": "lessThan", "filter": 0},
            {"filterType": "number", "type": "greaterThan", "filter": 0.2}]}}}))

    assert joined("OR") == ["C", "D"]
    assert joined("AND") == []


def test_filters_search_and_sort_combine_before_the_block_is_cut():
    got = paged_grid.rows(HOSPITALS, {"startRow": 0, "endRow": 1, "sortModel": [{"colId": "value", "sort": "asc"}],
                                      "filterModel": {"tier": {"filterType": "text", "type": "equals",
                                                               "filter": "三级"}}}, search="长春")
    assert codes(got) == ["C"] and got["rowCount"] == 2


def test_finish_makes_columns_for_the_block_only_and_fields_choose_what_is_sent():
    seen = []

    def finish(rows: pd.DataFrame) -> pd.DataFrame:
        seen.append(list(rows["code"]))
        return rows.assign(label=rows["name"] + "（" + rows["code"] + "）")

    got = paged_grid.rows(HOSPITALS, {"startRow": 3, "endRow": 5}, finish=finish, fields=["code", "label"])
    assert seen == [["D", "E"]]
    assert got["rowData"] == [{"code": "D", "label": "延边医院（D）"}, {"code": "E", "label": "通化市人民医院（E）"}]


def test_an_unknown_filter_narrows_nothing():
    got = block({"filterModel": {"value": {"filterType": "date", "type": "equals", "dateFrom": "2025-01-01"},
                                 "nonexistent": {"filterType": "text", "type": "contains", "filter": "x"}}})
    assert got["rowCount"] == 5
