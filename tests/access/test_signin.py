"""Signing in (opsmon.access.signin): every attempt is audited; failures counted in the audit log rate-limit
an account and an address. Old failures are inserted backdated with SQL instead of sleeping."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from access_helpers import OTHER_PASSWORD, PASSWORD, audit_rows, backdate_failures

from opsmon.access import add_user, get_user, set_disabled, sign_in
from opsmon.access.signin import CHECK_TIMEOUT, MAX_IN_FLIGHT_PER_ADDRESS, MAX_PER_ACCOUNT, MAX_PER_ADDRESS, WINDOW

pytestmark = pytest.mark.usefixtures("fast_argon2")

HOME = "10.1.2.3"
ELSEWHERE = "10.9.9.9"


@pytest.fixture
def db(registered):
    """The registered database with one analyst, wang.li."""
    add_user(registered, "wang.li", PASSWORD, "analyst", "220100")
    return registered


def failure_times(engine, username: str) -> list[datetime]:
    return [r.at for r in audit_rows(engine, "signin.failure") if r.username == username]


def now(engine) -> datetime:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT now()")).scalar_one()


# --- One attempt ------------------------------------------------------------------------------------


def test_success_returns_the_user_writes_signin_success_and_last_login_at(db):
    assert get_user(db, "wang.li") is not None
    with db.connect() as conn:
        assert conn.execute(sa.text("SELECT last_login_at FROM users")).scalar_one() is None

    result = sign_in(db, "wang.li", PASSWORD, HOME)

    assert result.ok and result.blocked_until is None
    assert (result.user.username, result.user.role, result.user.scope) == ("wang.li", "analyst", "220100")
    (row,) = audit_rows(db, "signin.success")
    assert (row.username, row.address) == ("wang.li", HOME)
    with db.connect() as conn:
        last_login = conn.execute(sa.text("SELECT last_login_at FROM users")).scalar_one()
    assert abs(last_login - now(db)) < timedelta(minutes=1)
    assert audit_rows(db, "signin.failure") == []


def test_a_wrong_password_fails_and_writes_signin_failure(db):
    result = sign_in(db, "wang.li", OTHER_PASSWORD, HOME)
    assert not result.ok
    assert result.user is None and result.blocked_until is None
    (row,) = audit_rows(db, "signin.failure")
    assert (row.username, row.address, row.details) == ("wang.li", HOME, {"reason": "password"})
    assert OTHER_PASSWORD not in row.whole
    assert audit_rows(db, "signin.success") == []
    with db.connect() as conn:
        assert conn.execute(sa.text("SELECT last_login_at FROM users")).scalar_one() is None


def test_an_unknown_users_failure_is_logged_without_the_name(db):
    result = sign_in(db, "wang.lii", PASSWORD, HOME)  # perhaps a mistyped name, perhaps a password
    assert not result.ok
    (row,) = audit_rows(db, "signin.failure")
    assert row.username is None
    assert row.address == HOME
    assert row.details == {"reason": "unknown user"}
    assert "wang.lii" not in row.whole
    assert PASSWORD not in row.whole


def test_an_empty_name_or_password_fails(db):
    assert not sign_in(db, "", PASSWORD, HOME).ok
    assert not sign_in(db, "wang.li", "", HOME).ok
    assert len(audit_rows(db, "signin.failure")) == 2


def test_a_disabled_user_cannot_sign_in_even_with_the_right_password(db):
    set_disabled(db, "wang.li")
    result = sign_in(db, "wang.li", PASSWORD, HOME)
    assert not result.ok and result.blocked_until is None
    (row,) = audit_rows(db, "signin.failure")
    assert (row.username, row.details) == ("wang.li", {"reason": "disabled"})

    set_disabled(db, "wang.li", False)
    assert sign_in(db, "wang.li", PASSWORD, HOME).ok


def test_the_new_password_works_after_a_change_and_the_old_one_not(db):
    from opsmon.access import set_password

    set_password(db, "wang.li", OTHER_PASSWORD)
    assert not sign_in(db, "wang.li", PASSWORD, HOME).ok
    assert sign_in(db, "wang.li", OTHER_PASSWORD, HOME).ok


# --- Rate limit per account -------------------------------------------------------------------------


def test_after_max_failures_the_account_is_blocked_even_with_the_right_password(db):
    for _ in range(MAX_PER_ACCOUNT):
        assert sign_in(db, "wang.li", OTHER_PASSWORD, HOME).blocked_until is None

    result = sign_in(db, "wang.li", PASSWORD, HOME)

    assert not result.ok and result.user is None
    oldest_counted = min(failure_times(db, "wang.li"))
    assert result.blocked_until == oldest_counted + WINDOW
    (blocked,) = audit_rows(db, "signin.blocked")
    assert blocked.username == "wang.li"
    assert datetime.fromisoformat(blocked.details["until"]) == result.blocked_until
    assert audit_rows(db, "signin.success") == []


def test_a_blocked_account_is_blocked_from_any_address_and_blocked_tries_do_not_extend_it(db):
    for _ in range(MAX_PER_ACCOUNT):
        sign_in(db, "wang.li", OTHER_PASSWORD, HOME)
    first = sign_in(db, "wang.li", PASSWORD, ELSEWHERE)  # the account is blocked, from any address
    again = sign_in(db, "wang.li", PASSWORD, ELSEWHERE)
    assert first.blocked_until is not None
    assert again.blocked_until == first.blocked_until
    assert len(failure_times(db, "wang.li")) == MAX_PER_ACCOUNT  # blocked attempts are not failures
    assert len(audit_rows(db, "signin.blocked")) == 2


def test_one_failure_fewer_than_the_limit_does_not_block(db):
    for _ in range(MAX_PER_ACCOUNT - 1):
        sign_in(db, "wang.li", OTHER_PASSWORD, HOME)
    assert sign_in(db, "wang.li", PASSWORD, HOME).ok


def test_the_account_limit_is_per_account(db):
    add_user(db, "zhao.min", PASSWORD, "analyst", "220100")
    for _ in range(MAX_PER_ACCOUNT):
        sign_in(db, "wang.li", OTHER_PASSWORD, HOME)
    assert sign_in(db, "wang.li", PASSWORD, HOME).blocked_until is not None
    assert sign_in(db, "zhao.min", PASSWORD, HOME).ok  # same address, another account


# --- Rate limit per address -------------------------------------------------------------------------


def test_after_max_failures_from_one_address_across_accounts_that_address_is_blocked(db):
    # Spread the failures so that no account reaches its own limit.
    per_account = MAX_PER_ACCOUNT - 1
    names = [f"user{i}" for i in range(math.ceil(MAX_PER_ADDRESS / per_account))]
    for name in names:
        add_user(db, name, PASSWORD, "analyst", "220100")
    for i in range(MAX_PER_ADDRESS):
        assert sign_in(db, names[i // per_account], OTHER_PASSWORD, HOME).blocked_until is None

    result = sign_in(db, "wang.li", PASSWORD, HOME)  # an account with no failures, right password

    assert not result.ok
    failures = [r.at for r in audit_rows(db, "signin.failure") if r.address == HOME]
    assert len(failures) == MAX_PER_ADDRESS
    assert result.blocked_until == min(failures) + WINDOW
    assert sign_in(db, "wang.li", PASSWORD, ELSEWHERE).ok  # the same account from another address


def test_failures_at_unknown_names_count_for_the_address(db):
    backdate_failures(db, MAX_PER_ADDRESS - 1, "1 minute", address=HOME)  # earlier guesses, names not logged
    assert sign_in(db, "wang.li", PASSWORD, HOME).ok
    assert not sign_in(db, "no.such.user", PASSWORD, HOME).ok
    assert sign_in(db, "wang.li", PASSWORD, HOME).blocked_until is not None


def test_many_people_signing_in_at_once_from_one_address_are_not_blocked(db):
    # An office behind one NAT at a deadline: more checks in flight than the address's failure limit.
    backdate_failures(db, MAX_PER_ADDRESS + 5, "2 seconds", address=HOME, reason="checking")
    assert sign_in(db, "wang.li", PASSWORD, HOME).ok


def test_simultaneous_correct_sign_ins_from_one_address_all_succeed(db):
    from concurrent.futures import ThreadPoolExecutor

    names = [f"staff{i}" for i in range(MAX_PER_ADDRESS + 10)]
    for name in names:
        add_user(db, name, PASSWORD, "analyst", "220100")
    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(pool.map(lambda name: sign_in(db, name, PASSWORD, HOME), names))
    assert all(o.ok for o in outcomes)


def test_an_address_with_too_many_checks_at_once_waits_a_moment(db):
    backdate_failures(db, MAX_IN_FLIGHT_PER_ADDRESS, "2 seconds", address=HOME, reason="checking")
    result = sign_in(db, "wang.li", PASSWORD, HOME)
    assert not result.ok
    assert timedelta(0) < result.blocked_until - now(db) <= CHECK_TIMEOUT
    assert sign_in(db, "wang.li", PASSWORD, ELSEWHERE).ok


def test_a_check_that_never_finished_counts_as_a_failure_of_its_address(db):
    # Its process died mid-check: after CHECK_TIMEOUT the row is a failure like any other.
    stale = f"{int(CHECK_TIMEOUT.total_seconds()) + 30} seconds"
    backdate_failures(db, MAX_PER_ADDRESS, stale, address=HOME, reason="checking")
    assert sign_in(db, "wang.li", PASSWORD, HOME).blocked_until is not None


def test_an_attempt_without_an_address_is_limited_per_account_only(db):
    backdate_failures(db, MAX_PER_ADDRESS, "1 minute", address=None)
    assert sign_in(db, "wang.li", PASSWORD, None).ok


# --- The window -------------------------------------------------------------------------------------


def test_failures_older_than_the_window_do_not_count(db):
    older = f"{int(WINDOW.total_seconds() // 60) + 1} minutes"
    backdate_failures(db, MAX_PER_ACCOUNT, older, username="wang.li", address=HOME)
    backdate_failures(db, MAX_PER_ADDRESS, older, address=HOME)
    assert sign_in(db, "wang.li", PASSWORD, HOME).ok


def test_old_and_recent_failures_together_only_the_recent_ones_count(db):
    older = f"{int(WINDOW.total_seconds() // 60) + 1} minutes"
    backdate_failures(db, 10, older, username="wang.li", address=HOME)
    backdate_failures(db, MAX_PER_ACCOUNT - 1, "2 minutes", username="wang.li", address=HOME)
    sign_in(db, "wang.li", OTHER_PASSWORD, HOME)  # the limit-th recent failure
    assert sign_in(db, "wang.li", PASSWORD, HOME).blocked_until is not None


def test_a_successful_sign_in_clears_the_accounts_earlier_failures(db):
    backdate_failures(db, MAX_PER_ACCOUNT - 1, "2 minutes", username="wang.li", address=HOME)
    assert sign_in(db, "wang.li", PASSWORD, HOME).ok
    sign_in(db, "wang.li", OTHER_PASSWORD, HOME)  # one typo after signing in does not lock the account
    assert sign_in(db, "wang.li", PASSWORD, HOME).ok


def test_simultaneous_guesses_all_count_against_the_limit(db):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(lambda _: sign_in(db, "wang.li", OTHER_PASSWORD, f"10.0.0.{_}"), range(12)))
    checked = [o for o in outcomes if o.blocked_until is None]
    assert len(checked) == MAX_PER_ACCOUNT  # the rest were refused without a password check
    assert sign_in(db, "wang.li", PASSWORD, HOME).blocked_until is not None


def test_the_block_ends_when_the_oldest_counted_failure_leaves_the_window(db):
    # MAX failures 14 minutes ago (WINDOW is 15): blocked for about one more minute.
    assert WINDOW == timedelta(minutes=15)
    backdate_failures(db, MAX_PER_ACCOUNT, "14 minutes", username="wang.li", address=HOME)
    result = sign_in(db, "wang.li", PASSWORD, HOME)
    left = result.blocked_until - now(db)
    assert timedelta(seconds=50) < left < timedelta(seconds=70)
    assert result.blocked_until.tzinfo is not None
    assert result.blocked_until > datetime.now(UTC)

    # Age those failures by two more minutes: they leave the window and the right password works.
    with db.begin() as conn:
        conn.execute(sa.text("UPDATE audit_log SET at = at - interval '2 minutes' WHERE action = 'signin.failure'"))
    assert sign_in(db, "wang.li", PASSWORD, HOME).ok
