"""Load a province's region hierarchy (shipped in ``assets/geo/<adcode>/``) into ``regions``."""

from __future__ import annotations

import json

import sqlalchemy as sa

from opsmon import geo


class ProvinceMismatch(RuntimeError):
    """The database already holds another province."""


def load(conn: sa.Connection, province: str) -> int:
    """Upsert *province*'s regions in one statement; return how many rows it holds.

    A database serves one province: asking for another one is refused rather
    than mixing two hierarchies.
    """
    current = conn.execute(sa.text("SELECT value #>> '{}' FROM settings WHERE key = 'province'")).scalar()
    if current is not None and current != province:
        raise ProvinceMismatch(
            f"this database holds province {current}; OPSMON_PROVINCE is {province}. "
            "Use a separate database for each province."
        )
    frame = geo.load_regions(province)
    rows = frame[["adcode", "name", "level", "parent_adcode", "geo_parent_adcode"]].to_dict("records")
    # One multi-row statement: foreign keys are checked at its end, so parents and
    # children may arrive in any order.
    conn.execute(
        sa.text(
            "INSERT INTO regions (adcode, name, level, parent_adcode, geo_parent_adcode) "
            "SELECT * FROM json_to_recordset(:rows) AS r(adcode text, name text, level text, "
            "parent_adcode text, geo_parent_adcode text) "
            "ON CONFLICT (adcode) DO UPDATE SET name = EXCLUDED.name, level = EXCLUDED.level, "
            "parent_adcode = EXCLUDED.parent_adcode, geo_parent_adcode = EXCLUDED.geo_parent_adcode"
        ),
        {"rows": json.dumps(rows, ensure_ascii=False)},
    )
    conn.execute(
        sa.text(
            "INSERT INTO settings (key, value) VALUES ('province', to_jsonb(CAST(:p AS text))) "
            "ON CONFLICT (key) DO NOTHING"
        ),
        {"p": province},
    )
    return len(rows)
