"""Scoring a unit's sheet: the three stages, who may take each, and the rules every score obeys.

- ``self`` (自评): the unit itself — a commission's supervisors for a region, the hospital's own
  users for a hospital — scores every item (a score above what the data proposes needs a written
  reason), attaches evidence, and submits by the self-assessment deadline; then it is locked.
- ``review`` (复核): the level above (a county's prefecture, a prefecture's province, a designated
  hospital's province) accepts, or adjusts items with a reason, and submits by the review deadline.
- ``check`` (抽查): the province scores the sampled units item by item and submits by the check deadline.

Every step is one transaction — the event (append-only), any evidence, the audit entry — on the
unit's row locked, so two people submitting at once cannot both win.
"""

from __future__ import annotations

import math
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from opsmon import periods
from opsmon.access import audit
from opsmon.access.users import User
from opsmon.disposal.attachments import AttachmentError, check as check_file
from opsmon.evaluation import results, rounds, sheets
from opsmon.evaluation.rounds import EvaluationError

MAX_TEXT = 4000
MAX_EVIDENCE_PER_ITEM = 5


def _locked_unit(conn: Connection, user: User, year: int, unit_code: str) -> dict[str, Any]:
    unit_row = rounds.unit(conn, user, year, unit_code)
    conn.execute(sa.text("SELECT 1 FROM evaluation_units WHERE year = :y AND unit_code = :c FOR UPDATE"),
                 {"y": year, "c": unit_row["unit_code"]})
    return unit_row


def _submitted(conn: Connection, year: int, unit_code: str, stage: str) -> bool:
    return conn.execute(sa.text("SELECT 1 FROM evaluation_events WHERE year = :y AND unit_code = :c "
                                "AND stage = :s AND action = 'submit'"),
                        {"y": year, "c": unit_code, "s": stage}).first() is not None


def may(conn: Connection, user: User, r: rounds.Round, unit_row: dict[str, Any], stage: str) -> str | None:
    """Why *user* may not work on *stage* of *unit_row* now (a message), or None when they may."""
    if stage not in rounds.STAGES:
        return f"未知的评价环节 {stage}"
    if user.disabled:
        return "账号已停用"
    if r.published:
        return "评价结果已公布，不能再修改"
    label = rounds.STAGES[stage]
    role = user.permissions
    code = unit_row["unit_code"]
    if stage == "self":
        own_role = "supervisor" if unit_row["kind"] == "commission" else "hospital"
        if user.role != own_role or user.scope != code:
            return "自评由本单位填报"
    elif stage == "review":
        if role.disposal != "supervise" or user.scope != rounds.reviewer_of(conn, unit_row):
            return "复核由上一级卫生健康委进行"
        if not _submitted(conn, r.year, code, "self"):
            return "该单位尚未提交自评，不能复核"
    else:
        if not (role.admin and rounds.at_top(conn, user)):
            return "抽查由省级卫生健康委（系统管理员）进行"
        if not unit_row["sampled"]:
            return "该单位不在抽查样本中"
        if not _submitted(conn, r.year, code, "self"):
            return "该单位尚未提交自评，不能抽查"
    if _submitted(conn, r.year, code, stage):
        return f"{label}已提交，不能再修改"
    today = periods.today()
    if today > r.due(stage):
        return f"已过{label}截止日期（{r.due(stage).isoformat()}），不能再填报或提交"
    return None


def _check_allowed(conn: Connection, user: User, r: rounds.Round, unit_row: dict[str, Any], stage: str) -> None:
    reason = may(conn, user, r, unit_row, stage)
    if reason:
        raise EvaluationError("refused", reason)


def _text(value: str | None, label: str) -> str | None:
    value = (value or "").strip() or None
    if value and len(value) > MAX_TEXT:
        raise EvaluationError("too_long", f"{label}至多 {MAX_TEXT} 字")
    if value and any(ord(ch) < 32 and ch not in "\n\t" for ch in value):
        raise EvaluationError("control_character", f"{label}含有不可见的控制字符")
    return value


def score(engine: Engine, user: User, year: int, unit_code: str, item_code: str, value: float | str, *,
          stage: str = "self", note: str | None = None, reason: str | None = None,
          address: str | None = None) -> None:
    """Record *user*'s score of one item at *stage*. ``EvaluationError`` (nothing changed) for a score
    outside 0…maximum or with more than one decimal, an unknown item, a self score above the data's
    proposal without a reason, a review adjustment without a reason, or a step *user* may not take."""
    try:
        if isinstance(value, bool):  # True is not a score of 1
            raise TypeError
        number = float(value)
    except (TypeError, ValueError):
        raise EvaluationError("bad_score", f"得分“{value}”不是数字") from None
    note, reason = _text(note, "说明"), _text(reason, "理由")
    with engine.begin() as conn:
        r = rounds.get_round(conn, year)
        unit_row = _locked_unit(conn, user, year, unit_code)
        _check_allowed(conn, user, r, unit_row, stage)
        the_sheet = sheets.load(conn, r.sheet_id(unit_row["kind"]))
        item = next((i for i in the_sheet.items if i.code == str(item_code).strip()), None)
        if item is None:
            raise EvaluationError("unknown_item", f"评分表中没有项目 {item_code}")
        if math.isnan(number) or number < 0 or number > item.max_score:
            raise EvaluationError("out_of_range", f"{item.code} 得分 {value} 超出范围：应在 0 到该项满分 "
                                  f"{item.max_score:g} 之间")
        if round(number, 1) != number:
            raise EvaluationError("bad_score", f"{item.code} 得分 {value} 至多保留一位小数")
        number += 0.0  # -0.0 is stored as 0
        if stage == "self" and item.indicator:
            values = results.indicator_values(engine, user, r, unit_row, [item])
            proposed = item.propose(values.get(item.indicator))
            if proposed is not None and number > proposed and not reason:
                raise EvaluationError("reason_required", f"{item.code} 得分 {number:g} 高于数据测算得分 "
                                      f"{proposed:g}，须填写理由")
        if stage == "review" and not reason:
            own = conn.execute(sa.text(
                "SELECT score FROM evaluation_events WHERE year = :y AND unit_code = :c AND stage = 'self' "
                "AND action = 'score' AND item_code = :i ORDER BY event_id DESC LIMIT 1"),
                {"y": year, "c": unit_row["unit_code"], "i": item.code}).scalar()
            if own is None or float(own) != number:  # keeping the unit's own score needs no reason
                raise EvaluationError("reason_required", f"{item.code} 复核调整得分须填写理由")
        conn.execute(sa.text(
            "INSERT INTO evaluation_events (year, unit_code, stage, action, item_code, score, note, reason, "
            "username, at) VALUES (:y, :c, :s, 'score', :i, :v, :n, :r, :u, :now)"),
            {"y": year, "c": unit_row["unit_code"], "s": stage, "i": item.code, "v": number, "n": note,
             "r": reason, "u": user.username, "now": periods.now()})
        audit.record(conn, "evaluation.score", username=user.username, address=address,
                     object=f"{year}/{unit_row['unit_code']}/{item.code}",
                     details={"stage": stage, "score": number, "reason": reason})


def submit(engine: Engine, user: User, year: int, unit_code: str, *, stage: str = "self",
           address: str | None = None) -> None:
    """Submit *stage* of a unit's sheet (locked afterwards). Self-assessment and check need every item
    scored; a review submits the reviewer's adjustments and accepts the rest."""
    with engine.begin() as conn:
        r = rounds.get_round(conn, year)
        unit_row = _locked_unit(conn, user, year, unit_code)
        _check_allowed(conn, user, r, unit_row, stage)
        if stage in ("self", "check"):
            missing = conn.execute(sa.text(
                "SELECT i.item_code FROM score_items i WHERE i.sheet_id = :sid AND NOT EXISTS ("
                "  SELECT 1 FROM evaluation_events e WHERE e.year = :y AND e.unit_code = :c AND e.stage = :s "
                "  AND e.action = 'score' AND e.item_code = i.item_code) ORDER BY i.position"),
                {"sid": r.sheet_id(unit_row["kind"]), "y": year, "c": unit_row["unit_code"], "s": stage}
            ).scalars().all()
            if missing:
                raise EvaluationError("incomplete", f"还有 {len(missing)} 项未评分：{'、'.join(missing[:10])}")
        conn.execute(sa.text(
            "INSERT INTO evaluation_events (year, unit_code, stage, action, username, at) "
            "VALUES (:y, :c, :s, 'submit', :u, :now)"),
            {"y": year, "c": unit_row["unit_code"], "s": stage, "u": user.username, "now": periods.now()})
        audit.record(conn, "evaluation.submit", username=user.username, address=address,
                     object=f"{year}/{unit_row['unit_code']}", details={"stage": stage})


def add_evidence(engine: Engine, user: User, year: int, unit_code: str, item_code: str, file_name: str,
                 content: bytes, *, address: str | None = None) -> int:
    """Attach an evidence file to an item of the unit's self-assessment (PDF, XLSX, PNG or JPEG by
    content, at most 5 MB, at most five per item); its id. Only while the self-assessment is open."""
    try:
        checked = check_file(file_name, content)
    except AttachmentError as e:
        raise EvaluationError("bad_file", str(e)) from None
    with engine.begin() as conn:
        r = rounds.get_round(conn, year)
        unit_row = _locked_unit(conn, user, year, unit_code)
        _check_allowed(conn, user, r, unit_row, "self")
        codes = {i.code for i in sheets.load(conn, r.sheet_id(unit_row["kind"])).items}
        item_code = str(item_code).strip()
        if item_code not in codes:
            raise EvaluationError("unknown_item", f"评分表中没有项目 {item_code}")
        count = conn.execute(sa.text("SELECT count(*) FROM evaluation_evidence WHERE year = :y AND unit_code = :c "
                                     "AND item_code = :i"), {"y": year, "c": unit_row["unit_code"], "i": item_code}
                             ).scalar_one()
        if count >= MAX_EVIDENCE_PER_ITEM:
            raise EvaluationError("too_many_files", f"每项至多 {MAX_EVIDENCE_PER_ITEM} 个佐证材料")
        evidence_id = conn.execute(sa.text(
            "INSERT INTO evaluation_evidence (year, unit_code, item_code, file_name, media_type, size_bytes, sha256, "
            "content, username, at) VALUES (:y, :c, :i, :f, :m, :n, :h, :b, :u, :now) RETURNING evidence_id"),
            {"y": year, "c": unit_row["unit_code"], "i": item_code, "f": checked.file_name,
             "m": checked.media_type, "n": len(checked.content), "h": checked.sha256, "b": checked.content,
             "u": user.username, "now": periods.now()}).scalar_one()
        audit.record(conn, "evaluation.evidence", username=user.username, address=address,
                     object=f"{year}/{unit_row['unit_code']}/{item_code}",
                     details={"file": checked.file_name, "bytes": len(checked.content)})
    return evidence_id
