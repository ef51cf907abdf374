"""`opsmon risks list`: the register as of a month, in text and in the spec's JSON document.

Three hospitals (risk_fixture.Builder, 南关区 220102) report January and February 2025, on time:

    arrears    salary arrears 50 in January, 80 in February      salary_arrears red: new → persisting
    debt       liabilities 4000 → 7500 of assets 10000            debt_ratio_high orange (0.75), new in February
    liquidity  current assets 1500 of liabilities 2000 in January liquidity_low orange (0.75), resolved in February
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import province_fixture as fx
import pytest
from click.testing import CliRunner
from risk_fixture import Builder, months

from opsmon.access import add_user
from opsmon.cli import cli
from opsmon.indicators import risk

KEYS = {"hospital_code", "hospital_name", "adcode", "rule", "level", "value", "first_period", "last_period", "status"}


@pytest.fixture
def built(engine):
    b = Builder(engine)
    b.hospital("arrears", {"2025-01": {"salary_arrears": 50}, "2025-02": {"salary_arrears": 80}})
    b.hospital("debt", {"2025-01": {}, "2025-02": {"total_liabilities": 7500}})
    b.hospital("liquidity", {"2025-01": {"current_assets": 1500}, "2025-02": {}})
    fx.accepted(engine)
    return b


def run(engine, *args: str):
    url = engine.url.render_as_string(hide_password=False)
    return CliRunner().invoke(cli, ["risks", "list", *args], env={"DATABASE_URL": url}, catch_exceptions=False)


def check_schema(document: dict) -> None:
    """The spec's schema, checked by hand (jsonschema is not installed in the project's environment)."""
    assert set(document) == {"period", "risks"}
    assert isinstance(document["period"], str) and len(document["period"]) == 7 and document["period"][4] == "-"
    assert isinstance(document["risks"], list)
    for item in document["risks"]:
        extra = {"projected_period"} if item["rule"] == "cash_forecast" else set()
        assert set(item) == KEYS | extra
        assert all(isinstance(item[k], str) for k in KEYS - {"value"})
        assert isinstance(item["value"], (int, float))
        assert item["level"] in ("yellow", "orange", "red")
        assert item["status"] in ("new", "persisting", "resolved")
        assert len(item["hospital_code"]) == 18 and len(item["adcode"]) == 6


def test_json_for_a_period_matches_the_spec(built, engine):
    result = run(engine, "--period", "2025-02", "--format", "json", "--as-of", "2026-01-01")
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    check_schema(document)
    code = built.codes
    assert document == {"period": "2025-02", "risks": [
        {"hospital_code": code["debt"], "hospital_name": f"测试医院{code['debt'][-4:]}（演示）", "adcode": "220102",
         "rule": "debt_ratio_high", "level": "orange", "value": 0.75, "first_period": "2025-02",
         "last_period": "2025-02", "status": "new"},
        {"hospital_code": code["arrears"], "hospital_name": f"测试医院{code['arrears'][-4:]}（演示）",
         "adcode": "220102", "rule": "salary_arrears", "level": "red", "value": 80, "first_period": "2025-01",
         "last_period": "2025-02", "status": "persisting"},
        {"hospital_code": code["liquidity"], "hospital_name": f"测试医院{code['liquidity'][-4:]}（演示）",
         "adcode": "220102", "rule": "liquidity_low", "level": "orange", "value": 0.75, "first_period": "2025-01",
         "last_period": "2025-01", "status": "resolved"},
    ]}


def test_an_earlier_period_shows_the_register_as_it_stood_then(built, engine):
    # In January the arrears were new: their February month and value are not yet part of the list.
    result = run(engine, "--period", "2025-01", "--format", "json", "--as-of", "2026-01-01")
    arrears = [r for r in json.loads(result.output)["risks"] if r["rule"] == "salary_arrears"]
    assert [(r["status"], r["first_period"], r["last_period"], r["value"]) for r in arrears] == [
        ("new", "2025-01", "2025-01", 50)]
    frame = risk.risks_frame(engine, "2025-01", now=datetime(2026, 1, 1, tzinfo=timezone.utc))[1]
    liquidity = frame[frame["rule"] == "liquidity_low"].iloc[0]
    # Resolved in February, which January does not know yet; one month firing so far.
    assert liquidity["resolved_period"] is None and liquidity["months_firing"] == 1


def test_filters_narrow_the_list(built, engine):
    def rules(*args: str) -> list[tuple[str, str]]:
        result = run(engine, "--period", "2025-02", "--format", "json", "--as-of", "2026-01-01", *args)
        assert result.exit_code == 0, result.output
        return [(r["rule"], r["status"]) for r in json.loads(result.output)["risks"]]

    assert rules("--level", "orange") == [("debt_ratio_high", "new"), ("liquidity_low", "resolved")]
    assert rules("--hospital", built.codes["arrears"]) == [("salary_arrears", "persisting")]
    assert rules("--region", "220102") == [("debt_ratio_high", "new"), ("salary_arrears", "persisting"),
                                           ("liquidity_low", "resolved")]
    assert rules("--region", "220200") == []  # 吉林市: none of them


def test_the_default_period_is_the_latest_closed_month(built, engine):
    # February's reports are due on 2025-03-10: until its end the closed month is January.
    result = run(engine, "--format", "json", "--as-of", "2025-03-10 23:59")
    document = json.loads(result.output)
    assert document["period"] == "2025-01"
    assert [(r["rule"], r["status"]) for r in document["risks"]] == [("salary_arrears", "new"),
                                                                     ("liquidity_low", "new")]
    # From 2025-03-11 00:00 February is closed.
    assert json.loads(run(engine, "--format", "json", "--as-of", "2025-03-11").output)["period"] == "2025-02"


def test_text_lists_each_risk_with_its_explanation(built, engine):
    result = run(engine, "--period", "2025-02", "--as-of", "2026-01-01")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "period 2025-02: 3 risks"
    assert lines[1].split() == ["status", "level", "rule", "hospital_code", "hospital_name", "value", "first_period",
                                "last_period", "explanation"]
    debt = next(line for line in lines if "debt_ratio_high" in line)
    assert debt.split()[:3] == ["new", "orange", "debt_ratio_high"]
    assert "75.0%" in debt.split()
    assert debt.endswith("负债总额 7,500元 ÷ 资产总额 1.0万元 = 资产负债率 75.0%（橙色阈值 ≥ 70%）")
    arrears = next(line for line in lines if "salary_arrears" in line)
    assert arrears.endswith("期末拖欠职工薪酬 80元（红色阈值 > 0元）")
    assert run(engine, "--period", "2025-02", "--region", "220200").output == "period 2025-02: 0 risks\nno risks\n"


def test_as_user_lists_only_their_scope(built, engine):
    add_user(engine, "nanguan", "long-enough-pw", "supervisor", "220102")
    add_user(engine, "chaoyang", "long-enough-pw", "supervisor", "220104")
    add_user(engine, "arrears", "long-enough-pw", "hospital", built.codes["arrears"])

    def hospitals(user: str) -> set[str]:
        result = run(engine, "--period", "2025-02", "--format", "json", "--as", user)
        assert result.exit_code == 0, result.output
        return {r["hospital_code"] for r in json.loads(result.output)["risks"]}

    assert hospitals("nanguan") == set(built.codes.values())
    assert hospitals("chaoyang") == set()
    assert hospitals("arrears") == {built.codes["arrears"]}
    refused = run(engine, "--as", "nobody")
    assert refused.exit_code == 1 and "no active user 'nobody'" in refused.output


def test_a_malformed_period_is_refused(built, engine):
    result = run(engine, "--period", "2025-13")
    assert result.exit_code == 1 and "a period is 'YYYY-MM'" in result.output
    assert run(engine, "--level", "purple").exit_code == 2  # not a level: a usage error


def test_cash_forecast_rows_carry_the_projected_month(engine):
    b = Builder(engine)
    # Cash months 2.245, 2.155, … 1.155 over 2024 (see test_risk_rules): below one in 2025-02.
    b.hospital("falling", {p: {"R": 1100, "E": 1000, "cash": 2250 - 100 * k + (5 if k % 2 else -5)}
                           for k, p in enumerate(months("2024-01", 12))})
    fx.accepted(engine)
    document = json.loads(run(engine, "--period", "2024-12", "--format", "json", "--as-of", "2025-01-11").output)
    check_schema(document)
    assert [(r["rule"], r["level"], r["value"], r["projected_period"], r["status"]) for r in document["risks"]
            if r["rule"] == "cash_forecast"] == [("cash_forecast", "yellow", 1.155, "2025-02", "new")]


def test_latest_closed_period_follows_the_due_day_setting(engine):
    from datetime import datetime

    from risk_fixture import CST

    assert risk.latest_closed_period(engine, datetime(2026, 12, 2, tzinfo=CST)) == "2026-10"  # the spec's example
    assert risk.latest_closed_period(engine, datetime(2026, 12, 10, 23, 59, tzinfo=CST)) == "2026-10"
    assert risk.latest_closed_period(engine, datetime(2026, 12, 11, tzinfo=CST)) == "2026-11"
    fx.execute(engine, "UPDATE settings SET value = CAST('15' AS jsonb) WHERE key = 'due_day'")
    assert risk.latest_closed_period(engine, datetime(2026, 12, 12, tzinfo=CST)) == "2026-10"
    assert risk.latest_closed_period(engine, datetime(2026, 12, 16, tzinfo=CST)) == "2026-11"


def test_details_as_text_are_the_same_details_left_for_the_caller_to_decode(built, engine):
    """The risk page keeps the national register's details undecoded until a grid block shows them."""
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    decoded = risk.risks_frame(engine, "2025-02", now=now)[1]
    as_text = risk.risks_frame(engine, "2025-02", now=now, detail_as_text=True)[1]
    assert len(decoded) == len(as_text) > 0
    assert all(isinstance(d, str) for d in as_text["detail"])
    assert [json.loads(d) for d in as_text["detail"]] == list(decoded["detail"])
    assert as_text.drop(columns="detail").equals(decoded.drop(columns="detail"))
