"""The load test, short: hospital users uploading at once while region users browse, against gunicorn.

The same code as ``python -m bench.load`` (its full run — 50 + 20 users for 2 minutes — is in
bench/RESULTS.md), on a small demo province in a database of its own: 8 hospital users upload
their report through the upload page's callbacks (the first upload of all of them at the same
moment) while 4 region users open pages, for 30 seconds. No response may be a server error, and
every upload the server reported accepted must be in the database as the next revision with its
values.
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from opsmon import config

# bench/ is a folder of scripts beside the package, not part of it.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.load import LoadConfig, run, verify  # noqa: E402
from tests.conftest import DEMO_TODAY  # noqa: E402

HOSPITALS, MONTHS = 60, 6
# Two workers (not the bench's four): their boot is a fixed cost of the test. Think times at a fifth;
# every hospital user sends at least one correction after its first upload (a second revision).
SHORT = LoadConfig(uploaders=8, browsers=4, seconds=30, ramp=3, workers=2, threads=4, prefectures=2,
                   views=("overview", "rankings", "hospital"), think_scale=0.2, min_uploads=2)


@pytest.mark.browser  # Chromium captures what the browser sends on each view
def test_uploads_under_load_are_all_stored_and_nothing_fails(engine, tmp_path):
    from opsmon.demo.load import load_demo

    settings = config.Settings(database_url=None, data_dir=tmp_path / "demo", province="220000", secret_key=None,
                               production=False)
    # Pinned: the latest month is then fully collected, whatever day the suite runs.
    assert load_demo(engine, settings, seed=7, n_hospitals=HOSPITALS, months=MONTHS, today=DEMO_TODAY).rejected == 0

    result = run(engine, SHORT, tmp_path)  # its progress on stderr: shown when the test fails

    unexpected = [(s.status, s.name, s.error) for s in result.unexpected]
    assert result.server_errors == 0 and unexpected == []
    assert result.server.log_problems == []
    assert sum(n for status, n in result.server.statuses.items() if status >= 500) == 0
    # Every upload was accepted — the first of all of them sent at once — and each user sent two or more.
    assert set(result.outcomes()) == {"accepted"}, result.outcomes()
    per_user = Counter(u.username for u in result.uploads)
    assert len(per_user) == SHORT.uploaders and min(per_user.values()) >= 2, per_user
    # ... and each is in the database as the next revision of its (hospital, period), with its values.
    assert result.problems == []
    # (The check has teeth: an accepted upload the database does not hold is found.)
    lost = replace(result.uploads[-1], values={**result.uploads[-1].values, "cash": 1.0})
    assert verify(engine, [*result.uploads, lost], result.before, result.period, result.accounts)
    # The browsing happened too: every kind of view sent its callbacks.
    assert all(result.captured[k] > 0 for k in SHORT.views), result.captured
    assert sum(s.name.startswith("callback ") for s in result.samples) > 20
