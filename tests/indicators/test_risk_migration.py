"""Migration 0010: a v1 register and v1 threshold overrides become v2 ones, and the register is rebuilt.

The test database is migrated to the newest schema; 0010 is undone by hand (the v1 shape of
risk_firings, risk_register and risk_thresholds), v1 rows are written, and 0010 applied again.
"""

from __future__ import annotations

import province_fixture as fx
from risk_fixture import LATER, Builder, months

from opsmon.indicators import risk
from opsmon.sql import migrate

UNDO_0010 = [
    "ALTER TABLE risk_firings DROP COLUMN detail",
    "ALTER TABLE risk_register DROP COLUMN detail",
    "DROP TABLE risk_register_v1",
    "DROP TABLE risk_thresholds_v1",
    "DROP INDEX risk_thresholds_key",
    "ALTER TABLE risk_thresholds DROP COLUMN metric",
    "ALTER TABLE risk_thresholds ADD PRIMARY KEY (rule, level)",
    "DELETE FROM schema_migrations WHERE version = 10",
]

V1_THRESHOLDS = [  # rule, level, threshold, enabled
    ("deficit_ytd", "red", -0.08, True),
    ("deficit_streak", "red", 4, True),
    ("construction_debt_increase", "red", 1000, True),
    ("long_term_debt_rising", "orange", 4, True),
    ("debt_ratio_high", "red", 0.95, True),
    ("debt_ratio_high", "yellow", 0.55, True),
    ("cash_short", "red", None, False),
]


def test_the_v1_register_is_renamed_archived_and_rebuilt_under_v2(engine):
    b = Builder(engine)
    # 2024: expense 1100 against revenue 1000 every month (−10 % over the 12 months), cash 2000
    # (1.8 months), salary arrears 10 in December.
    rows = months("2024-01", 12, R=1000, E=1100, cash=2000)
    rows["2024-12"]["salary_arrears"] = 10
    code = b.hospital("chronic", rows)
    for statement in UNDO_0010:
        fx.execute(engine, statement)
    for rule, level, threshold, enabled in V1_THRESHOLDS:
        fx.execute(engine, "INSERT INTO risk_thresholds (rule, level, threshold, enabled) VALUES (:r, :l, :t, :e)",
                   r=rule, l=level, t=threshold, e=enabled)
    v1 = {  # rule: (first, last, level, resolved)
        "deficit_ytd": ("2024-01", "2024-12", "red", None),
        "deficit_streak": ("2024-04", "2024-12", "red", None),  # v1 red at 4 months in a row (the override)
        "long_term_debt_rising": ("2024-03", "2024-05", "orange", "2024-06"),
        "salary_arrears": ("2024-12", "2024-12", "red", None),
    }
    for rule, (first, last, level, resolved) in v1.items():
        fx.execute(engine, "INSERT INTO risk_register (hospital_code, rule, first_period, last_period, level, "
                           "max_level, metric, months_firing, resolved_period, recorded_at) "
                           "VALUES (:h, :r, :f, :l, :lv, :lv, 1, 1, :res, '2025-01-05 10:00+08')",
                   h=code, r=rule, f=f"{first}-01", l=f"{last}-01", lv=level,
                   res=f"{resolved}-01" if resolved else None)
    fx.execute(engine, "INSERT INTO risk_firings (hospital_code, period, rule, level, metric) "
                       "VALUES (:h, '2024-12-01', 'deficit_ytd', 'red', -0.1)", h=code)
    ids = {r.rule: r.episode_id for r in fx.execute(engine, "SELECT rule, episode_id FROM risk_register")}

    assert [m.version for m in migrate.upgrade(engine, "220000")] == [10]

    # Overrides: renamed where the metric keeps its meaning, retired otherwise; all kept in the archive.
    thresholds = {(r.rule, r.metric, r.level): (None if r.threshold is None else float(r.threshold), r.enabled)
                  for r in fx.execute(engine, "SELECT * FROM risk_thresholds")}
    assert thresholds == {("deficit_12m", None, "red"): (-0.08, True),
                          ("deficit_streak", None, "yellow"): (4.0, True),
                          ("construction_loans_increase", None, "orange"): (1000.0, True),
                          ("debt_ratio_high", None, "yellow"): (0.55, True),
                          ("cash_short", None, "red"): (None, False)}
    assert fx.execute(engine, "SELECT count(*) FROM risk_thresholds_v1").scalar_one() == len(V1_THRESHOLDS)
    # The register: the v1 episodes archived as they stood, renamed in place; firings cleared.
    archived = {r.rule: r.episode_id for r in fx.execute(engine, "SELECT rule, episode_id FROM risk_register_v1")}
    assert archived == ids
    assert {r.rule for r in fx.execute(engine, "SELECT rule FROM risk_register")} == {
        "deficit_12m", "deficit_streak", "long_term_debt", "salary_arrears"}
    assert fx.execute(engine, "SELECT count(*) FROM risk_firings").scalar_one() == 0

    # The next refresh rebuilds it under v2 (with the carried-over overrides).
    fx.bump(engine)
    risk.refresh_register(engine, as_of=LATER)
    rebuilt = {r.rule: r for r in fx.execute(
        engine, "SELECT rule, episode_id, to_char(first_period, 'YYYY-MM') AS first, "
                "to_char(last_period, 'YYYY-MM') AS last, level, resolved_period, recorded_at, detail "
                "FROM risk_register")}
    assert {rule: (r.first, r.last, r.level, r.resolved_period) for rule, r in rebuilt.items()} == {
        # 12 months at −10 % < −8 % (the carried-over red): a new episode, from December.
        "deficit_12m": ("2024-12", "2024-12", "red", None),
        # 4 months in a row from April (yellow at 4, the carried-over override), orange in December.
        "deficit_streak": ("2024-04", "2024-12", "orange", None),
        "salary_arrears": ("2024-12", "2024-12", "red", None),
        # Medical surplus (approximated) 12 × (950 − 990) = −480: new under v2.
        "medical_deficit": ("2024-12", "2024-12", "yellow", None),
    }  # long_term_debt: v2 finds no such episode (loans flat at 10 % of assets): removed
    # Episodes v2 finds with the same hospital, rule and first month keep their id and recorded_at.
    assert rebuilt["salary_arrears"].episode_id == ids["salary_arrears"]
    assert rebuilt["deficit_streak"].episode_id == ids["deficit_streak"]
    assert rebuilt["deficit_12m"].episode_id != ids["deficit_ytd"]
    assert str(rebuilt["salary_arrears"].recorded_at.date()) == "2025-01-05"
    assert all(r.detail and "threshold" in r.detail for r in rebuilt.values())
