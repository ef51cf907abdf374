"""The five roles as data: what each may do and which org units it may belong to.

A user has one role and one org unit. The unit is the user's *scope*: a region
adcode (they see that region and everything under it) or, for hospital users,
a hospital code (they see only that hospital). The scope is what every read
passes to :func:`opsmon.indicators.query` and every upload to ingest.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Role:
    """What a role may do."""

    id: str
    zh: str
    en: str
    units: tuple[str, ...]  # the org-unit levels a user of this role may belong to
    view_regions: bool  # region-level pages: overview, rankings, trends, risk, targets
    export: bool  # download tables
    upload_kinds: tuple[str, ...]  # file kinds the role may submit (within its scope)
    admin: bool = False  # users, locks, audit log, configuration
    # Risk disposal (opsmon.disposal): "supervise" assigns, returns, closes, reopens (escalates at the
    # top of the hierarchy); "respond" answers for its own hospital; "" only looks.
    disposal: str = ""


ROLES: dict[str, Role] = {r.id: r for r in (
    # "nation" exists only in a national instance; an administrator sits at the top (see users._unit).
    Role("admin", "系统管理员", "Administrator", ("province", "nation"), True, True,
         ("monthly", "progress", "registry"), admin=True, disposal="supervise"),
    Role("leader", "委领导", "Leader", ("nation", "province", "prefecture", "county"), True, False, ()),
    # Analysts bulk-load history for their area as well as export it.
    Role("analyst", "数据分析员", "Analyst", ("nation", "province", "prefecture", "county"), True, True,
         ("monthly", "progress")),
    Role("supervisor", "市县卫生健康委", "Supervisor", ("prefecture", "county"), True, True, (), disposal="supervise"),
    Role("hospital", "医院填报员", "Hospital", ("hospital",), False, False, ("monthly", "progress"),
         disposal="respond"),
)}


def get(role_id: str) -> Role:
    """The role *role_id*; ``ValueError`` for an unknown one."""
    try:
        return ROLES[role_id]
    except KeyError:
        raise ValueError(f"unknown role {role_id!r}; roles: {', '.join(ROLES)}") from None


def with_permission(permission: str) -> list[str]:
    """Ids of the roles that have *permission* ('view_regions', 'export', 'admin', 'upload')."""
    if permission == "upload":
        return [r.id for r in ROLES.values() if r.upload_kinds]
    return [r.id for r in ROLES.values() if getattr(r, permission)]
