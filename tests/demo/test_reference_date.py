"""The demo's reference date (``opsmon demo --today``): a demo, and a test built on one, pinned to a day.

Early in a month the month being collected has almost no reports; from the due day on it is
nearly complete. Whatever the real date, a demo pinned to a day looks as that day would, and
the load test's choice of month ("the latest month most hospitals have reported") follows the
data, not the calendar.
"""

from __future__ import annotations

import sys
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from click.testing import CliRunner

from opsmon import config
from opsmon.cli import cli
from opsmon.demo.load import load_demo
from opsmon.sql import db

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # bench/ is a folder of scripts beside the package
from bench.load import upload_period  # noqa: E402

CHINA = ZoneInfo("Asia/Shanghai")


def demo_on(engine, tmp_path: Path, today: date) -> None:
    settings = config.Settings(database_url=None, data_dir=tmp_path, province="220000", secret_key=None,
                               production=False)
    assert load_demo(engine, settings, seed=5, n_hospitals=40, months=3, today=today).rejected == 0


def reports_by_month(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.text(
            "SELECT to_char(period, 'YYYY-MM'), count(*) FROM monthly_values WHERE is_current GROUP BY 1")).all())


def latest_arrival(engine) -> datetime:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT max(received_at) FROM submissions")).scalar_one()


def test_on_the_2nd_the_collecting_month_has_few_reports_and_the_load_test_takes_the_month_before(engine, tmp_path):
    demo_on(engine, tmp_path, date(2026, 12, 2))
    counts = reports_by_month(engine)
    assert sorted(counts) == ["2026-09", "2026-10", "2026-11"]  # three months ending the month before
    assert counts["2026-11"] < 40 / 2 <= counts["2026-10"]
    assert latest_arrival(engine) <= datetime(2026, 12, 2, 23, 59, tzinfo=CHINA)
    assert upload_period(engine) == "2026-10"


def test_on_the_28th_the_month_before_is_collected_and_the_load_test_takes_it(engine, tmp_path):
    demo_on(engine, tmp_path, date(2026, 11, 28))
    counts = reports_by_month(engine)
    assert sorted(counts) == ["2026-08", "2026-09", "2026-10"]
    assert counts["2026-10"] >= 40 / 2
    assert latest_arrival(engine) <= datetime(2026, 11, 28, 23, 59, tzinfo=CHINA)
    assert upload_period(engine) == "2026-10"


def test_opsmon_demo_takes_the_reference_date(engine, tmp_path):
    url = engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(cli, ["demo", "--no-serve", "--hospitals", "30", "--months", "2",
                                      "--today", "2026-12-10"],
                                env={"DATABASE_URL": url, "OPSMON_DATA_DIR": str(tmp_path)})
    db.dispose_all()
    assert result.exit_code == 0, result.output
    assert sorted(reports_by_month(engine)) == ["2026-10", "2026-11"]
    assert latest_arrival(engine) <= datetime(2026, 12, 10, 23, 59, tzinfo=CHINA)
    with engine.connect() as conn:
        demo = conn.execute(sa.text("SELECT value FROM settings WHERE key = 'demo'")).scalar_one()
    assert (demo["today"], demo["end_period"]) == ("2026-12-10", "2026-11")
    bad = CliRunner().invoke(cli, ["demo", "--no-serve", "--today", "2026-13-01"], env={"DATABASE_URL": url})
    assert bad.exit_code == 2 and "--today" in bad.output
