"""``opsmon users …`` and ``opsmon periods …``: thin commands over opsmon.access, on a per-test database.

(Named test_access_cli.py: tests/test_cli.py already holds the basename test_cli.)
"""

from __future__ import annotations

import getpass
import json

import click
import pytest
import sqlalchemy as sa
from access_helpers import OTHER_PASSWORD, PASSWORD, audit_rows
from click.testing import CliRunner
from test_store import A

from opsmon.access import get_user
from opsmon.access.users import verify_password
from opsmon.cli import cli

pytestmark = pytest.mark.usefixtures("fast_argon2")

CLI_USER = f"cli:{getpass.getuser()}"


def run(url: str, *args: str, input: str | None = None):
    return CliRunner().invoke(cli, list(args), env={"DATABASE_URL": url}, input=input)


def add(url: str, username: str, role: str, unit: str, *extra: str, password: str = PASSWORD):
    return run(url, "users", "add", username, "--role", role, "--unit", unit, *extra, "--password-stdin",
               input=password + "\n")


def user_count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM users")).scalar_one()


def assert_clean_failure(result, message: str) -> None:
    """Exit code 1, one line 'Error: …' on stderr, no traceback."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)  # a ClickException, not a crash
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"Error: {message}")
    assert "Traceback" not in result.output


# --- users add --------------------------------------------------------------------------------------


def test_users_add_reads_the_password_from_stdin(url, registered):
    result = add(url, "clerk.a", "hospital", A, "--name", "李护士")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"added clerk.a (hospital, {A})\n"
    user = get_user(registered, "clerk.a")
    assert (user.role, user.hospital_code, user.display_name) == ("hospital", A, "李护士")
    assert user.password_hash.startswith("$argon2id$")
    assert verify_password(user.password_hash, PASSWORD)


def test_a_password_on_stdin_keeps_inner_and_trailing_spaces_but_not_the_line_end(url, registered):
    assert add(url, "wang.li", "analyst", "220100", password="  spaced out pass  \r").exit_code == 0
    assert verify_password(get_user(registered, "wang.li").password_hash, "  spaced out pass  ")


def test_users_add_prompts_twice_without_echoing_the_password(url, registered):
    result = run(url, "users", "add", "wang.li", "--role", "analyst", "--unit", "220100",
                 input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "Password for wang.li" in result.output
    assert "Repeat for confirmation" in result.output
    assert PASSWORD not in result.output
    assert verify_password(get_user(registered, "wang.li").password_hash, PASSWORD)


def test_a_mismatched_confirmation_asks_again(url, registered):
    result = run(url, "users", "add", "wang.li", "--role", "analyst", "--unit", "220100",
                 input=f"{PASSWORD}\n{OTHER_PASSWORD}\n{OTHER_PASSWORD}\n{OTHER_PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output
    assert verify_password(get_user(registered, "wang.li").password_hash, OTHER_PASSWORD)


def test_the_audit_row_names_the_os_user_and_holds_no_password(url, registered):
    add(url, "wang.li", "analyst", "220100")
    (row,) = audit_rows(registered, "user.add")
    assert (row.username, row.object) == (CLI_USER, "wang.li")
    assert PASSWORD not in row.whole


def test_no_command_accepts_a_password_as_an_argument(url, registered):
    for name in ("add", "passwd"):
        command = cli.commands["users"].commands[name]
        takes_a_value = [p.name for p in command.params if "password" in (p.name or "")
                         and not (isinstance(p, click.Option) and p.is_flag)]
        assert takes_a_value == [], name
    result = run(url, "users", "add", "wang.li", "--role", "analyst", "--unit", "220100", "--password", PASSWORD)
    assert result.exit_code == 2
    assert user_count(registered) == 0


@pytest.mark.parametrize(("role", "unit", "message"), [
    ("boss", "220100", "unknown role 'boss'; roles: admin, leader, analyst, supervisor, hospital"),
    ("analyst", "229999", "unknown org unit '229999'"),
    ("hospital", "220102", "a hospital user belongs to a hospital, not a county (220102)"),
    ("supervisor", "220000", "a supervisor user belongs to a prefecture or county, not a province (220000)"),
    ("admin", "220100", "a admin user belongs to a province or nation, not a prefecture (220100)"),
])
def test_a_bad_role_or_unit_exits_1_with_a_clear_message_and_creates_nothing(url, registered, role, unit, message):
    result = add(url, "someone", role, unit)
    assert_clean_failure(result, message)
    assert user_count(registered) == 0
    assert audit_rows(registered) == []


def test_a_bad_role_is_refused_before_the_password_is_asked_for(url, registered):
    result = run(url, "users", "add", "someone", "--role", "boss", "--unit", "220100")
    assert_clean_failure(result, "unknown role 'boss'")
    assert "Password" not in result.output


def test_a_weak_password_exits_1(url, registered):
    assert_clean_failure(add(url, "wang.li", "analyst", "220100", password="short"),
                         "password must be at least 10 characters")
    assert user_count(registered) == 0


def test_an_empty_stdin_exits_1(url, registered):
    result = run(url, "users", "add", "wang.li", "--role", "analyst", "--unit", "220100", "--password-stdin",
                 input="")
    assert_clean_failure(result, "no password on standard input")
    assert user_count(registered) == 0


def test_a_duplicate_user_exits_1_before_the_password_is_asked_for(url, registered):
    add(url, "wang.li", "analyst", "220100")
    result = run(url, "users", "add", "wang.li", "--role", "admin", "--unit", "220000")
    assert_clean_failure(result, "user 'wang.li' already exists")
    assert "Password" not in result.output
    assert get_user(registered, "wang.li").role == "analyst"


# --- users list -------------------------------------------------------------------------------------


def test_users_list_is_a_table_without_hashes(url, registered):
    add(url, "clerk.a", "hospital", A, "--name", "李护士")
    add(url, "cc.super", "supervisor", "220100")
    result = run(url, "users", "list")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["username", "display_name", "role", "unit", "unit_name", "disabled",
                                "last_login_at"]
    assert lines[1].split() == ["cc.super", "-", "supervisor", "220100", "长春市", "no", "-"]
    assert lines[2].split() == ["clerk.a", "李护士", "hospital", A, "长春市第一医院", "no", "-"]
    assert "$argon2" not in result.output


def test_users_list_as_json(url, registered):
    add(url, "cc.super", "supervisor", "220100")
    run(url, "users", "disable", "cc.super")
    result = run(url, "users", "list", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"users": [
        {"username": "cc.super", "display_name": None, "role": "supervisor", "unit": "220100",
         "unit_name": "长春市", "disabled": True, "last_login_at": None},
    ]}
    assert "$argon2" not in result.output


def test_users_list_shows_the_last_sign_in_in_local_time(url, registered):
    add(url, "wang.li", "analyst", "220100")
    with registered.begin() as conn:
        conn.execute(sa.text("UPDATE users SET last_login_at = '2025-03-01 01:30:00+00'"))
    assert "2025-03-01 09:30" in run(url, "users", "list").stdout
    (entry,) = json.loads(run(url, "users", "list", "--format", "json").stdout)["users"]
    assert entry["last_login_at"] == "2025-03-01T09:30:00+08:00"


def test_users_list_with_no_users(url):
    assert run(url, "users", "list").stdout == "no users\n"
    assert json.loads(run(url, "users", "list", "--format", "json").stdout) == {"users": []}


# --- users passwd / disable -------------------------------------------------------------------------


def test_users_passwd_sets_a_new_password(url, registered):
    add(url, "wang.li", "analyst", "220100")
    result = run(url, "users", "passwd", "wang.li", "--password-stdin", input=OTHER_PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert result.stdout == "password of wang.li changed\n"
    stored = get_user(registered, "wang.li").password_hash
    assert verify_password(stored, OTHER_PASSWORD) and not verify_password(stored, PASSWORD)
    (row,) = audit_rows(registered, "user.passwd")
    assert (row.username, row.object) == (CLI_USER, "wang.li")


def test_users_passwd_prompts_twice(url, registered):
    add(url, "wang.li", "analyst", "220100")
    result = run(url, "users", "passwd", "wang.li", input=f"{OTHER_PASSWORD}\n{OTHER_PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert verify_password(get_user(registered, "wang.li").password_hash, OTHER_PASSWORD)


def test_users_passwd_of_an_unknown_user_exits_1_without_asking(url):
    result = run(url, "users", "passwd", "nobody")
    assert_clean_failure(result, "no user 'nobody'")
    assert "Password" not in result.output


def test_users_disable_and_enable(url, registered):
    add(url, "wang.li", "analyst", "220100")
    result = run(url, "users", "disable", "wang.li")
    assert (result.exit_code, result.stdout) == (0, "disabled wang.li\n")
    assert get_user(registered, "wang.li").disabled
    result = run(url, "users", "disable", "wang.li", "--enable")
    assert (result.exit_code, result.stdout) == (0, "enabled wang.li\n")
    assert not get_user(registered, "wang.li").disabled
    assert [(r.action, r.username) for r in audit_rows(registered) if r.action != "user.add"] == [
        ("user.disable", CLI_USER), ("user.enable", CLI_USER)]


def test_users_disable_of_an_unknown_user_exits_1(url, registered):
    assert_clean_failure(run(url, "users", "disable", "nobody"), "no user 'nobody'")
    assert audit_rows(registered) == []


# --- users unlock -----------------------------------------------------------------------------------


def test_users_unlock_lifts_a_sign_in_block_and_writes_the_audit_row(url, registered):
    from opsmon.access import signin

    add(url, "wang.li", "analyst", "220100")
    for _ in range(signin.MAX_PER_NAME_AND_ADDRESS):
        signin.sign_in(registered, "wang.li", OTHER_PASSWORD, "10.1.2.3")
    assert signin.sign_in(registered, "wang.li", PASSWORD, "10.1.2.3").blocked_until is not None

    result = run(url, "users", "unlock", "wang.li")

    assert (result.exit_code, result.stdout) == (0, "unlocked sign-in of wang.li\n"), result.output
    (row,) = audit_rows(registered, "user.unlock")
    assert (row.username, row.object) == (CLI_USER, "wang.li")
    assert signin.sign_in(registered, "wang.li", PASSWORD, "10.1.2.3").ok


def test_users_unlock_of_an_unknown_user_exits_1_and_changes_nothing(url, registered):
    def settings():
        with registered.connect() as conn:
            return conn.execute(sa.text("SELECT key, value FROM settings ORDER BY key")).all()

    before = settings()
    assert_clean_failure(run(url, "users", "unlock", "nobody"), "no user 'nobody'")
    assert audit_rows(registered) == []
    assert settings() == before


# --- periods ----------------------------------------------------------------------------------------


def test_periods_lock_list_unlock(url, registered):
    result = run(url, "periods", "lock", "2025-03", "--reason", "季度审核完成", "--by", "王科长")
    assert (result.exit_code, result.stdout) == (0, "locked 2025-03\n")

    listed = run(url, "periods", "list")
    assert listed.exit_code == 0
    header, row = listed.stdout.splitlines()
    assert header.split() == ["period", "locked_by", "locked_at", "reason"]
    assert row.split()[:2] == ["2025-03", "王科长"] and row.split()[-1] == "季度审核完成"

    (lock,) = json.loads(run(url, "periods", "list", "--format", "json").stdout)["locks"]
    assert (lock["period"], lock["locked_by"], lock["reason"]) == ("2025-03", "王科长", "季度审核完成")
    assert lock["locked_at"].endswith("+08:00")

    result = run(url, "periods", "unlock", "2025-03", "--by", "王科长")
    assert (result.exit_code, result.stdout) == (0, "unlocked 2025-03\n")
    assert run(url, "periods", "list").stdout == "no locked periods\n"
    assert [(r.action, r.username, r.object) for r in audit_rows(registered)] == [
        ("period.lock", "王科长", "2025-03"), ("period.unlock", "王科长", "2025-03")]


def test_periods_lock_is_by_the_os_user_by_default(url, registered):
    assert run(url, "periods", "lock", "2025-03").exit_code == 0
    (lock,) = json.loads(run(url, "periods", "list", "--format", "json").stdout)["locks"]
    assert lock["locked_by"] == getpass.getuser()


def test_locking_twice_or_unlocking_an_open_period_says_so_and_changes_nothing(url, registered):
    run(url, "periods", "lock", "2025-03", "--by", "王科长")
    again = run(url, "periods", "lock", "2025-03", "--by", "someone")
    assert (again.exit_code, again.stdout) == (0, "2025-03 was already locked\n")
    (lock,) = json.loads(run(url, "periods", "list", "--format", "json").stdout)["locks"]
    assert lock["locked_by"] == "王科长"
    open_ = run(url, "periods", "unlock", "2025-04")
    assert (open_.exit_code, open_.stdout) == (0, "2025-04 was not locked\n")


@pytest.mark.parametrize("command", ["lock", "unlock"])
def test_a_bad_period_exits_1_with_a_clear_message(url, registered, command):
    assert_clean_failure(run(url, "periods", command, "2025-13"), "a period is 'YYYY-MM', got '2025-13'")
    assert audit_rows(registered) == []


def test_an_empty_by_is_a_usage_error(url, registered):
    result = run(url, "periods", "lock", "2025-03", "--by", " ")
    assert result.exit_code == 2
    assert audit_rows(registered) == []
