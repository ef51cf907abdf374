"""Evaluation rounds: who takes part, where each unit stands, the spot-check sample, publication.

A round (one per campaign year) names the two score sheets it uses, the month whose figures propose
the indicator-backed scores, and three deadlines (China days, inclusive): self-assessment, review,
spot check. Its units are every prefecture and county commission and the designated hospitals
(省级预算管理医院, ``budget_authority = '省'``), open at the data month.

Who sees a unit before publication: the unit itself and those above it in the review chain (a county
sees only itself, a prefecture itself and its counties, the province everything; a designated hospital
only itself and the province, which reviews it). After
publication every user who views regions sees every unit's result.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from opsmon import periods, spreadsheet
from opsmon.access import audit
from opsmon.access.users import User
from opsmon.evaluation import sheets
from opsmon.indicators import restrict
from opsmon.sql.db import connection

STAGES = {"self": "自评", "review": "复核", "check": "抽查"}


class EvaluationError(ValueError):
    """A step that cannot be taken; ``message`` is for people (Chinese), ``code`` for programs."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class NotFound(EvaluationError):
    """No such round or unit in the caller's view (the same answer as none at all)."""

    def __init__(self, what: Any):
        super().__init__("not_found", f"没有找到 {what}，或不在您的权限范围内")


@dataclass(frozen=True)
class Round:
    """A round's settings."""

    year: int
    commission_sheet: int
    hospital_sheet: int
    data_period: date
    self_due: date
    review_due: date
    check_due: date
    sample_seed: int | None
    sample_rate: float | None
    published: bool

    def sheet_id(self, kind: str) -> int:
        return self.commission_sheet if kind == "commission" else self.hospital_sheet

    def due(self, stage: str) -> date:
        return {"self": self.self_due, "review": self.review_due, "check": self.check_due}[stage]


def at_top(db: Engine | Connection, user: User) -> bool:
    """Whether *user* sits at the top of the hierarchy (the province's commission)."""
    if user.hospital_code:
        return False
    with connection(db) as c:
        return bool(c.execute(sa.text("SELECT parent_adcode IS NULL FROM regions WHERE adcode = :s"),
                              {"s": user.scope}).scalar())


def _require_top(conn: Connection, user: User, what: str) -> None:
    if not (user.permissions.admin and at_top(conn, user)):
        raise EvaluationError("forbidden", f"{what}由省级卫生健康委（系统管理员）进行")


def get_round(db: Engine | Connection, year: int) -> Round:
    """Round *year*; :class:`NotFound` when there is none."""
    with connection(db) as conn:
        row = conn.execute(sa.text(
            "SELECT year, commission_sheet, hospital_sheet, data_period, self_due, review_due, check_due, "
            "sample_seed, CAST(sample_rate AS float8) AS sample_rate, published_at IS NOT NULL AS published "
            "FROM evaluation_rounds WHERE year = :y"), {"y": int(year)}).first()
    if row is None:
        raise NotFound(f"{year}年评价")
    return Round(*row)


def rounds(engine: Engine) -> pd.DataFrame:
    """Every round, newest first, with its deadlines and unit counts."""
    with engine.connect() as conn:
        return pd.read_sql_query(sa.text(
            "SELECT r.year, to_char(r.data_period, 'YYYY-MM') AS data_period, r.self_due, r.review_due, "
            "r.check_due, r.published_at, count(u.unit_code) AS units, "
            "count(u.unit_code) FILTER (WHERE u.sampled) AS sampled "
            "FROM evaluation_rounds r LEFT JOIN evaluation_units u USING (year) "
            "GROUP BY r.year ORDER BY r.year DESC"), conn)


def create(engine: Engine, user: User, year: int, *, data_period: str, self_due: date, review_due: date,
           check_due: date, commission_version: str | None = None, hospital_version: str | None = None,
           address: str | None = None) -> int:
    """Open round *year* (the province's administrator): its units are drawn from the registry now.

    The sheets default to the newest stored version of each kind. Returns the number of units.
    """
    period = periods.to_date(data_period)
    if not (2000 <= int(year) <= 2100):
        raise EvaluationError("bad_year", f"评价年度 {year} 不在 2000—2100 之间")
    if not (self_due <= review_due <= check_due):
        raise EvaluationError("bad_deadlines", "截止日期应依次为：自评 ≤ 复核 ≤ 抽查")
    with engine.begin() as conn:
        _require_top(conn, user, "创建评价轮次")
        if conn.execute(sa.text("SELECT 1 FROM evaluation_rounds WHERE year = :y"), {"y": year}).first():
            raise EvaluationError("exists", f"{year}年评价已存在")
        ids = {}
        for kind, version in (("commission", commission_version), ("hospital", hospital_version)):
            ids[kind] = conn.execute(sa.text(
                "SELECT sheet_id FROM score_sheets WHERE kind = :k AND (:v IS NULL OR version = :v) "
                "ORDER BY loaded_at DESC, sheet_id DESC LIMIT 1"), {"k": kind, "v": version}).scalar()
            if ids[kind] is None:
                raise EvaluationError("no_sheet", f"没有{sheets.KINDS[kind]}评分表"
                                      + (f" {version} 版" if version else "") + "：请先导入（opsmon scoresheet load）")
        conn.execute(sa.text(
            "INSERT INTO evaluation_rounds (year, commission_sheet, hospital_sheet, data_period, self_due, "
            "review_due, check_due, created_by, created_at) VALUES (:y, :c, :h, :p, :sd, :rd, :cd, :u, :now)"),
            {"y": year, "c": ids["commission"], "h": ids["hospital"], "p": period, "sd": self_due,
             "rd": review_due, "cd": check_due, "u": user.username, "now": periods.now()})
        # Strata: prefectures together; counties by prefecture; hospitals by prefecture × tier.
        count = conn.execute(sa.text(f"""
INSERT INTO evaluation_units (year, unit_code, kind, stratum)
SELECT :y, CAST(r.adcode AS text), 'commission',
       CASE WHEN {restrict.at_level('r', "'prefecture'")} THEN 'prefecture' ELSE 'county:' || r.parent_adcode END
FROM regions r WHERE r.level IN ('prefecture', 'county')
UNION ALL
SELECT :y, CAST(h.hospital_code AS text), 'hospital',
       'hospital:' || COALESCE((SELECT a.ancestor_adcode FROM region_ancestors a JOIN regions p
                                ON p.adcode = a.ancestor_adcode
                                WHERE a.adcode = h.adcode AND {restrict.at_level('p', "'prefecture'")}
                                LIMIT 1), h.adcode) || ':' || h.tier
FROM hospitals h WHERE h.budget_authority = '省' AND {restrict.open_at('h', ':p')}"""),
            {"y": year, "p": period}).rowcount
        audit.record(conn, "evaluation.round", username=user.username, address=address, object=str(year),
                     details={"units": count, "data_period": data_period, "self_due": self_due,
                              "review_due": review_due, "check_due": check_due})
    return count


# ── who sees what ───────────────────────────────────────────────────────────────────────────────

UNITS = """
SELECT u.year, u.unit_code, u.kind, u.stratum, u.sampled,
       COALESCE(CAST(r.adcode AS text), CAST(h.adcode AS text)) AS adcode, COALESCE(r.name, h.name) AS name,
       COALESCE(r.level, 'hospital') AS level, CAST(r.parent_adcode AS text) AS parent_adcode, h.tier
FROM evaluation_units u
LEFT JOIN regions r ON u.kind = 'commission' AND CAST(r.adcode AS text) = u.unit_code
LEFT JOIN hospitals h ON u.kind = 'hospital' AND CAST(h.hospital_code AS text) = u.unit_code
"""


def visible(user: User, published: bool) -> tuple[str, dict[str, Any]]:
    """SQL condition on :data:`UNITS`' columns: the units *user* may see (see the module's doc)."""
    if user.disabled:
        return "false", {}
    if published and user.permissions.view_regions:
        return "true", {}
    sc = restrict.parse_scope(user.scope)
    if sc.hospital:
        return "v.unit_code = :scope_hospital", {"scope_hospital": sc.hospital}
    # A designated hospital answers to the province (its reviewer), not to the commissions around it.
    return ("v.adcode IN (SELECT adcode FROM region_ancestors WHERE ancestor_adcode = :scope_region) "
            "AND (v.kind = 'commission' OR (SELECT parent_adcode IS NULL FROM regions WHERE adcode = :scope_region))",
            {"scope_region": sc.region})


def unit(db: Engine | Connection, user: User, year: int, unit_code: str, *,
         review_chain: bool = False) -> dict[str, Any]:
    """Unit *unit_code* of round *year* as *user* sees it; :class:`NotFound` otherwise. With
    *review_chain*, as if unpublished: only the unit and those above it (evidence files stay with them)."""
    with connection(db) as conn:
        r = get_round(conn, year)
        where, params = visible(user, r.published and not review_chain)
        row = conn.execute(sa.text(f"SELECT * FROM ({UNITS}) v WHERE v.year = :y AND v.unit_code = :c AND {where}"),
                           {**params, "y": year, "c": str(unit_code).strip()}).mappings().first()
    if row is None:
        raise NotFound(f"{year}年评价单位 {unit_code}")
    return dict(row)


def reviewer_of(conn: Connection, unit_row: dict[str, Any]) -> str:
    """The scope that reviews *unit_row*: a region's parent; for a designated hospital, the province."""
    if unit_row["kind"] == "commission":
        return unit_row["parent_adcode"]
    return conn.execute(sa.text("SELECT CAST(adcode AS text) FROM regions WHERE parent_adcode IS NULL")).scalar_one()


# ── the spot check's sample and publication ─────────────────────────────────────────────────────

def draw_sample(engine: Engine, user: User, year: int, *, rate: float, seed: int,
                address: str | None = None) -> pd.DataFrame:
    """Draw the spot-check sample (the province): within each stratum ``ceil(rate × n)`` units at
    random (at least one), reproducible from *seed*. Once per round. Returns :func:`sample`."""
    if not (0 < rate <= 1) or round(rate, 3) != rate:  # kept as numeric(4, 3): the rate used is the rate kept
        raise EvaluationError("bad_rate", "抽查比例应在0到1之间，至多三位小数（如 0.3、0.25）")
    with engine.begin() as conn:
        _require_top(conn, user, "抽取抽查样本")
        r = conn.execute(sa.text("SELECT sample_seed FROM evaluation_rounds WHERE year = :y FOR UPDATE"),
                         {"y": year}).first()
        if r is None:
            raise NotFound(f"{year}年评价")
        if r.sample_seed is not None:
            raise EvaluationError("sampled", f"{year}年评价已抽取样本（种子 {r.sample_seed}），不能重抽")
        # Code-point order (COLLATE "C"), whatever the database's collation: the same seed, the same sample.
        units = pd.read_sql_query(sa.text('SELECT unit_code, stratum FROM evaluation_units WHERE year = :y '
                                          'ORDER BY stratum COLLATE "C", unit_code COLLATE "C"'),
                                  conn, params={"y": year})
        rng = np.random.default_rng(seed)
        chosen: list[str] = []
        for _, group in units.groupby("stratum", sort=False):
            n = sample_size(rate, len(group))
            chosen += list(rng.choice(group["unit_code"].to_numpy(), size=n, replace=False))
        conn.execute(sa.text("UPDATE evaluation_units SET sampled = unit_code = ANY(:c) WHERE year = :y"),
                     {"y": year, "c": chosen})
        conn.execute(sa.text("UPDATE evaluation_rounds SET sample_seed = :s, sample_rate = :r, sampled_by = :u, "
                             "sampled_at = :now WHERE year = :y"),
                     {"y": year, "s": seed, "r": rate, "u": user.username, "now": periods.now()})
        audit.record(conn, "evaluation.sample", username=user.username, address=address, object=str(year),
                     details={"seed": seed, "rate": rate, "units": len(chosen)})
    return sample(engine, user, year)


def sample_size(rate: float, units: int) -> int:
    """``ceil(rate × units)``, at least one — in exact decimal arithmetic (0.28 × 25 is 7, not 8)."""
    return max(1, math.ceil(Fraction(str(rate)) * units))


def sample(engine: Engine, user: User, year: int) -> pd.DataFrame:
    """The sampled units *user* may see: unit_code, name, kind, level, tier, stratum."""
    r = get_round(engine, year)
    where, params = visible(user, r.published)
    with engine.connect() as conn:
        return pd.read_sql_query(sa.text(
            f"SELECT v.unit_code, v.name, v.kind, v.level, v.tier, v.stratum FROM ({UNITS}) v "
            f"WHERE v.year = :y AND v.sampled AND {where} ORDER BY v.stratum, v.unit_code"),
            conn, params={**params, "y": year})


def publish(engine: Engine, user: User, year: int, *, address: str | None = None) -> None:
    """Publish round *year*'s results (the province): every viewer of regions then sees every unit."""
    with engine.begin() as conn:
        _require_top(conn, user, "公布评价结果")
        done = conn.execute(sa.text("UPDATE evaluation_rounds SET published_at = :now WHERE year = :y "
                                    "AND published_at IS NULL RETURNING year"),
                            {"y": year, "now": periods.now()}).first()
        if done is None:
            get_round(conn, year)
            raise EvaluationError("published", f"{year}年评价结果已公布")
        audit.record(conn, "evaluation.publish", username=user.username, address=address, object=str(year))


SAMPLE_HEADERS = {"unit_code": "单位编码", "name": "单位名称", "kind": "类别", "level": "层级", "tier": "医院等级",
                  "stratum": "抽样层"}


def sample_xlsx(year: int, frame: pd.DataFrame) -> bytes:
    """The spot-check list (:func:`sample`) as an XLSX for the inspection teams."""
    rows = [[r.unit_code, r.name, sheets.KINDS.get(r.kind, r.kind), r.level, r.tier or "", r.stratum]
            for r in frame.itertuples(index=False)]
    return spreadsheet.xlsx_bytes(f"{year}年公立医疗机构经济管理年活动现场抽查名单", f"共 {len(rows)} 个单位",
                                  list(SAMPLE_HEADERS.values()), rows, widths=[22, 30, 16, 12, 10, 28])
