"""Risk disposal (风险处置与整改闭环): every orange and red risk gets a record that a supervisor assigns, the
hospital answers, the supervisor returns or closes — each step kept, each in the audit log. Never imports Dash.

Public API::

    act(engine, user, disposal_id, action, files=[], address=None, **fields) -> event_id   # workflow
    take_up(engine, user, hospital_code, rule) -> disposal_id     # a yellow risk, on request
    list_disposals(engine, scope=, state=, rule=, level=, region=, hospital=, overdue=, today=) -> DataFrame
    timeline(engine, disposal_id, scope=) -> DataFrame | None
    attachment(engine, attachment_id, scope=) -> dict | None
    todo_counts(engine, scope=, role_disposal=) -> dict
    reminders.due(engine, today=, within_days=3) -> DataFrame          # opsmon risks remind
    figures.by_region(engine, scope=, level="prefecture") -> DataFrame  # for leadership
"""

from opsmon.disposal import figures, reminders
from opsmon.disposal.attachments import AttachmentError
from opsmon.disposal.records import COLUMNS, attachment, list_disposals, sync, timeline, todo_counts
from opsmon.disposal.workflow import (ACTIONS, REQUESTS, STATE_LABELS, STATES, VERDICTS, DisposalError, Forbidden,
                                      NotFound, act, may_act, take_up)

__all__ = ["ACTIONS", "COLUMNS", "REQUESTS", "STATES", "STATE_LABELS", "VERDICTS", "AttachmentError",
           "DisposalError", "Forbidden", "NotFound", "act", "attachment", "figures", "list_disposals", "may_act",
           "reminders", "sync", "take_up", "timeline", "todo_counts"]
