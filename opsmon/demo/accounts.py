"""The demo's sign-in accounts: one per role, including a prefecture supervisor and a hospital user.

Their passwords are printed by ``opsmon demo`` and are public: never create them
in a real deployment (``opsmon users add`` makes real accounts).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from opsmon.access import users
from opsmon.indicators import restrict

SUPERVISED_PREFECTURE = "220100"  # 长春市


@dataclass(frozen=True)
class DemoAccount:
    """One demo login."""

    username: str
    password: str
    role: str
    unit: str
    unit_name: str


def _units(engine: Engine) -> dict[str, tuple[str, str]]:
    """role → (unit code, unit name) in this database."""
    with engine.connect() as conn:
        # The top of the hierarchy: the province, or the nation in a national instance.
        province = conn.execute(sa.text("SELECT adcode, name FROM regions WHERE parent_adcode IS NULL")).one()
        prefecture = conn.execute(sa.text("SELECT adcode, name FROM regions WHERE adcode = :p"),
                                  {"p": SUPERVISED_PREFECTURE}).one()
        # The first open hospital of the supervised prefecture: the hospital user's and supervisor's views overlap.
        hospital = conn.execute(sa.text(
            "SELECT h.hospital_code, h.name FROM hospitals h JOIN region_ancestors a ON a.adcode = h.adcode "
            f"WHERE a.ancestor_adcode = :p AND {restrict.open_at('h')} ORDER BY h.hospital_code LIMIT 1"),
            {"p": SUPERVISED_PREFECTURE}).one()
    p, pref, h = tuple(province), tuple(prefecture), (hospital[0].strip(), hospital[1])
    return {"admin": p, "leader": p, "analyst": p, "supervisor": pref, "hospital": h}


def ensure_demo_accounts(engine: Engine) -> list[DemoAccount]:
    """Create the demo accounts that do not exist yet (the registry must be loaded); return all of them."""
    accounts = []
    for role, (unit, unit_name) in _units(engine).items():
        account = DemoAccount(f"demo-{role}", f"opsmon-{role}-demo", role, unit, unit_name)
        if users.get_user(engine, account.username) is None:
            users.add_user(engine, account.username, account.password, role, unit,
                           display_name=f"演示{unit_name}", by="opsmon demo")
        accounts.append(account)
    return accounts


def accounts_table(accounts: list[DemoAccount]) -> str:
    """The accounts as lines for the terminal."""
    width = max(len(a.username) for a in accounts)
    lines = ["demo sign-ins (public passwords: for the demo only):"]
    lines += [f"  {a.username:<{width}}  password {a.password:<24} {a.role:<10} {a.unit} {a.unit_name}"
              for a in accounts]
    return "\n".join(lines)
