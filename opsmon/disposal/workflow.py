"""The disposal of a risk as a state machine: the actions as data, and :func:`act`, the one way to take one.

::

    open ──assign──▶ assigned ──respond──▶ responded ──close──▶ closed
                        ▲                    │    ▲                │
                        │                 return  └──respond──┐   reopen (or the rule fires again)
                        │                    ▼                │    ▼
                        └──────────────── returned ───────────┘   open

``overdue`` is not a state: an item assigned or returned whose ``due_on`` has passed (China day,
:func:`opsmon.periods.today`). ``escalate`` (督办) keeps the state and hands the item to the top of
the hierarchy. Who may act: :func:`may_act`. Every action is one transaction — the record, an
event (append-only), the attachments, the audit entry.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from opsmon import periods
from opsmon.access import audit
from opsmon.access.users import User
from opsmon.disposal.attachments import AttachmentError, check_all

STATES = ("open", "assigned", "responded", "returned", "closed")
STATE_LABELS = {"open": "待交办", "assigned": "已交办", "responded": "已答复", "returned": "已退回",
                "closed": "已办结", "overdue": "已逾期"}
REQUESTS = ("说明", "整改方案", "整改结果")
VERDICTS = ("已整改", "持续跟踪", "合理解释")
MAX_NOTE = 4000
MAX_DUE_DAYS = 366


# Hospitals whose risks only the top of the hierarchy supervises: never under a county or prefecture.
PROVINCE_ONLY = ("省属", "委属委管", "中央属")


@dataclass(frozen=True)
class Action:
    """One kind of step: from which states, to which, by whom, with which fields (required, optional)."""

    id: str
    zh: str
    actor: str  # "supervise" or "respond" (roles.Role.disposal)
    from_states: tuple[str, ...]
    to_state: str | None  # None: the state stays
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    top_only: bool = False  # only a user at the top of the hierarchy (the province)


ACTIONS: dict[str, Action] = {a.id: a for a in (
    Action("assign", "交办", "supervise", ("open",), "assigned", ("due_on", "request", "note")),
    Action("respond", "答复", "respond", ("assigned", "returned"), "responded", ("cause", "measures"),
           ("expected_on", "note")),
    Action("return", "退回", "supervise", ("responded",), "returned", ("note",), ("due_on",)),
    # Closing needs an answer — or the data showing the risk gone (数据已解除), which the supervisor confirms.
    Action("close", "办结", "supervise", ("responded", "open", "assigned", "returned"), "closed", ("verdict",),
           ("note",)),
    Action("reopen", "重新打开", "supervise", ("closed",), "open", ("note",)),
    Action("escalate", "省级督办", "supervise", ("open", "assigned", "responded", "returned"), None, ("note",),
           top_only=True),
)}


class DisposalError(ValueError):
    """An action that cannot be taken; ``message`` is for people (Chinese), ``code`` for programs."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class NotFound(DisposalError):
    """No such item in the caller's scope (the same answer as no such item)."""

    def __init__(self, disposal_id: Any):
        super().__init__("not_found", f"没有找到处置事项 {disposal_id}，或不在您的权限范围内")


class Forbidden(DisposalError):
    """The caller sees the item but their role (or level) may not take this action."""


def _item(conn: sa.Connection, user: User, disposal_id: int, *, lock: bool = False) -> sa.RowMapping:
    """The item with what the permission checks need, if *user* may see it; else :class:`NotFound`."""
    from opsmon.indicators import restrict

    where, params = restrict.hospitals("h", scope=user.scope)
    row = conn.execute(sa.text(
        "SELECT d.*, h.affiliation, CAST(h.adcode AS text) AS adcode, "
        "       NOT EXISTS (SELECT 1 FROM risk_register e WHERE e.hospital_code = d.hospital_code "
        "                   AND e.rule = d.rule AND e.resolved_period IS NULL) AS data_resolved, "
        "       (SELECT parent_adcode IS NULL FROM regions WHERE adcode = :scope_code) AS user_at_top "
        f"FROM risk_disposals d JOIN hospitals h USING (hospital_code) WHERE d.disposal_id = :id AND {where}"
        + (" FOR UPDATE OF d" if lock else "")),
        {**params, "id": int(disposal_id), "scope_code": user.scope}).mappings().first()
    if row is None:
        raise NotFound(disposal_id)
    return row


def may_act(user: User, item: Any, action: Action) -> str | None:
    """Why *user* may not take *action* on *item* (a message), or None when they may.

    Supervising: a supervisor or administrator whose area holds the hospital (the scope check is
    :func:`_item`'s); a 省属 hospital's items, and escalated ones, only at the top of the hierarchy.
    Answering: the hospital's own users.
    """
    role = user.permissions
    if role.disposal != action.actor:
        return f"{role.zh}角色不能{action.zh}"
    if action.actor == "respond":
        return None if (user.hospital_code or "").strip() == item["hospital_code"].strip() else "只能答复本院的事项"
    at_top = bool(item["user_at_top"])
    if action.top_only and not at_top:
        return f"{action.zh}由省级卫生健康委进行"
    if not at_top and item["escalated"]:
        return "该事项已由省级督办，由省级卫生健康委处理"
    if not at_top and item["affiliation"] in PROVINCE_ONLY:
        return f"{item['affiliation']}医院的风险由省级卫生健康委处置"
    return None


def _check_fields(action: Action, item: Any, fields: dict[str, Any], today: date) -> dict[str, Any]:
    """The action's fields, checked and normalised; ``DisposalError`` naming the first problem."""
    labels = {"due_on": "整改期限", "request": "要求事项", "note": "说明", "cause": "原因分析", "measures": "整改措施",
              "verdict": "办结结论", "expected_on": "预计完成日期"}
    fields = {k: (v.strip() if isinstance(v, str) else v) for k, v in fields.items()}  # blank text is no text
    foreign = [k for k, v in fields.items() if v not in (None, "") and k not in (*action.required, *action.optional)]
    if foreign:
        raise DisposalError("unexpected_field",
                            f"{action.zh}不填写{'、'.join(labels.get(k, k) for k in foreign)}")
    texts = [k for k, v in fields.items() if isinstance(v, str) and "\x00" in v]
    if texts:
        raise DisposalError("bad_text", f"{'、'.join(labels.get(k, k) for k in texts)}含有不能保存的字符（NUL）")
    missing = [f for f in action.required if fields.get(f) in (None, "")]
    if missing:
        raise DisposalError("missing_field", f"请填写{'、'.join(labels[m] for m in missing)}")
    out: dict[str, Any] = {}
    for key in ("note", "cause", "measures"):
        value = (fields.get(key) or "").strip()
        if len(value) > MAX_NOTE:
            raise DisposalError("too_long", f"{labels[key]}不能超过 {MAX_NOTE} 字")
        if value:
            out[key] = value
    for key in ("due_on", "expected_on"):
        value = fields.get(key)
        if value in (None, ""):
            continue
        try:
            day = value.date() if isinstance(value, datetime) else value if isinstance(value, date) \
                else date.fromisoformat(str(value))
        except ValueError:
            raise DisposalError("bad_date", f"{labels.get(key, '预计完成日期')}应为 YYYY-MM-DD 日期") from None
        if day < today:
            raise DisposalError("date_in_past", f"{labels.get(key, '预计完成日期')} {day.isoformat()} 已过")
        if day > today + timedelta(days=MAX_DUE_DAYS):
            raise DisposalError("date_too_far", f"{labels.get(key, '预计完成日期')}不能晚于一年以后")
        out[key] = day
    if action.id == "assign" and fields["request"] not in REQUESTS:
        raise DisposalError("bad_request", f"要求事项应为 {'、'.join(REQUESTS)} 之一")
    if action.id == "assign":
        out["request"] = fields["request"]
    if action.id == "close":
        if fields["verdict"] not in VERDICTS:
            raise DisposalError("bad_verdict", f"办结结论应为 {'、'.join(VERDICTS)} 之一")
        if item["state"] != "responded" and not item["data_resolved"]:
            raise DisposalError("not_answered", "医院尚未答复、数据也未解除：不能办结")
        out["verdict"] = fields["verdict"]
    if action.id == "return" and "due_on" not in out and (item["due_on"] is None or item["due_on"] < today):
        raise DisposalError("missing_field", "原整改期限已过：退回时请给出新的整改期限")
    if action.id == "escalate" and item["escalated"]:
        raise DisposalError("already_escalated", "该事项已在省级督办中")
    return out


def act(engine: Engine, user: User, disposal_id: int, action_id: str, *, files: list[tuple[str, bytes]] = (),
        address: str | None = None, **fields: Any) -> int:
    """Take *action_id* on item *disposal_id* as *user*; return the new event's id.

    *fields*: due_on, request, note (assign); cause, measures, expected_on, note and *files*
    (respond: (name, bytes) pairs, see :mod:`opsmon.disposal.attachments`); note, due_on (return);
    verdict, note (close); note (reopen, escalate). ``NotFound`` outside the caller's scope,
    ``Forbidden`` for a role or level that may not, ``DisposalError`` for a wrong state or bad input —
    in every case nothing is changed.
    """
    action = ACTIONS.get(action_id)
    if action is None:
        raise DisposalError("unknown_action", f"未知操作 {action_id!r}：应为 {'、'.join(ACTIONS)} 之一")
    if files and action.id != "respond":
        raise DisposalError("no_attachments", "只有医院答复可以附带附件")
    try:
        attachments = check_all(list(files))
    except AttachmentError as e:
        raise DisposalError("bad_attachment", str(e)) from None
    today = periods.today()
    with engine.begin() as conn:
        item = _item(conn, user, disposal_id, lock=True)
        why = may_act(user, item, action)
        if why:
            raise Forbidden("forbidden", why)
        if item["state"] not in action.from_states:
            raise DisposalError("wrong_state", f"该事项{STATE_LABELS[item['state']]}，不能{action.zh}")
        checked = _check_fields(action, item, fields, today)
        to_state = action.to_state or item["state"]
        # The calendar's clock (periods.now: OPSMON_TODAY in a pinned demo), as the deadlines are judged on.
        updates = ["state = :to_state", "updated_at = :now"]
        params: dict[str, Any] = {"id": item["disposal_id"], "to_state": to_state, "now": periods.now()}
        if action.id == "assign":
            updates += ["request = :request", "due_on = :due_on", "assigned_at = coalesce(assigned_at, :now)"]
            params.update(request=checked["request"], due_on=checked["due_on"])
        elif action.id == "return" and "due_on" in checked:
            updates.append("due_on = :due_on")
            params["due_on"] = checked["due_on"]
        elif action.id == "respond":
            updates.append("responded_at = :now")
        elif action.id == "close":
            updates += ["verdict = :verdict", "closed_at = :now"]
            params["verdict"] = checked["verdict"]
        elif action.id == "reopen":
            updates += ["verdict = NULL", "closed_at = NULL", "due_on = NULL", "request = NULL"]
        elif action.id == "escalate":
            updates.append("escalated = true")
        conn.execute(sa.text(f"UPDATE risk_disposals SET {', '.join(updates)} WHERE disposal_id = :id"), params)
        recorded = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in checked.items() if k != "note"}
        event_id = conn.execute(sa.text(
            "INSERT INTO risk_disposal_events (disposal_id, at, username, action, from_state, to_state, note, fields) "
            "VALUES (:id, :now, :u, :a, :f, :t, :n, CAST(:fields AS jsonb)) RETURNING event_id"),
            {"id": item["disposal_id"], "now": params["now"], "u": user.username, "a": action.id, "f": item["state"],
             "t": to_state,
             "n": checked.get("note"), "fields": json.dumps(recorded, ensure_ascii=False)}).scalar_one()
        for a in attachments:
            conn.execute(sa.text(
                "INSERT INTO risk_disposal_attachments (event_id, file_name, media_type, size_bytes, sha256, content) "
                "VALUES (:e, :n, :t, :s, :h, :c)"),
                {"e": event_id, "n": a.file_name, "t": a.media_type, "s": len(a.content), "h": a.sha256,
                 "c": a.content})
        audit.record(conn, f"disposal.{action.id}", username=user.username, address=address,
                     object=str(item["disposal_id"]),
                     details={"hospital": item["hospital_code"].strip(), "rule": item["rule"], "from": item["state"],
                              "to": to_state, **recorded, "attachments": [a.file_name for a in attachments]})
    return event_id


def take_up(engine: Engine, user: User, hospital_code: str, rule: str, *, address: str | None = None) -> int:
    """Give an open yellow risk of *hospital_code* a disposal record on request (纳入处置); return its id.

    Orange and red risks get theirs by themselves. Who may: as for ``assign``. ``NotFound`` when the
    hospital is outside the caller's scope or has no open episode of *rule*; ``DisposalError`` when
    the risk has a record already.
    """
    from opsmon.indicators import restrict
    from opsmon.ingest import uscc

    code = (hospital_code or "").strip().upper()
    if not uscc.well_formed(code):  # an empty code would drop the hospital condition: any hospital in scope
        raise NotFound(hospital_code)
    where, params = restrict.hospitals("h", scope=user.scope, hospital=code)
    with engine.begin() as conn:
        episode = conn.execute(sa.text(
            "SELECT e.hospital_code, e.rule, e.first_period, e.max_level, h.affiliation, false AS escalated, "
            "       (SELECT parent_adcode IS NULL FROM regions WHERE adcode = :scope_code) AS user_at_top "
            "FROM risk_register e JOIN hospitals h USING (hospital_code) "
            f"WHERE e.rule = :rule AND e.resolved_period IS NULL AND {where}"),
            {**params, "rule": rule, "scope_code": user.scope}).mappings().first()
        if episode is None:
            raise NotFound(f"{hospital_code} {rule}")
        why = may_act(user, episode, ACTIONS["assign"])
        if why:
            raise Forbidden("forbidden", why)
        made = conn.execute(sa.text(
            "INSERT INTO risk_disposals (hospital_code, rule, first_period, level, created_at, updated_at) "
            "VALUES (:h, :r, :f, :l, :now, :now) ON CONFLICT (hospital_code, rule) DO NOTHING RETURNING disposal_id"),
            {"h": episode["hospital_code"], "r": rule, "f": episode["first_period"],
             "l": episode["max_level"], "now": periods.now()}).scalar()
        if made is None:
            raise DisposalError("exists", "该风险已有处置记录")
        conn.execute(sa.text(
            "INSERT INTO risk_disposal_events (disposal_id, at, username, action, to_state, note) "
            "VALUES (:id, :now, :u, 'create', 'open', '应监管要求纳入处置')"),
            {"id": made, "u": user.username, "now": periods.now()})
        audit.record(conn, "disposal.take_up", username=user.username, address=address, object=str(made),
                     details={"hospital": episode["hospital_code"].strip(), "rule": rule,
                              "level": episode["max_level"]})
    return made
