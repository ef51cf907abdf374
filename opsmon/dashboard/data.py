"""Every read the dashboard makes, limited to the signed-in user's scope.

Pages and callbacks import data functions from here, never from
``opsmon.indicators`` or ``opsmon.ingest`` directly (``tests/dashboard/
test_boundaries.py`` checks): each function here passes the current user's
scope (:attr:`opsmon.access.users.User.scope`) to the API, which enforces it in
SQL. A caller cannot pass a scope of its own, and without a signed-in user
every read raises ``PermissionError`` — whatever a crafted request says.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from opsmon import derived
from opsmon import disposal as _disposal
from opsmon.access import audit
from opsmon.access.upload_rules import upload_as
from opsmon.dashboard import context
from opsmon.dashboard.auth import client_address, require_user
from opsmon.evaluation import results as _eval_results
from opsmon.evaluation import rounds as _eval_rounds
from opsmon.evaluation import scoring as _eval_scoring
from opsmon.indicators import export as _export
from opsmon.indicators import programme as _programme
from opsmon.indicators import query as _query
from opsmon.indicators.query import fetch as _fetch
from opsmon.indicators import restrict
from opsmon.indicators import risk as _risk
from opsmon.indicators import series as _series
from opsmon.indicators import targets as _targets
from opsmon.indicators import trends as _trends
from opsmon.ingest import api as _ingest

F = TypeVar("F", bound=Callable[..., Any])


def scope() -> str:
    """The signed-in user's scope (a region adcode or a hospital code)."""
    return require_user().scope


def _scoped(fn: F) -> F:
    """*fn* with ``scope=`` set from the signed-in user; refuses a scope from the caller."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if "scope" in kwargs:
            raise TypeError("the scope comes from the signed-in user, not from the caller")
        return fn(*args, scope=scope(), **kwargs)

    return wrapper  # type: ignore[return-value]


query = _scoped(_query)
# query over several periods, or for one unit (``code=``): a hospital's own values without everyone's.
fetch = _scoped(_fetch)
series = _scoped(_series)
risk_tally = _scoped(_risk.tally)
risk_register = _scoped(_risk.register)
# The CLI's own reading of the register (opsmon risks list): the risk page's download uses it too.
risks_frame = _scoped(_risk.risks_frame)
evaluate_targets = _scoped(_targets.evaluate)
evaluate_targets_by_region = _scoped(_targets.evaluate_children)
yoy = _scoped(_trends.yoy)
forecast_year_end = _scoped(_trends.forecast_year_end)
progress_table = _scoped(_export.progress_table)
progress_table_xlsx = _scoped(_export.progress_table_xlsx)
programme_status = _scoped(_programme.status)
programme_outdated = _scoped(_programme.outdated)
programme_unit_counts = _scoped(_programme.unit_counts)
flag_anomalies = _scoped(_trends.flag_anomalies)
list_submissions = _scoped(_ingest.list_submissions)
get_submission = _scoped(_ingest.get_submission)
# Risk disposal (opsmon.disposal): the records, an item's events and files, the leadership figures.
list_disposals = _scoped(_disposal.list_disposals)
disposal_timeline = _scoped(_disposal.timeline)
disposal_attachment = _scoped(_disposal.attachment)
disposal_figures = _scoped(_disposal.figures.by_region)


def disposal_stamp(engine: Engine) -> tuple:
    """When a disposal record last changed and how many there are: a cache key for the figures (shows nothing)."""
    with engine.connect() as conn:
        return tuple(conn.execute(sa.text("SELECT max(updated_at), count(*) FROM risk_disposals")).one())


def derived_status(engine: Engine) -> derived.Status:
    """When the derived tables on view were built, the data they hold, whether newer data waits."""
    return derived.status(engine)


def visible_hospital(engine: Engine, hospital_code: str) -> bool:
    """Whether the signed-in user may see *hospital_code* (an open or closed registered hospital)."""
    return bool(visible_codes(engine, [hospital_code]))


def visible_codes(engine: Engine, hospital_codes: Iterable[str]) -> set[str]:
    """Those of *hospital_codes* the signed-in user may see (registered hospitals, open or closed)."""
    where, params = restrict.hospitals("h", scope=scope())
    with engine.connect() as conn:
        return set(conn.execute(sa.text(
            f"SELECT hospital_code FROM hospitals h WHERE {where} AND h.hospital_code = ANY(CAST(:codes AS bpchar[]))"),
            {**params, "codes": sorted(set(hospital_codes))}).scalars())


def visible_hospitals(engine: Engine) -> pd.DataFrame:
    """The registry rows the signed-in user may see: hospital_code, name, adcode, level, tier, closed_period."""
    where, params = restrict.hospitals("h", scope=scope())
    with engine.connect() as conn:
        return pd.read_sql_query(sa.text(
            "SELECT hospital_code, name, adcode, level, tier, to_char(closed_period, 'YYYY-MM') AS closed_period "
            f"FROM hospitals h WHERE {where} ORDER BY hospital_code"), conn, params=params)


def list_revisions(engine: Engine, hospital_code: str, period: str | None = None, kind: str = "monthly"
                   ) -> pd.DataFrame:
    """A hospital's revisions (see :func:`opsmon.ingest.api.list_revisions`); empty outside the scope."""
    frame = _ingest.list_revisions(engine, hospital_code, period, kind)
    return frame if visible_hospital(engine, hospital_code) else frame.iloc[0:0]


def current_values(engine: Engine, kind: str, keys: pd.DataFrame) -> pd.DataFrame:
    """Stored current values of the rows named in *keys* — only the hospitals in scope are asked for."""
    allowed = visible_codes(engine, keys["hospital_code"])
    return _ingest.current_values(engine, kind, keys[keys["hospital_code"].isin(allowed)])


def upload(engine: Engine, content: bytes, file_name: str, *, kind: str | None = None,
           dry_run: bool = False) -> _ingest.FileResult:
    """Ingest a file as the signed-in user (:func:`opsmon.access.upload_rules.upload_as`): only the kinds
    their role may send, only rows in their scope; every attempt, previews included, audited.

    An accepted file of a few hospitals brings the derived tables up to date before this returns
    (the uploader's next view shows it); a bigger one is left to the refresh worker.
    """
    result = upload_as(engine, require_user(), content, file_name, kind=kind, dry_run=dry_run,
                       address=client_address())
    derived.after_upload(engine, result.stored)
    return result


def check_export() -> None:
    """``PermissionError`` unless the signed-in user's role may export."""
    user = require_user()
    if not user.permissions.export:
        raise PermissionError(f"a {user.role} user may not export")


def record_export(what: str, rows: int, **details: Any) -> None:
    """Write an export (what, how many rows, the selection) to the audit log."""
    user = require_user()
    audit.record(context.writer(), "export", username=user.username, address=client_address(), object=what,
                 details={"rows": int(rows), **details})


# ----------------------------------------------------------------------------------------- documents
def bulletin(engine: Engine, period: str, *, region: str | None = None) -> Any:
    """The 经济运行分析通报 (:func:`opsmon.documents.bulletin.build`) of *region* for the closed month *period*,
    read within the signed-in user's scope: a :class:`~opsmon.documents.model.Document`. ``ValueError`` (Chinese
    and English) for a month not closed, a malformed one, a region outside the scope, a hospital user."""
    from opsmon.documents import bulletin as _bulletin  # matplotlib: loaded when a 通报 is first built

    return _bulletin.build(engine, period, region=region, scope=scope())


# ----------------------------------------------------------------------------------------- risk disposal
def disposal_todo(engine: Engine) -> dict[str, int]:
    """What waits for the signed-in user (:func:`opsmon.disposal.todo_counts` for their scope and role):
    to_assign, to_answer, to_review, overdue."""
    user = require_user()
    return _disposal.todo_counts(engine, scope=user.scope, role_disposal=user.permissions.disposal)


def _at_top(engine: Engine, scope_code: str) -> bool:
    """Whether *scope_code* is the top of the hierarchy (the province, or the nation): only there are 省属
    and escalated items handled (the rule :func:`opsmon.disposal.may_act` applies)."""
    with engine.connect() as conn:
        return bool(conn.execute(sa.text("SELECT parent_adcode IS NULL FROM regions WHERE adcode = :a"),
                                 {"a": scope_code}).scalar())


def disposal_actions(engine: Engine, item: Mapping[str, Any]) -> list[str]:
    """The actions the signed-in user may take on *item* (a :func:`list_disposals` row) in its state, in
    :data:`opsmon.disposal.ACTIONS` order — what the page offers; :func:`dispose` checks again."""
    user = require_user()
    checked = {**item, "user_at_top": _at_top(engine, user.scope)}
    return [a.id for a in _disposal.ACTIONS.values()
            if item["state"] in a.from_states and _disposal.may_act(user, checked, a) is None
            # Closing an unanswered item needs the data to show the risk gone; escalating, not done yet.
            and not (a.id == "close" and item["state"] != "responded" and not item["data_resolved"])
            and not (a.id == "escalate" and item["escalated"])]


def dispose(engine: Engine, disposal_id: int, action: str, *, files: list[tuple[str, bytes]] = (),
            **fields: Any) -> int:
    """Take *action* on item *disposal_id* as the signed-in user, from their address
    (:func:`opsmon.disposal.act`: scope, role, state and fields checked; audited); the new event's id."""
    return _disposal.act(engine, require_user(), disposal_id, action, files=list(files),
                         address=client_address(), **fields)


# ----------------------------------------------------------------------------------------- evaluation
# The yearly evaluation (opsmon.evaluation): every read and step as the signed-in user, from their address.
# The library decides what the user sees (rounds.visible) and may do (scoring.may); nothing here widens it.
def evaluation_rounds(engine: Engine) -> pd.DataFrame:
    """Every round, newest first (year, data_period, deadlines, published_at, units, sampled)."""
    require_user()
    return _eval_rounds.rounds(engine)


def evaluation_round(engine: Engine, year: int) -> _eval_rounds.Round:
    """Round *year*'s settings (:class:`~opsmon.evaluation.rounds.NotFound` when there is none)."""
    require_user()
    return _eval_rounds.get_round(engine, year)


def evaluation_units(engine: Engine, year: int) -> pd.DataFrame:
    """Round *year*'s units the signed-in user sees, with their state and totals."""
    return _eval_results.units(engine, require_user(), year)


def evaluation_sheet(engine: Engine, year: int, unit_code: str) -> tuple[dict[str, Any], pd.DataFrame]:
    """A unit's sheet as the signed-in user sees it (NotFound outside their view)."""
    return _eval_results.sheet(engine, require_user(), year, unit_code)


def evaluation_evidence(engine: Engine, year: int, unit_code: str) -> pd.DataFrame:
    """A unit's evidence files (no content), NotFound outside the view."""
    return _eval_results.evidence_list(engine, require_user(), year, unit_code)


def evaluation_evidence_file(engine: Engine, evidence_id: int) -> dict[str, Any] | None:
    """One evidence file if its unit is in the signed-in user's view, else None."""
    return _eval_results.evidence_file(engine, require_user(), evidence_id)


def evaluation_steps(engine: Engine, year: int, unit_code: str) -> dict[str, str | None]:
    """For each stage (self, review, check): why the signed-in user may not work on it now, or None when they
    may (:func:`opsmon.evaluation.scoring.may`) — what the page offers; every step checks again."""
    user = require_user()
    with engine.connect() as conn:
        r = _eval_rounds.get_round(conn, year)
        unit_row = _eval_rounds.unit(conn, user, year, unit_code)
        return {stage: _eval_scoring.may(conn, user, r, unit_row, stage) for stage in _eval_rounds.STAGES}


def evaluation_at_top(engine: Engine) -> bool:
    """Whether the signed-in user is the province's administrator (draws the sample, publishes)."""
    user = require_user()
    return bool(user.permissions.admin and _eval_rounds.at_top(engine, user))


def evaluation_score(engine: Engine, year: int, unit_code: str, item_code: str, value: Any, *, stage: str,
                     note: str | None = None, reason: str | None = None) -> None:
    _eval_scoring.score(engine, require_user(), year, unit_code, item_code, value, stage=stage, note=note,
                        reason=reason, address=client_address())


def evaluation_submit(engine: Engine, year: int, unit_code: str, *, stage: str) -> None:
    _eval_scoring.submit(engine, require_user(), year, unit_code, stage=stage, address=client_address())


def evaluation_add_evidence(engine: Engine, year: int, unit_code: str, item_code: str, file_name: str,
                            content: bytes) -> int:
    return _eval_scoring.add_evidence(engine, require_user(), year, unit_code, item_code, file_name, content,
                                      address=client_address())


def evaluation_draw_sample(engine: Engine, year: int, *, rate: float, seed: int) -> pd.DataFrame:
    return _eval_rounds.draw_sample(engine, require_user(), year, rate=rate, seed=seed, address=client_address())


def evaluation_sample(engine: Engine, year: int) -> pd.DataFrame:
    """The sampled units the signed-in user sees."""
    return _eval_rounds.sample(engine, require_user(), year)


def evaluation_publish(engine: Engine, year: int) -> None:
    _eval_rounds.publish(engine, require_user(), year, address=client_address())


def evaluation_report(engine: Engine, year: int, fmt: str, unit_code: str | None = None) -> bytes:
    """The 全省评价报告 (or, with *unit_code*, that unit's 自评报告) as the signed-in user sees it, DOCX or PDF."""
    from opsmon.documents import evaluation_report as report

    user = require_user()
    doc = (report.self_assessment(engine, user, year, unit_code) if unit_code
           else report.provincial(engine, user, year))
    return report.render(doc, fmt)
