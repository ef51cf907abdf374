"""Signing in (opsmon.access.signin): every attempt is audited; failures counted in the audit log rate-limit
a (name, address) pair and an address, and slow a name down. Names are counted by a keyed hash, the same way
whether they exist or not. Old failures are inserted backdated with SQL instead of sleeping; the slowdown's
sleep is recorded instead of slept."""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from access_helpers import OTHER_PASSWORD, PASSWORD, audit_rows, backdate_failures

from opsmon.access import UserError, add_user, get_user, set_disabled, sign_in, signin, users
from opsmon.access.signin import (
    CHECK_TIMEOUT,
    MAX_IN_FLIGHT_PER_ADDRESS,
    MAX_PER_ADDRESS,
    MAX_PER_NAME_AND_ADDRESS,
    SALT_SETTING,
    SLOWDOWN_AFTER,
    SLOWDOWN_MAX,
    SLOWDOWN_STEP,
    WINDOW,
    SignIn,
    slowdown,
)

pytestmark = pytest.mark.usefixtures("fast_argon2")

HOME = "10.1.2.3"
ELSEWHERE = "10.9.9.9"
ATTACKERS = ("203.0.113.7", "198.51.100.23")


@pytest.fixture(autouse=True)
def slept(monkeypatch) -> list[float]:
    """The slowdown's waits, recorded instead of slept."""
    waits: list[float] = []
    monkeypatch.setattr(signin, "sleep", waits.append)
    return waits


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


def key_of(engine, name: str) -> str:
    with engine.begin() as conn:
        return signin.name_key(conn, name)


def backdate_name_failures(engine, n: int, age: str, name: str, *, address: str | None = HOME,
                           spread: bool = False) -> None:
    """Like ``backdate_failures``, counted for *name* (its name_key; its username when it exists), from
    *address* or, with *spread*, each from a different address."""
    known = get_user(engine, name) is not None
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO audit_log (at, username, address, action, details) "
            "SELECT now() - CAST(:age AS interval), :u, CASE WHEN :spread THEN '10.7.0.' || i ELSE :a END, "
            "'signin.failure', jsonb_build_object('reason', 'password', 'name_key', CAST(:k AS text)) "
            "FROM generate_series(1, :n) i"
        ), {"age": age, "u": name if known else None, "a": address, "spread": spread, "n": n,
            "k": signin.name_key(conn, name)})


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
    assert (row.username, row.address, row.details) == ("wang.li", HOME,
                                                        {"reason": "password", "name_key": key_of(db, "wang.li")})
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
    assert row.details == {"reason": "unknown user", "name_key": key_of(db, "wang.lii")}
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
    assert (row.username, row.details["reason"]) == ("wang.li", "disabled")

    set_disabled(db, "wang.li", False)
    assert sign_in(db, "wang.li", PASSWORD, HOME).ok


def test_the_new_password_works_after_a_change_and_the_old_one_not(db):
    from opsmon.access import set_password

    set_password(db, "wang.li", OTHER_PASSWORD)
    assert not sign_in(db, "wang.li", PASSWORD, HOME).ok
    assert sign_in(db, "wang.li", OTHER_PASSWORD, HOME).ok


# --- Rate limit per (name, address) ---------------------------------------------------------------


def test_after_max_failures_the_name_from_that_address_is_blocked_even_with_the_right_password(db):
    for _ in range(MAX_PER_NAME_AND_ADDRESS):
        assert sign_in(db, "wang.li", OTHER_PASSWORD, HOME).blocked_until is None

    result = sign_in(db, "wang.li", PASSWORD, HOME)  # the 6th attempt

    assert not result.ok and result.user is None
    oldest_counted = min(failure_times(db, "wang.li"))
    assert result.blocked_until == oldest_counted + WINDOW
    assert len(failure_times(db, "wang.li")) == MAX_PER_NAME_AND_ADDRESS  # refused without a password check
    (blocked,) = audit_rows(db, "signin.blocked")
    assert (blocked.username, blocked.address) == ("wang.li", HOME)
    assert datetime.fromisoformat(blocked.details["until"]) == result.blocked_until
    assert audit_rows(db, "signin.success") == []


def test_blocked_tries_do_not_extend_the_block(db):
    for _ in range(MAX_PER_NAME_AND_ADDRESS):
        sign_in(db, "wang.li", OTHER_PASSWORD, HOME)
    first = sign_in(db, "wang.li", PASSWORD, HOME)
    again = sign_in(db, "wang.li", PASSWORD, HOME)
    assert first.blocked_until is not None
    assert again.blocked_until == first.blocked_until
    assert len(failure_times(db, "wang.li")) == MAX_PER_NAME_AND_ADDRESS  # blocked attempts are not failures
    assert len(audit_rows(db, "signin.blocked")) == 2


def test_a_name_blocked_from_one_address_still_signs_in_from_another(db):
    # Changed on purpose: the block used to be account-wide, so anyone could lock anyone out.
    for _ in range(MAX_PER_NAME_AND_ADDRESS):
        sign_in(db, "wang.li", OTHER_PASSWORD, ELSEWHERE)
    assert sign_in(db, "wang.li", PASSWORD, ELSEWHERE).blocked_until is not None
    assert sign_in(db, "wang.li", PASSWORD, HOME).ok


def test_two_addresses_hammering_every_name_do_not_lock_them_out_from_a_third(db, slept):
    # The finding: 40 wrong passwords from two addresses locked every account for 15 minutes.
    names = ["wang.li", "zhao.min", "liu.yang", "chen.jie"]
    for name in names[1:]:
        add_user(db, name, PASSWORD, "analyst", "220100")
    outcomes = [sign_in(db, name, OTHER_PASSWORD, attacker) for attacker in ATTACKERS for name in names
                for _ in range(MAX_PER_NAME_AND_ADDRESS)]
    assert len(outcomes) == 40 and not any(o.ok for o in outcomes)
    assert sign_in(db, "wang.li", PASSWORD, ATTACKERS[0]).blocked_until is not None  # the attackers are

    for name in names:
        assert sign_in(db, name, PASSWORD, HOME).ok, name  # the real users are not
    assert slept == [slowdown(2 * MAX_PER_NAME_AND_ADDRESS)] * len(names)  # only slowed down a little


def test_one_name_hammered_from_two_addresses_is_blocked_there_but_not_from_a_third(db):
    for attacker in ATTACKERS:
        for _ in range(4 * MAX_PER_NAME_AND_ADDRESS):
            sign_in(db, "wang.li", OTHER_PASSWORD, attacker)
    assert len(failure_times(db, "wang.li")) == 2 * MAX_PER_NAME_AND_ADDRESS  # the rest were refused
    assert all(sign_in(db, "wang.li", PASSWORD, a).blocked_until is not None for a in ATTACKERS)
    assert sign_in(db, "wang.li", PASSWORD, HOME).ok


def test_one_failure_fewer_than_the_limit_does_not_block(db):
    for _ in range(MAX_PER_NAME_AND_ADDRESS - 1):
        sign_in(db, "wang.li", OTHER_PASSWORD, HOME)
    assert sign_in(db, "wang.li", PASSWORD, HOME).ok


def test_the_limit_is_per_name(db):
    add_user(db, "zhao.min", PASSWORD, "analyst", "220100")
    for _ in range(MAX_PER_NAME_AND_ADDRESS):
        sign_in(db, "wang.li", OTHER_PASSWORD, HOME)
    assert sign_in(db, "wang.li", PASSWORD, HOME).blocked_until is not None
    assert sign_in(db, "zhao.min", PASSWORD, HOME).ok  # same address, another account


# --- Names that do not exist ------------------------------------------------------------------------


def test_an_unknown_name_is_blocked_on_its_6th_failure_exactly_like_a_known_one(db):
    # Old code: the known name answered "blocked" on its 6th failure, the unknown one never did.
    known = [sign_in(db, "wang.li", OTHER_PASSWORD, HOME) for _ in range(MAX_PER_NAME_AND_ADDRESS + 1)]
    unknown = [sign_in(db, "wang.lii", OTHER_PASSWORD, ELSEWHERE) for _ in range(MAX_PER_NAME_AND_ADDRESS + 1)]

    assert known[:-1] == unknown[:-1] == [SignIn(None)] * MAX_PER_NAME_AND_ADDRESS
    assert type(known[-1]) is type(unknown[-1]) is SignIn
    assert (known[-1].ok, known[-1].user) == (unknown[-1].ok, unknown[-1].user) == (False, None)
    failures = {address: sorted(r.at for r in audit_rows(db, "signin.failure") if r.address == address)
                for address in (HOME, ELSEWHERE)}
    assert known[-1].blocked_until == failures[HOME][0] + WINDOW
    assert unknown[-1].blocked_until == failures[ELSEWHERE][0] + WINDOW
    assert [len(f) for f in failures.values()] == [MAX_PER_NAME_AND_ADDRESS] * 2
    blocked = {r.address: r for r in audit_rows(db, "signin.blocked")}
    assert blocked[HOME].details.keys() == blocked[ELSEWHERE].details.keys() == {"until", "name_key"}
    assert (blocked[HOME].username, blocked[ELSEWHERE].username) == ("wang.li", None)


def test_names_are_counted_by_a_keyed_hash_so_an_unknown_name_is_never_stored_in_clear(db):
    for _ in range(MAX_PER_NAME_AND_ADDRESS + 2):  # failures, then blocked attempts
        sign_in(db, "wang.lii", PASSWORD, HOME)
    assert audit_rows(db, "signin.blocked") != []
    with db.connect() as conn:
        stored = conn.execute(sa.text("SELECT string_agg(CAST(a AS text), ' ') FROM audit_log a")).scalar_one()
        salt = conn.execute(sa.text("SELECT value #>> '{}' FROM settings WHERE key = :k"),
                            {"k": SALT_SETTING}).scalar_one()
    assert "wang.lii" not in stored.lower() and PASSWORD not in stored
    key = key_of(db, "wang.lii")
    assert {r.details["name_key"] for r in audit_rows(db) if r.action.startswith("signin.")} == {key}
    assert key != hashlib.sha256(b"wang.lii").hexdigest()  # keyed with the database's random salt
    assert len(salt) == 64 and key_of(db, "wang.lii") == key  # created once, then reused
    assert key_of(db, " ｗａｎｇ.ｌｉｉ ") == key  # normalised: full-width letters, surrounding spaces


def test_verifying_against_no_hash_still_runs_a_full_argon2_check(monkeypatch):
    # An unknown name costs the same password check as a known one.
    checked: list[str] = []

    class Spy:
        def verify(self, password_hash: str, password: str) -> bool:
            checked.append(password_hash)
            return True

    monkeypatch.setattr(users, "_hasher", Spy())
    assert users.verify_password(None, PASSWORD) is False
    assert checked == [users._DUMMY_HASH] and checked[0].startswith("$argon2id$")


# --- The slowdown -----------------------------------------------------------------------------------


def test_the_slowdown_grows_with_a_names_failures_up_to_a_cap():
    assert (SLOWDOWN_AFTER, SLOWDOWN_STEP, SLOWDOWN_MAX) == (10, 0.5, 5.0)
    assert [slowdown(n) for n in (0, 5, 9)] == [0.0, 0.0, 0.0]
    assert [slowdown(n) for n in (10, 11, 12, 18)] == [0.5, 1.0, 1.5, 4.5]
    assert slowdown(19) == slowdown(1000) == SLOWDOWN_MAX


def test_many_failures_from_many_addresses_slow_the_name_down_but_the_right_password_signs_in(db, slept):
    # Old code: 12 failures locked the account; now they only slow it down.
    backdate_name_failures(db, 12, "3 minutes", "wang.li", spread=True)
    assert sign_in(db, "wang.li", PASSWORD, HOME).ok
    assert slept == [slowdown(12)] == [1.5]


def test_each_further_failure_lengthens_the_wait(db, slept):
    backdate_name_failures(db, SLOWDOWN_AFTER, "3 minutes", "wang.li", spread=True)
    for _ in range(3):
        assert not sign_in(db, "wang.li", OTHER_PASSWORD, HOME).ok
    assert slept == [0.5, 1.0, 1.5]


def test_below_the_threshold_nothing_waits(db, slept):
    backdate_name_failures(db, SLOWDOWN_AFTER - 1, "3 minutes", "wang.li", spread=True)
    assert sign_in(db, "wang.li", PASSWORD, HOME).ok
    assert slept == []


def test_an_unknown_name_is_slowed_down_exactly_like_a_known_one(db, slept):
    backdate_name_failures(db, 12, "3 minutes", "wang.li", spread=True)
    backdate_name_failures(db, 12, "3 minutes", "no.such.user", spread=True)
    assert sign_in(db, "wang.li", OTHER_PASSWORD, HOME) == sign_in(db, "no.such.user", OTHER_PASSWORD, HOME)
    assert slept == [1.5, 1.5]


def test_the_slowdown_counts_only_failures_in_the_window_and_since_the_last_success(db, slept):
    older = f"{int(WINDOW.total_seconds() // 60) + 1} minutes"
    backdate_name_failures(db, 30, older, "wang.li", spread=True)
    backdate_name_failures(db, 12, "5 minutes", "wang.li", spread=True)
    with db.begin() as conn:  # a success 4 minutes ago
        conn.execute(sa.text("INSERT INTO audit_log (at, username, action, details) VALUES "
                             "(now() - interval '4 minutes', 'wang.li', 'signin.success', "
                             "jsonb_build_object('name_key', CAST(:k AS text)))"), {"k": key_of(db, "wang.li")})
    backdate_name_failures(db, SLOWDOWN_AFTER - 1, "3 minutes", "wang.li", spread=True)
    assert sign_in(db, "wang.li", PASSWORD, HOME).ok
    assert slept == []


# --- Rate limit per address -------------------------------------------------------------------------


def test_after_max_failures_from_one_address_across_accounts_that_address_is_blocked(db):
    # Spread the failures so that no name reaches its own limit.
    per_account = MAX_PER_NAME_AND_ADDRESS - 1
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


def test_an_attempt_without_an_address_is_limited_per_name_only(db):
    backdate_failures(db, MAX_PER_ADDRESS, "1 minute", address=None)
    assert sign_in(db, "wang.li", PASSWORD, None).ok
    # Attempts without an address share one (name, no address) limit.
    backdate_name_failures(db, MAX_PER_NAME_AND_ADDRESS, "1 minute", "zhao.min", address=None)
    assert sign_in(db, "zhao.min", PASSWORD, None).blocked_until is not None
    assert sign_in(db, "zhao.min", PASSWORD, HOME).blocked_until is None


def test_failures_at_many_names_from_one_address_block_the_address_for_every_name(db):
    for i in range(MAX_PER_ADDRESS):  # one failure each at names that do not exist
        assert sign_in(db, f"guess{i}", OTHER_PASSWORD, HOME).blocked_until is None
    assert sign_in(db, "wang.li", PASSWORD, HOME).blocked_until is not None
    assert sign_in(db, "wang.li", PASSWORD, ELSEWHERE).ok


# --- The window -------------------------------------------------------------------------------------


def test_failures_older_than_the_window_do_not_count(db):
    older = f"{int(WINDOW.total_seconds() // 60) + 1} minutes"
    backdate_name_failures(db, MAX_PER_NAME_AND_ADDRESS, older, "wang.li")
    backdate_failures(db, MAX_PER_ADDRESS, older, address=HOME)
    assert sign_in(db, "wang.li", PASSWORD, HOME).ok


def test_old_and_recent_failures_together_only_the_recent_ones_count(db):
    older = f"{int(WINDOW.total_seconds() // 60) + 1} minutes"
    backdate_name_failures(db, 10, older, "wang.li")
    backdate_name_failures(db, MAX_PER_NAME_AND_ADDRESS - 1, "2 minutes", "wang.li")
    sign_in(db, "wang.li", OTHER_PASSWORD, HOME)  # the limit-th recent failure
    assert sign_in(db, "wang.li", PASSWORD, HOME).blocked_until is not None


def test_a_successful_sign_in_clears_the_names_earlier_failures(db):
    backdate_name_failures(db, MAX_PER_NAME_AND_ADDRESS - 1, "2 minutes", "wang.li")
    assert sign_in(db, "wang.li", PASSWORD, HOME).ok
    sign_in(db, "wang.li", OTHER_PASSWORD, HOME)  # one typo after signing in does not lock the account
    assert sign_in(db, "wang.li", PASSWORD, HOME).ok


def test_simultaneous_guesses_from_one_address_all_count_against_the_limit(db):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(lambda _: sign_in(db, "wang.li", OTHER_PASSWORD, HOME), range(12)))
    checked = [o for o in outcomes if o.blocked_until is None]
    assert len(checked) == MAX_PER_NAME_AND_ADDRESS  # the rest were refused without a password check
    assert sign_in(db, "wang.li", PASSWORD, HOME).blocked_until is not None


def test_simultaneous_guesses_from_many_addresses_all_count_for_the_slowdown(db, slept):
    from concurrent.futures import ThreadPoolExecutor

    # Changed on purpose: these used to lock the account; now they slow it down.
    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(lambda i: sign_in(db, "wang.li", OTHER_PASSWORD, f"10.0.0.{i}"), range(12)))
    assert all(o.blocked_until is None and not o.ok for o in outcomes)
    assert sorted(slept) == [0.5, 1.0]  # the 11th and 12th, whatever order they ran in
    assert sign_in(db, "wang.li", PASSWORD, HOME).ok
    assert slept[-1] == slowdown(12)


def test_the_block_ends_when_the_oldest_counted_failure_leaves_the_window(db):
    # MAX failures 14 minutes ago (WINDOW is 15): blocked for about one more minute.
    assert WINDOW == timedelta(minutes=15)
    backdate_name_failures(db, MAX_PER_NAME_AND_ADDRESS, "14 minutes", "wang.li")
    result = sign_in(db, "wang.li", PASSWORD, HOME)
    left = result.blocked_until - now(db)
    assert timedelta(seconds=50) < left < timedelta(seconds=70)
    assert result.blocked_until.tzinfo is not None
    assert result.blocked_until > datetime.now(UTC)

    # Age those failures by two more minutes: they leave the window and the right password works.
    with db.begin() as conn:
        conn.execute(sa.text("UPDATE audit_log SET at = at - interval '2 minutes' WHERE action = 'signin.failure'"))
    assert sign_in(db, "wang.li", PASSWORD, HOME).ok


# --- Unlock -----------------------------------------------------------------------------------------


def test_unlock_lifts_the_names_blocks_and_slowdown_and_is_audited(db, slept):
    backdate_name_failures(db, 12, "3 minutes", "wang.li", spread=True)
    backdate_name_failures(db, MAX_PER_NAME_AND_ADDRESS, "2 minutes", "wang.li")
    assert sign_in(db, "wang.li", PASSWORD, HOME).blocked_until is not None

    signin.unlock(db, "wang.li", by="admin.zhang")

    (row,) = audit_rows(db, "user.unlock")
    assert (row.username, row.object, row.details) == ("admin.zhang", "wang.li", {"name_key": key_of(db, "wang.li")})
    assert sign_in(db, "wang.li", PASSWORD, HOME).ok
    assert slept == []


def test_unlock_leaves_an_addresss_own_limit(db):
    backdate_failures(db, MAX_PER_ADDRESS, "1 minute", address=HOME)
    signin.unlock(db, "wang.li", by="admin.zhang")
    assert sign_in(db, "wang.li", PASSWORD, HOME).blocked_until is not None


def test_failures_after_an_unlock_count_again(db):
    signin.unlock(db, "wang.li", by="admin.zhang")
    for _ in range(MAX_PER_NAME_AND_ADDRESS):
        sign_in(db, "wang.li", OTHER_PASSWORD, HOME)
    assert sign_in(db, "wang.li", PASSWORD, HOME).blocked_until is not None


def test_unlocking_an_unknown_user_is_refused_and_changes_nothing(db):
    before = audit_rows(db)
    with pytest.raises(UserError, match="no user 'nobody'"):
        signin.unlock(db, "nobody", by="admin.zhang")
    assert audit_rows(db) == before
