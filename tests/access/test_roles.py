"""The roles as data (opsmon.access.roles), and README's roles table agreeing with them."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsmon.access import roles

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def readme_roles() -> dict[str, list[str]]:
    """README's "## Roles" table: role id → its cells (who, view, export, upload, org unit)."""
    section = README.split("## Roles\n", 1)[1].split("\n## ", 1)[0]
    rows = [line.strip("|").split("|") for line in section.splitlines() if line.startswith("| `")]
    return {cells[0].strip().strip("`"): [c.strip() for c in cells[1:]] for cells in rows}


def test_the_five_roles():
    assert list(roles.ROLES) == ["admin", "leader", "analyst", "supervisor", "hospital"]
    assert roles.with_permission("admin") == ["admin"]
    assert roles.with_permission("export") == ["admin", "analyst", "supervisor"]
    assert roles.with_permission("upload") == ["admin", "analyst", "hospital"]
    assert roles.with_permission("view_regions") == ["admin", "leader", "analyst", "supervisor"]


def test_an_unknown_role_is_a_value_error_listing_the_roles():
    with pytest.raises(ValueError, match="unknown role 'boss'; roles: admin, leader, analyst, supervisor, hospital"):
        roles.get("boss")


def test_only_hospital_users_belong_to_hospitals_and_only_admins_need_the_province():
    assert [r.id for r in roles.ROLES.values() if "hospital" in r.units] == ["hospital"]
    assert roles.get("admin").units == ("province", "nation")
    assert "province" not in roles.get("supervisor").units


def test_the_readme_roles_table_matches_the_roles():
    table = readme_roles()
    assert list(table) == list(roles.ROLES)
    for role in roles.ROLES.values():
        who, view, export, upload, unit = table[role.id]
        assert role.zh in who
        assert (view == "region pages") == role.view_regions, role.id
        assert export == ("yes" if role.export else "no"), role.id
        assert [k.strip() for k in upload.split("(")[0].split(",") if k.strip() != "—"] == list(role.upload_kinds)
        for level in role.units:
            assert level in unit, (role.id, level)
