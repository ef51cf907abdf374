"""The database goes away while the dashboard runs: a clear 503, never a traceback, and recovery by itself."""

from __future__ import annotations

import pytest
import requests
import sqlalchemy as sa
from opsmon.sql import db
from conftest import make_user, post_login, serve


def admin_exec(engine, sql: str) -> None:
    """Run *sql* on the server's maintenance database (these statements cannot run inside the target)."""
    admin = db.create_engine(engine.url.set(database="postgres"), isolation_level="AUTOCOMMIT",
                             poolclass=sa.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(sql))
    admin.dispose()


def kick_everyone(engine) -> None:
    """What a server restart does to the app: every open connection to its database is gone."""
    admin_exec(engine, f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "
                       f"'{engine.url.database}' AND pid <> pg_backend_pid()")


@pytest.fixture
def site(engine, tmp_path):
    make_user(engine)
    with serve(engine.url.render_as_string(hide_password=False), tmp_path, ready_path="/login") as url:
        s = requests.Session()
        assert post_login(s, url, "test-admin", "test-password-1").status_code == 302
        yield url, s
    admin_exec(engine, f'ALTER DATABASE "{engine.url.database}" ALLOW_CONNECTIONS true')


def test_after_a_restart_the_next_request_just_works(site, engine):
    url, s = site
    assert s.get(f"{url}/_dash-layout").status_code == 200
    kick_everyone(engine)  # the pool's connections are dead now
    assert s.get(f"{url}/_dash-layout").status_code == 200  # pre-ping replaced them


def test_while_the_database_is_down_people_get_a_message_and_it_recovers(site, engine):
    url, s = site
    database = engine.url.database
    admin_exec(engine, f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
    kick_everyone(engine)

    callback = s.get(f"{url}/_dash-layout")
    assert callback.status_code == 503 and callback.headers["Retry-After"] == "10"
    assert callback.json()["error"] == "database_unavailable"
    assert "数据库暂时无法连接" in callback.json()["message"] and "Traceback" not in callback.text
    page = s.get(f"{url}/rankings")
    assert page.status_code == 503 and "数据库暂时无法连接" in page.text and "Traceback" not in page.text

    admin_exec(engine, f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
    assert s.get(f"{url}/_dash-layout").status_code == 200  # back by itself, same session
