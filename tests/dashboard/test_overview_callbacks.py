"""The overview callback as a plain function, against the demo province in Postgres."""

from __future__ import annotations

import sqlalchemy as sa
from conftest import make_user, signed_in

from opsmon.dashboard.app import create_app
from opsmon.dashboard.pages import overview
from opsmon.indicators import reporting


def test_children_summary_adds_up_to_the_province(demo_engine):
    period = reporting.latest_period(demo_engine)
    frame = reporting.children_summary(demo_engine, "220000", period)
    with demo_engine.connect() as conn:
        hospitals = conn.execute(sa.text("SELECT count(*) FROM hospitals")).scalar_one()
        reported = conn.execute(sa.text(
            "SELECT count(*) FROM monthly_values WHERE is_current AND to_char(period, 'YYYY-MM') = :p"),
            {"p": period}).scalar_one()

    assert len(frame) == 10  # 9 prefectures + 梅河口市
    assert frame["hospitals_expected"].sum() == hospitals
    assert frame["hospitals_reporting"].sum() == reported
    # 梅河口市's hospitals count under the province's direct units, not under 通化市.
    tonghua = frame.set_index("code").loc["220500", "hospitals_expected"]
    with demo_engine.connect() as conn:
        in_tonghua = conn.execute(sa.text(
            "SELECT count(*) FROM hospitals WHERE adcode LIKE '2205%' AND adcode <> '220581'")).scalar_one()
    assert tonghua == in_tonghua


def test_update_callback_returns_cards_map_and_table(demo_engine):
    app = create_app(demo_engine)
    period = reporting.latest_period(demo_engine)
    with signed_in(app, demo_engine, "demo-admin"):
        kpis, fig, table, *_ = overview.update(period, "reporting_rate")
    assert len(fig.data[0].locations) == 10
    assert 0 <= min(fig.data[0].z) and max(fig.data[0].z) <= 1
    assert len(table.rowData) == 10


def test_update_without_data_shows_a_friendly_empty_state(engine):
    app = create_app(engine)
    with signed_in(app, engine, make_user(engine)):
        kpis, fig, table, *_ = overview.update(None, "hospitals_expected")
    assert "本期暂无数据" in str(kpis) and "opsmon ingest" in str(kpis)  # what to do about it
    assert fig.layout.annotations[0].text == "本期暂无数据" and fig.layout.xaxis.visible is False
