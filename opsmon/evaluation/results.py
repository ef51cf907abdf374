"""What a round's units scored: each unit's progress and totals, one unit's sheet item by item.

Scores are derived from the append-only events: per unit, stage and item the latest score counts.
A unit's final score is the province's check when it was checked, else the reviewed score (the
reviewer's adjustment where there is one, the self score elsewhere). Indicator-backed items carry
the value the data shows at the round's data month (year to date) and the score it proposes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from opsmon import periods
from opsmon.access.users import User
from opsmon.evaluation import rounds, sheets
from opsmon.indicators.query import fetch

# The state a unit is in, furthest first.
STATES = {"checked": "已抽查", "reviewed": "已复核", "submitted": "已提交", "draft": "填报中", "not_started": "未开始"}

_LATEST = """
latest AS (
    SELECT DISTINCT ON (unit_code, stage, item_code) unit_code, stage, item_code, score, note, reason, username, at
    FROM evaluation_events WHERE year = :y AND action = 'score'
    ORDER BY unit_code, stage, item_code, event_id DESC
), submitted AS (
    SELECT unit_code, max(at) FILTER (WHERE stage = 'self') AS self_submitted_at,
           max(at) FILTER (WHERE stage = 'review') AS review_submitted_at,
           max(at) FILTER (WHERE stage = 'check') AS check_submitted_at
    FROM evaluation_events WHERE year = :y AND action = 'submit' GROUP BY unit_code
)"""


# Per unit and item: the self score, the check, and the reviewed score (the review's adjustment once the
# review is submitted, else the self score).
_PER_ITEM = """per_item AS (
    SELECT l.unit_code, l.item_code, max(l.score) FILTER (WHERE l.stage = 'self') AS s,
           max(l.score) FILTER (WHERE l.stage = 'check') AS c,
           COALESCE(CASE WHEN bool_or(b.review_submitted_at IS NOT NULL)
                         THEN max(l.score) FILTER (WHERE l.stage = 'review') END,
                    max(l.score) FILTER (WHERE l.stage = 'self')) AS reviewed
    FROM latest l LEFT JOIN submitted b USING (unit_code) GROUP BY l.unit_code, l.item_code
)"""


def units(engine: Engine, user: User, year: int) -> pd.DataFrame:
    """Round *year*'s units *user* may see, with progress and totals.

    Columns: unit_code, name, kind, level, adcode, parent_adcode, tier, stratum, sampled,
    self_submitted_at, review_submitted_at, check_submitted_at, items_scored, self_total,
    reviewed_total, check_total, final_total, max_total, differing_items (items whose checked score
    differs from the self score), state (a key of :data:`STATES`).
    """
    r = rounds.get_round(engine, year)
    where, params = rounds.visible(user, r.published)
    sql = sa.text(f"""
WITH {_LATEST}, {_PER_ITEM}, totals AS (
    -- A stage's scores count once it is submitted: a draft review or check changes nothing yet.
    SELECT p.unit_code, count(p.s) AS items_scored, sum(p.s) AS self_total,
           sum(CASE WHEN b.self_submitted_at IS NOT NULL THEN p.reviewed END) AS reviewed_total,
           sum(CASE WHEN b.check_submitted_at IS NOT NULL THEN p.c END) AS check_total,
           count(*) FILTER (WHERE b.check_submitted_at IS NOT NULL AND p.c IS DISTINCT FROM p.s) AS differing_items
    FROM per_item p LEFT JOIN submitted b USING (unit_code) GROUP BY p.unit_code
), maxima AS (
    SELECT sheet_id, sum(max_score) AS max_total FROM score_items GROUP BY sheet_id
)
SELECT v.unit_code, v.name, v.kind, v.level, v.adcode, v.parent_adcode, v.tier, v.stratum, v.sampled,
       s.self_submitted_at, s.review_submitted_at, s.check_submitted_at,
       COALESCE(t.items_scored, 0) AS items_scored, CAST(t.self_total AS float8) AS self_total,
       CAST(t.reviewed_total AS float8) AS reviewed_total, CAST(t.check_total AS float8) AS check_total,
       CAST(CASE WHEN s.check_submitted_at IS NOT NULL THEN t.check_total ELSE t.reviewed_total END AS float8)
           AS final_total,  -- NULL until the unit submitted its self-assessment
       CAST(m.max_total AS float8) AS max_total, COALESCE(t.differing_items, 0) AS differing_items
FROM ({rounds.UNITS}) v
JOIN evaluation_rounds er ON er.year = v.year
JOIN maxima m ON m.sheet_id = CASE v.kind WHEN 'commission' THEN er.commission_sheet ELSE er.hospital_sheet END
LEFT JOIN submitted s ON s.unit_code = v.unit_code
LEFT JOIN totals t ON t.unit_code = v.unit_code
WHERE v.year = :y AND {where}
ORDER BY v.kind, v.adcode, v.unit_code""")
    with engine.connect() as conn:
        frame = pd.read_sql_query(sql, conn, params={**params, "y": year})
    frame["state"] = "not_started"
    frame.loc[frame["items_scored"] > 0, "state"] = "draft"
    frame.loc[frame["self_submitted_at"].notna(), "state"] = "submitted"
    frame.loc[frame["review_submitted_at"].notna(), "state"] = "reviewed"
    frame.loc[frame["check_submitted_at"].notna(), "state"] = "checked"
    return frame


def indicator_values(engine: Engine, user: User, r: rounds.Round, unit_row: dict[str, Any],
                     items: Iterable[sheets.Item]) -> dict[str, float]:
    """The unit's year-to-date value of each indicator its sheet's items name, at the round's data month."""
    ids = sorted({i.indicator for i in items if i.indicator})
    if not ids:
        return {}
    code = unit_row["unit_code"]
    level = "hospital" if unit_row["kind"] == "hospital" else unit_row["level"]
    # The unit is already in the caller's view (rounds.unit); after publication a viewer outside its
    # area sees its figures as part of the published result.
    scope = None if r.published and user.permissions.view_regions else user.scope
    frame = fetch(engine, ids, level, [r.data_period], span="ytd", code=code, scope=scope)
    return {row.indicator: row.value for row in frame.itertuples() if row.code.strip() == code.strip()}


def sheet(engine: Engine, user: User, year: int, unit_code: str) -> tuple[dict[str, Any], pd.DataFrame]:
    """Unit *unit_code*'s sheet as *user* sees it: (the unit with its round's state, one row per item).

    Item columns: item_code, section, item, criteria, max_score, evidence, indicator, value, proposed,
    self_score, self_note, self_reason, review_score, review_reason, check_score, check_note,
    final_score, evidence_files. :class:`~opsmon.evaluation.rounds.NotFound` outside the view.
    """
    r = rounds.get_round(engine, year)
    unit_row = rounds.unit(engine, user, year, unit_code)
    the_sheet = sheets.load(engine, r.sheet_id(unit_row["kind"]))
    values = indicator_values(engine, user, r, unit_row, the_sheet.items)
    with engine.connect() as conn:
        scores = pd.read_sql_query(sa.text(f"""
WITH {_LATEST}
SELECT l.item_code, l.stage, CAST(l.score AS float8) AS score, l.note, l.reason
FROM latest l WHERE l.unit_code = :c"""), conn, params={"y": year, "c": unit_row["unit_code"]})
        submitted = conn.execute(sa.text(f"WITH {_LATEST} SELECT * FROM submitted WHERE unit_code = :c"),
                                 {"y": year, "c": unit_row["unit_code"]}).mappings().first() or {}
        files = dict(conn.execute(sa.text(
            "SELECT item_code, count(*) FROM evaluation_evidence WHERE year = :y AND unit_code = :c "
            "GROUP BY item_code"), {"y": year, "c": unit_row["unit_code"]}).all())
    rows = []
    for i in the_sheet.items:
        got = {(s.stage, k): getattr(s, k) for s in scores[scores["item_code"] == i.code].itertuples()
               for k in ("score", "note", "reason")}
        value = values.get(i.indicator) if i.indicator else None
        self_score = got.get(("self", "score"))
        reviewed = (got.get(("review", "score"), self_score) if submitted.get("review_submitted_at")
                    else self_score)
        rows.append({
            "item_code": i.code, "section": i.section, "item": i.item, "criteria": i.criteria,
            "max_score": i.max_score, "evidence": i.evidence, "indicator": i.indicator, "value": value,
            "proposed": i.propose(value), "self_score": got.get(("self", "score")),
            "self_note": got.get(("self", "note")), "self_reason": got.get(("self", "reason")),
            "review_score": got.get(("review", "score")), "review_reason": got.get(("review", "reason")),
            "check_score": got.get(("check", "score")), "check_note": got.get(("check", "note")),
            "final_score": (got.get(("check", "score")) if submitted.get("check_submitted_at")
                            else reviewed if submitted.get("self_submitted_at") else None),
            "evidence_files": int(files.get(i.code, 0)),
        })
    unit_row = {**unit_row, **{k: submitted.get(k) for k in ("self_submitted_at", "review_submitted_at",
                                                                "check_submitted_at")},
                "round": r, "sheet_name": the_sheet.name, "max_total": the_sheet.max_total,
                "today": periods.today()}
    return unit_row, pd.DataFrame(rows)


def evidence_list(engine: Engine, user: User, year: int, unit_code: str) -> pd.DataFrame:
    """The evidence files of a unit in *user*'s view: evidence_id, item_code, file_name, media_type,
    size_bytes, username, at (no content). Publication shows scores to everyone, not the evidence: it
    stays with the unit and those above it (empty for anyone else)."""
    unit_row = rounds.unit(engine, user, year, unit_code)
    try:
        rounds.unit(engine, user, year, unit_code, review_chain=True)
    except rounds.NotFound:
        return pd.DataFrame(columns=["evidence_id", "item_code", "file_name", "media_type", "size_bytes",
                                     "username", "at"])
    with engine.connect() as conn:
        return pd.read_sql_query(sa.text(
            "SELECT evidence_id, item_code, file_name, media_type, size_bytes, username, at "
            "FROM evaluation_evidence WHERE year = :y AND unit_code = :c ORDER BY item_code, evidence_id"),
            conn, params={"y": year, "c": unit_row["unit_code"]})


def evidence_file(engine: Engine, user: User, evidence_id: int) -> dict[str, Any] | None:
    """One evidence file (file_name, media_type, content) if *user* is its unit or above it, else None."""
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT year, unit_code, file_name, media_type, content "
                                   "FROM evaluation_evidence WHERE evidence_id = :i"), {"i": int(evidence_id)}
                           ).mappings().first()
    if row is None:
        return None
    try:
        rounds.unit(engine, user, row["year"], row["unit_code"], review_chain=True)
    except rounds.NotFound:
        return None
    return {"file_name": row["file_name"], "media_type": row["media_type"], "content": bytes(row["content"])}


def ranking(frame: pd.DataFrame) -> pd.DataFrame:
    """:func:`units` with a score rate (final ÷ maximum) and a rank within kind and tier (1 = best)."""
    out = frame.copy()
    out["rate"] = out["final_total"] / out["max_total"]
    group = out["kind"] + ":" + out["tier"].fillna(out["level"])
    out["rank"] = out.groupby(group)["rate"].rank(ascending=False, method="min")
    return out.sort_values(["kind", "rank", "unit_code"]).reset_index(drop=True)


def praise(frame: pd.DataFrame, top: int = 3) -> pd.DataFrame:
    """The units to praise (通报表扬): the *top* ranked within each kind and tier that have a final score."""
    ranked = ranking(frame[frame["self_submitted_at"].notna() & frame["final_total"].notna()])
    return ranked[ranked["rank"] <= top].reset_index(drop=True)


def final_scores(engine: Engine, user: User, year: int) -> pd.DataFrame:
    """Every item's final score of the units *user* sees: unit_code, kind, item_code, final_score (the check
    when the unit's check was submitted, else the review's adjustment, else the self score)."""
    r = rounds.get_round(engine, year)
    where, params = rounds.visible(user, r.published)
    sql = sa.text(f"""
WITH {_LATEST}, {_PER_ITEM}
SELECT v.unit_code, v.kind, p.item_code,
       CAST(CASE WHEN s.check_submitted_at IS NOT NULL THEN p.c
                 WHEN s.self_submitted_at IS NOT NULL THEN p.reviewed END AS float8) AS final_score
FROM ({rounds.UNITS}) v JOIN per_item p ON p.unit_code = v.unit_code
LEFT JOIN submitted s ON s.unit_code = v.unit_code
WHERE v.year = :y AND {where}
ORDER BY v.unit_code, p.item_code""")
    with engine.connect() as conn:
        return pd.read_sql_query(sql, conn, params={**params, "y": year})
