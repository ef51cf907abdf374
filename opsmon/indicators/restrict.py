"""What a query may see, as SQL conditions with bound parameters.

*scope* is the part of the province a user is limited to — a region adcode
(6 digits) or a hospital code (18-character USCC) — and is enforced in the SQL
of every read, never by filtering a frame afterwards:

* a region scope sees the hospitals of that region and its descendants, and the
  region rows of that region and its descendants (a prefecture-scoped user asking
  for the province row gets nothing);
* a hospital scope sees that hospital's own rows at ``level="hospital"`` and
  nothing at the region levels — a region's value would disclose other
  hospitals' figures.

*region* is the view's choice (descendants of an adcode) and intersects with the
scope. *filters* restrict hospitals by registry attributes at every level.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from opsmon.ingest import uscc
from opsmon.ingest.fields import AFFILIATIONS, AUTHORITIES, BUDGET_AUTHORITIES, CATEGORIES

TIERS = ("三级", "二级", "一级", "未定级")
# Filter key → allowed values (None: a boolean).
FILTERS: dict[str, tuple[str, ...] | None] = {
    "tier": TIERS,
    "category": CATEGORIES,
    "affiliation": AFFILIATIONS,
    "authority": AUTHORITIES,
    "is_pilot": None,
    "is_budget_managed": None,
    "budget_authority": BUDGET_AUTHORITIES,
}
_ADCODE = re.compile(r"^[1-9][0-9]{5}$")

_DESCENDANTS = "(SELECT adcode FROM region_ancestors WHERE ancestor_adcode = :{param})"


@dataclass(frozen=True)
class Scope:
    """A parsed scope: at most one of *region* and *hospital* is set."""

    region: str | None = None
    hospital: str | None = None


def parse_scope(scope: str | None) -> Scope:
    """A scope string → :class:`Scope`; ``ValueError`` for anything but an adcode or a USCC."""
    if scope is None:
        return Scope()
    scope = str(scope).strip().upper()
    if _ADCODE.match(scope):
        return Scope(region=scope)
    if uscc.well_formed(scope):  # its shape only: the SQL then finds that hospital or none
        return Scope(hospital=scope)
    raise ValueError(f"scope must be a region adcode or a hospital code, got {scope!r}")


def check_region(region: str | None) -> str | None:
    """*region* if it looks like an adcode (or is None)."""
    if region is not None and not _ADCODE.match(str(region)):
        raise ValueError(f"region must be a 6-digit adcode, got {region!r}")
    return region


def open_at(alias: str, period: str | None = None) -> str:
    """SQL: hospital *alias* is open in the month *period*, an SQL date expression (opened on or
    before, closed after); without *period*, never closed (open now or from its opening on)."""
    if period is None:
        return f"{alias}.closed_period IS NULL"
    return (f"({alias}.opened_period IS NULL OR {alias}.opened_period <= {period}) "
            f"AND ({alias}.closed_period IS NULL OR {alias}.closed_period > {period})")


def at_level(alias: str, level: str) -> str:
    """SQL: region *alias* is a unit of the reporting *level*.

    A county-level city the province administers directly (吉林 梅河口市) is a
    prefecture-level unit for reporting: it stands beside the prefectures, so the
    prefecture rows add up to the province. It stays a county at county level.
    """
    return (f"({alias}.level = {level} OR ({level} = 'prefecture' AND {alias}.level = 'county' "
            f"AND {alias}.parent_adcode IN (SELECT adcode FROM regions WHERE level = 'province')))")


def _filter_values(key: str, value: Any) -> list[str] | bool:
    allowed = FILTERS[key]
    if allowed is None:
        if not isinstance(value, bool):
            raise ValueError(f"filter {key} takes True or False, got {value!r}")
        return value
    values = [value] if isinstance(value, str) else list(value) if isinstance(value, Iterable) else [value]
    bad = [v for v in values if v not in allowed]
    if bad or not values:
        raise ValueError(f"filter {key} takes values from {allowed}, got {value!r}")
    return values


def _within(alias: str, sc: Scope, region: str | None) -> tuple[list[str], dict[str, Any]]:
    """Conditions keeping *alias*.adcode inside the user's scope region and the asked-for region."""
    conds: list[str] = []
    params: dict[str, Any] = {}
    if sc.region:
        conds.append(f"{alias}.adcode IN {_DESCENDANTS.format(param='scope_region')}")
        params["scope_region"] = sc.region
    if check_region(region):
        conds.append(f"{alias}.adcode IN {_DESCENDANTS.format(param='region')}")
        params["region"] = region
    return conds, params


def hospitals(alias: str, *, region: str | None = None, scope: str | Scope | None = None,
              filters: Mapping[str, Any] | None = None, hospital: str | None = None) -> tuple[str, dict]:
    """SQL condition on the hospitals table aliased *alias*, and its parameters."""
    sc = scope if isinstance(scope, Scope) else parse_scope(scope)
    conds, params = _within(alias, sc, region)
    if sc.hospital:
        conds.append(f"{alias}.hospital_code = :scope_hospital")
        params["scope_hospital"] = sc.hospital
    if hospital:
        conds.append(f"{alias}.hospital_code = :hospital")
        params["hospital"] = hospital
    for key, value in (filters or {}).items():
        if key not in FILTERS:
            raise ValueError(f"unknown filter {key!r}; known: {', '.join(FILTERS)}")
        if value is None:
            continue
        checked = _filter_values(key, value)
        if isinstance(checked, bool):
            conds.append(f"{alias}.{key} = :f_{key}")
        else:
            conds.append(f"{alias}.{key} = ANY(CAST(:f_{key} AS text[]))")
        params[f"f_{key}"] = checked
    return " AND ".join(conds) or "true", params


def regions(alias: str, *, region: str | None = None, scope: str | Scope | None = None,
            code: str | None = None) -> tuple[str, dict]:
    """SQL condition on the regions table aliased *alias* (region rows a caller may see)."""
    sc = scope if isinstance(scope, Scope) else parse_scope(scope)
    if sc.hospital:
        return "false", {}  # a hospital-scoped user sees no region aggregates
    conds, params = _within(alias, sc, region)
    if code:
        conds.append(f"{alias}.adcode = :code")
        params["code"] = code
    return " AND ".join(conds) or "true", params
