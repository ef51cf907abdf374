"""Users (opsmon.access.users): argon2 hashes only, units that fit the role, and an audit row for every change."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from access_helpers import OTHER_PASSWORD, PASSWORD, audit_rows
from test_store import UNREGISTERED, A

from opsmon.access import UserError, add_user, get_user, list_users, set_disabled, set_password
from opsmon.access.users import MIN_PASSWORD_LENGTH, verify_password


def stored_hash(engine, username: str) -> str:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT password_hash FROM users WHERE username = :u"),
                            {"u": username}).scalar_one()


def user_count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM users")).scalar_one()


# --- Passwords --------------------------------------------------------------------------------------


def test_the_password_is_stored_only_as_an_argon2id_hash(registered):
    add_user(registered, "wang.li", PASSWORD, "analyst", "220100")
    stored = stored_hash(registered, "wang.li")
    assert stored.startswith("$argon2id$")
    assert stored != PASSWORD
    assert PASSWORD not in stored
    with registered.connect() as conn:  # and nowhere else in the row
        row = conn.execute(sa.text("SELECT CAST(u AS text) FROM users u WHERE username = 'wang.li'")).scalar_one()
    assert PASSWORD not in row


def test_two_users_with_the_same_password_get_different_hashes(registered):
    add_user(registered, "wang.li", PASSWORD, "analyst", "220100")
    add_user(registered, "zhao.min", PASSWORD, "analyst", "220100")
    assert stored_hash(registered, "wang.li") != stored_hash(registered, "zhao.min")  # salted


def test_the_hash_verifies_the_right_password_and_not_a_wrong_one(registered):
    user = add_user(registered, "wang.li", PASSWORD, "analyst", "220100")
    assert verify_password(user.password_hash, PASSWORD)
    assert not verify_password(user.password_hash, OTHER_PASSWORD)
    assert not verify_password(user.password_hash, PASSWORD.upper())
    assert not verify_password(None, PASSWORD)  # no such user
    assert not verify_password("not a hash", PASSWORD)


def test_a_too_short_password_is_refused_and_nothing_is_created(registered):
    with pytest.raises(UserError, match=f"at least {MIN_PASSWORD_LENGTH} characters"):
        add_user(registered, "wang.li", "x" * (MIN_PASSWORD_LENGTH - 1), "analyst", "220100")
    assert get_user(registered, "wang.li") is None
    assert audit_rows(registered) == []


def test_the_user_name_is_refused_as_password(registered):
    with pytest.raises(UserError, match="must not be the user name"):
        add_user(registered, "wang.li.220100", "Wang.Li.220100", "analyst", "220100")
    assert get_user(registered, "wang.li.220100") is None


def test_a_weak_new_password_is_refused_and_the_old_one_still_works(registered):
    add_user(registered, "wang.li", PASSWORD, "analyst", "220100")
    with pytest.raises(UserError, match="at least"):
        set_password(registered, "wang.li", "short")
    assert verify_password(get_user(registered, "wang.li").password_hash, PASSWORD)


def test_set_password_replaces_the_hash_and_ends_sessions(registered):
    before = add_user(registered, "wang.li", PASSWORD, "analyst", "220100")
    set_password(registered, "wang.li", OTHER_PASSWORD)
    after = get_user(registered, "wang.li")
    assert after.password_hash.startswith("$argon2id$")
    assert verify_password(after.password_hash, OTHER_PASSWORD)
    assert not verify_password(after.password_hash, PASSWORD)
    assert after.session_token != before.session_token


def test_set_password_of_an_unknown_user_is_refused(registered):
    with pytest.raises(UserError, match="no user 'nobody'"):
        set_password(registered, "nobody", PASSWORD)
    assert audit_rows(registered) == []


# --- Role and unit ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "unit"), [
    ("admin", "220000"),       # the province
    ("leader", "220000"),
    ("leader", "220100"),      # 长春市, a prefecture
    ("analyst", "220102"),     # 南关区, a county
    ("supervisor", "220100"),
    ("supervisor", "220102"),
    ("hospital", A),           # a registered hospital
])
def test_a_unit_that_fits_the_role_is_accepted(registered, role, unit):
    user = add_user(registered, "someone", PASSWORD, role, unit)
    assert (user.role, user.scope) == (role, unit)
    assert (user.hospital_code is not None) == (role == "hospital")


@pytest.mark.parametrize(("role", "unit", "message"), [
    ("hospital", "220102", "a hospital user belongs to a hospital, not a county"),
    ("hospital", "220000", "a hospital user belongs to a hospital, not a province"),
    ("supervisor", "220000", "a supervisor user belongs to a prefecture or county, not a province"),
    ("supervisor", A, "a supervisor user belongs to a prefecture or county, not a hospital"),
    ("admin", "220100", "a admin user belongs to a province or nation, not a prefecture"),
    ("admin", A, "not a hospital"),
    ("leader", A, "not a hospital"),
    ("analyst", A, "not a hospital"),
])
def test_a_unit_that_does_not_fit_the_role_is_refused(registered, role, unit, message):
    with pytest.raises(UserError, match=message):
        add_user(registered, "someone", PASSWORD, role, unit)
    assert user_count(registered) == 0
    assert audit_rows(registered) == []


@pytest.mark.parametrize("unit", ["229999", UNREGISTERED, "ABC", ""])
def test_an_unknown_unit_is_refused(registered, unit):
    with pytest.raises(UserError, match="unknown org unit"):
        add_user(registered, "someone", PASSWORD, "hospital" if len(unit) == 18 else "analyst", unit)
    assert user_count(registered) == 0


def test_a_unit_is_read_without_surrounding_spaces_and_in_upper_case(registered):
    user = add_user(registered, "clerk.a", PASSWORD, "hospital", " " + A.lower() + " ")
    assert user.hospital_code == A


def test_an_unknown_role_is_refused(registered):
    with pytest.raises(ValueError, match="unknown role 'boss'"):
        add_user(registered, "someone", PASSWORD, "boss", "220000")
    assert user_count(registered) == 0


# --- Names ------------------------------------------------------------------------------------------


def test_a_duplicate_user_is_refused_and_the_first_is_unchanged(registered):
    first = add_user(registered, "wang.li", PASSWORD, "analyst", "220100")
    with pytest.raises(UserError, match="already exists"):
        add_user(registered, "wang.li", OTHER_PASSWORD, "admin", "220000")
    assert get_user(registered, "wang.li") == first
    assert len(audit_rows(registered, "user.add")) == 1


@pytest.mark.parametrize("username", ["a", "wang li", "王力", "x" * 65])
def test_a_user_name_outside_the_allowed_characters_is_refused(registered, username):
    with pytest.raises(UserError, match="is not allowed"):
        add_user(registered, username, PASSWORD, "analyst", "220100")
    assert user_count(registered) == 0


# --- Disable / enable -------------------------------------------------------------------------------


def test_disable_and_enable(registered):
    before = add_user(registered, "wang.li", PASSWORD, "analyst", "220100")
    set_disabled(registered, "wang.li")
    disabled = get_user(registered, "wang.li")
    assert disabled.disabled
    assert disabled.session_token != before.session_token  # sessions end
    set_disabled(registered, "wang.li", False)
    assert not get_user(registered, "wang.li").disabled


def test_disabling_an_unknown_user_is_refused(registered):
    with pytest.raises(UserError, match="no user 'nobody'"):
        set_disabled(registered, "nobody")


# --- The audit trail --------------------------------------------------------------------------------


def test_every_change_writes_an_audit_row_naming_who_and_whom_and_no_password(registered):
    add_user(registered, "wang.li", PASSWORD, "analyst", "220100", display_name="王力", by="cli:root")
    set_password(registered, "wang.li", OTHER_PASSWORD, by="cli:root")
    set_disabled(registered, "wang.li", by="admin.zhang")
    set_disabled(registered, "wang.li", False, by="admin.zhang")

    rows = audit_rows(registered)
    assert [(r.action, r.username, r.object) for r in rows] == [
        ("user.add", "cli:root", "wang.li"),
        ("user.passwd", "cli:root", "wang.li"),
        ("user.disable", "admin.zhang", "wang.li"),
        ("user.enable", "admin.zhang", "wang.li"),
    ]
    assert rows[0].details == {"role": "analyst", "unit": "220100"}
    for row in rows:
        assert PASSWORD not in row.whole and OTHER_PASSWORD not in row.whole
        assert "$argon2" not in row.whole


def test_list_users_shows_role_unit_and_unit_name_but_no_hash(registered):
    add_user(registered, "clerk.a", PASSWORD, "hospital", A, display_name="李护士")
    add_user(registered, "cc.super", PASSWORD, "supervisor", "220100")
    set_disabled(registered, "cc.super")
    frame = list_users(registered)
    assert list(frame.columns) == ["username", "display_name", "role", "unit", "unit_name", "disabled",
                                   "last_login_at"]
    assert frame[["username", "role", "unit", "unit_name", "disabled"]].values.tolist() == [
        ["cc.super", "supervisor", "220100", "长春市", True],
        ["clerk.a", "hospital", A, "长春市第一医院", False],
    ]
    assert "$argon2" not in frame.to_csv()
