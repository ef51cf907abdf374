"""/api/v1: the endpoints. Each reads through the same library functions as the pages and the CLI,
with the token's user's scope — a token can see and change exactly what its user can.

Who may call what (the user's role, :mod:`opsmon.access.roles`):

* ``POST /submissions`` — roles that upload (hospital, analyst, admin), rows of their scope only;
* ``GET /submissions`` — everyone: the files *they* sent;
* ``GET /indicators``, ``/catalogue``, ``/hospitals``, ``/risks`` — everyone, within scope (a hospital
  user: its own hospital, ``level=hospital``);
* ``GET /regions`` — roles that view regions.

A region or hospital outside the caller's scope is 404, exactly as one that does not exist.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import http
import io
import json
import logging
from typing import Any

import flask
import marshmallow as ma
import pandas as pd
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from flask_smorest import Blueprint
from webargs.flaskparser import FlaskParser

from opsmon import derived, disposal, indicators, periods
from opsmon.access.upload_rules import upload_as
from opsmon.access.users import User
from opsmon.api import bearer, idempotency, schemas
from opsmon.api.problems import MEDIA_TYPE, body, problem, response
from opsmon.indicators import restrict, risk
from opsmon.ingest import api as ingest
from opsmon.ingest.read import MAX_BYTES
from opsmon.sql import reader as reader_side

class _Parser(FlaskParser):
    DEFAULT_VALIDATION_STATUS = 400  # a bad query parameter is a bad request (invalid_parameters)


class _Blueprint(Blueprint):
    ARGUMENTS_PARSER = _Parser()


blp = _Blueprint("api_v1", __name__, url_prefix="/api/v1",
                description="公立医院经济运行监测 数据对接接口 — push reports, pull indicators")
blp.before_request(bearer.authenticate)  # every view runs as the token's user
blp.after_request(bearer.audit_call)

log = logging.getLogger(__name__)

MAX_OFFSET = 2**31 - 1  # a cursor's offset: what PostgreSQL's OFFSET and pandas take without a second thought

CSV_TYPES = ("text/csv", "application/csv")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def query(schema: type[ma.Schema]):
    """The route's query parameters, checked against *schema*: a parameter it does not name is an error."""
    return blp.arguments(schema, location="query", unknown=ma.RAISE)


def _errors(*statuses: int):
    """Document the problem answers *statuses* (plus 401 and 429, which every route may give)."""
    def wrap(view):
        for status in sorted({401, 429, *statuses}):
            view = blp.alt_response(status, response=http.HTTPStatus(status).name)(view)
        return view
    return wrap


def writer() -> sa.Engine:
    """The engine of the routes that write (POST)."""
    return flask.current_app.extensions["opsmon.api"]["engine"]


def reader() -> sa.Engine:
    """The read-only engine of the GET routes (:mod:`opsmon.sql.reader`)."""
    return flask.current_app.extensions["opsmon.api"]["reader"]


def caller() -> User:
    """The token's user (authenticated before any view runs: :mod:`opsmon.api.bearer`)."""
    return flask.g.api_user


# --- helpers ------------------------------------------------------------------------------------------


def _page(frame: pd.DataFrame, args: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """One page of *frame*'s rows (JSON-ready) and the cursor of the next page."""
    offset = _offset(args)
    limit = args["limit"]
    rows = frame.iloc[offset:offset + limit]
    more = offset + limit < len(frame)
    return {**extra, "items": _records(rows), "next_cursor": _cursor(args, offset + limit) if more else None}


def _fingerprint(args: dict[str, Any]) -> str:
    """What a cursor belongs to: the route and its filters (not the page size)."""
    kept = {k: v for k, v in sorted(args.items()) if k not in ("cursor", "limit")}
    raw = json.dumps([flask.request.path, kept], default=str, sort_keys=True)
    return hashlib.sha256(raw.encode()).hexdigest()[:12]


def _cursor(args: dict[str, Any], offset: int) -> str:
    raw = json.dumps({"o": offset, "f": _fingerprint(args)}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _offset(args: dict[str, Any]) -> int:
    """The offset a cursor carries; 0 without one. A cursor of another query is refused."""
    cursor = args.get("cursor")
    if not cursor:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        offset = data["o"]
        ok = isinstance(offset, int) and 0 <= offset <= MAX_OFFSET and data["f"] == _fingerprint(args)
    except (ValueError, KeyError, TypeError, OverflowError):
        ok = False
    if not ok:
        flask.abort(problem("invalid_parameters", "cursor 无效或不属于本查询（请从第一页重新开始）",
                            errors=[{"field": "cursor", "message": "invalid"}]))
    return offset


def _plain(value: Any) -> Any:
    if value is None or (not isinstance(value, (list, dict, str)) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value.strip() if isinstance(value, str) else value


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: _plain(v) for k, v in row.items()} for row in frame.to_dict("records")]


def _not_found(what: str) -> None:
    flask.abort(problem("not_found", f"未找到{what}，或不在您的权限范围内"))


def _forbidden(detail: str) -> None:
    flask.abort(problem("forbidden", detail))


def _check_region(region: str | None) -> None:
    """404 unless *region* is a region the caller may see (a hospital user: one its hospital is in)."""
    if region is None:
        return
    sc = restrict.parse_scope(caller().scope)
    if sc.hospital:
        sql = ("SELECT 1 FROM hospitals h JOIN region_ancestors a ON a.adcode = h.adcode "
               "WHERE h.hospital_code = :h AND a.ancestor_adcode = :r")
        params = {"h": sc.hospital, "r": region}
    else:
        where, params = restrict.regions("r", scope=sc, code=region)
        sql = f"SELECT 1 FROM regions r WHERE {where}"
    with reader().connect() as conn:
        if conn.execute(sa.text(sql), params).first() is None:
            _not_found(f"地区 {region}")


# --- submissions --------------------------------------------------------------------------------------


def _rows_csv(document: Any) -> bytes:
    """``{"rows": [{code: value}]}`` as the CSV file it stands for (field codes as headers)."""
    rows = document.get("rows") if isinstance(document, dict) else None
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        flask.abort(problem("invalid_parameters", "JSON 请求体应为 {\"rows\": [{字段代码: 值, …}, …]}，且至少一行"))
    columns = list(dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO(newline="")
    out = csv.writer(buf)
    out.writerow(columns)

    def cell(v: Any) -> str:
        if v is None:
            return ""
        if isinstance(v, bool):
            return "是" if v else "否"
        if isinstance(v, (dict, list)):
            return json.dumps(v, ensure_ascii=False)
        return str(v)

    out.writerows([[cell(r.get(c)) for c in columns] for r in rows])
    return buf.getvalue().encode("utf-8")


def _upload_body(file_name: str | None) -> tuple[bytes, str]:
    """The request's file and the name it is logged under (by its media type)."""
    content_type = (flask.request.mimetype or "").lower()
    if flask.request.content_length is not None and flask.request.content_length > MAX_BYTES:
        flask.abort(problem("too_large", f"文件超过 {MAX_BYTES // (1024 * 1024)} MB 上限"))
    data = flask.request.get_data(cache=False)
    if len(data) > MAX_BYTES:
        flask.abort(problem("too_large", f"文件超过 {MAX_BYTES // (1024 * 1024)} MB 上限"))
    name = file_name or ""
    if content_type in CSV_TYPES:
        return data, name or "api-upload.csv"
    if content_type == XLSX_TYPE:
        return data, name or "api-upload.xlsx"
    if content_type == "application/json":
        try:
            document = json.loads(data)
        except ValueError:
            flask.abort(problem("invalid_parameters", "请求体不是有效的 JSON"))
        return _rows_csv(document), name or "api-upload.json"
    flask.abort(problem("unsupported_media_type",
                        f"Content-Type 应为 text/csv、{XLSX_TYPE} 或 application/json，收到 {content_type or '（无）'}"))


def _submission_answer(result: ingest.FileResult) -> flask.Response:
    """200 with the file's entry; 422 problem+json for a rejected file (the entry's members kept: its
    ``status`` is the file's, 'rejected' — RFC 9457 makes the status member advisory)."""
    entry = result.to_dict("zh")
    if result.status != "rejected":
        return flask.Response(json.dumps(entry, ensure_ascii=False), 200, mimetype="application/json")
    document = body("rejected", f"文件有 {len(result.errors)} 处错误，未入库（见 errors 的行、列）")
    document.pop("status")
    return response({**document, **entry}, 422)


@blp.route("/submissions", methods=["POST"])
@query(schemas.SubmitArgs)
@blp.response(200, schemas.FileResult, description="accepted 或 unchanged（与 opsmon ingest --format json 的一项相同）")
@blp.alt_response(422, schema=schemas.RejectedFile, content_type=MEDIA_TYPE,
                  description="rejected：errors 列出行、列与原因；什么都没有入库")
@_errors(403, 409, 413)
@blp.doc(
    summary="报送一个文件（月报、进展或机构名录）",
    parameters=[{"in": "header", "name": "Idempotency-Key", "required": False, "schema": {"type": "string"},
                 "description": "重试时带同一个键：返回第一次的应答，不会产生第二个修订版本"}],
    requestBody={"required": True, "content": {
        "text/csv": {"schema": {"type": "string"}},
        XLSX_TYPE: {"schema": {"type": "string", "format": "binary"}},
        "application/json": {"schema": {"type": "object", "required": ["rows"], "properties": {
            "rows": {"type": "array", "items": {"type": "object", "additionalProperties": True}}}}}}})
def post_submission(args: dict[str, Any]) -> flask.Response:
    """Validate and store one file as the token's user: their role's kinds, their scope's hospitals."""
    user = caller()
    if not user.permissions.upload_kinds:
        _forbidden(f"{user.permissions.zh}角色不能报送数据")
    key = flask.request.headers.get("Idempotency-Key")

    def run() -> flask.Response:
        content, name = _upload_body(args["file_name"])
        result = upload_as(writer(), user, content, name, kind=args["kind"], dry_run=args["dry_run"],
                           address=flask.request.remote_addr)
        derived.after_upload(writer(), result.stored)
        return _submission_answer(result)

    if key is None:
        return run()
    return idempotency.once(writer(), user.username, key, run)


@blp.route("/submissions", methods=["GET"])
@query(schemas.SubmissionsArgs)
@blp.response(200, schemas.Submissions)
@_errors()
@blp.doc(summary="本人的报送记录（最新在前）")
def list_submissions(args: dict[str, Any]) -> dict[str, Any]:
    user = caller()
    offset, limit = _offset(args), args["limit"]
    frame = ingest.list_submissions(reader(), username=user.username, scope=user.scope, period=args["period"],
                                    status=args["status"], limit=limit + 1, offset=offset)
    more = len(frame) > limit
    return {"items": _records(frame.iloc[:limit]), "next_cursor": _cursor(args, offset + limit) if more else None}


# --- indicators ---------------------------------------------------------------------------------------


@blp.route("/indicators", methods=["GET"])
@query(schemas.IndicatorsArgs)
@blp.response(200, schemas.Indicators)
@_errors(403, 404)
@blp.doc(summary="指标值（与 opsmon export --format json 的列相同，含 approx 近似标记）")
def get_indicators(args: dict[str, Any]) -> dict[str, Any]:
    user = caller()
    if user.hospital_code and args["level"] != "hospital":
        _forbidden("医院用户只能查询本院指标（level=hospital）")
    ids = None
    if args["ids"]:
        ids = [i.strip() for i in args["ids"].split(",") if i.strip()]
        unknown = sorted(set(ids) - set(indicators.IDS))
        if unknown:
            flask.abort(problem("invalid_parameters", f"参数有误：ids 含未知指标 {'、'.join(unknown)}（见 /api/v1/catalogue）",
                                errors=[{"field": "ids", "message": f"unknown: {', '.join(unknown)}"}]))
    _check_region(args["region"])
    period = args["period"] or periods.default_period(reader())
    if period is None:
        return {"period": None, "items": [], "next_cursor": None}
    frame = indicators.query(reader(), ids, args["level"], period, span=args["span"], region=args["region"],
                             scope=user.scope)
    return _page(frame, args, period=period)


@blp.route("/catalogue", methods=["GET"])
@blp.response(200, schemas.Catalogue)
@_errors()
@blp.doc(summary="指标目录")
def get_catalogue() -> dict[str, Any]:
    fields = list(schemas.CatalogueEntry().fields)
    return {"items": [{f: getattr(entry, f) for f in fields} for entry in indicators.CATALOGUE]}


# --- registry -----------------------------------------------------------------------------------------


@blp.route("/regions", methods=["GET"])
@query(schemas.RegionArgs)
@blp.response(200, schemas.Regions)
@_errors(403, 404)
@blp.doc(summary="权限范围内的地区（region：只含该地区及其下级）")
def get_regions(args: dict[str, Any]) -> dict[str, Any]:
    user = caller()
    if not user.permissions.view_regions:
        _forbidden(f"{user.permissions.zh}角色不能查询地区")
    _check_region(args["region"])
    where, params = restrict.regions("r", region=args["region"], scope=user.scope)
    with reader().connect() as conn:
        frame = pd.read_sql_query(sa.text(
            f"SELECT adcode, name, level, parent_adcode FROM regions r WHERE {where} ORDER BY adcode"),
            conn, params=params)
    return _page(frame, args)


@blp.route("/hospitals", methods=["GET"])
@query(schemas.RegionArgs)
@blp.response(200, schemas.Hospitals)
@_errors(404)
@blp.doc(summary="权限范围内的医院（机构名录）")
def get_hospitals(args: dict[str, Any]) -> dict[str, Any]:
    user = caller()
    _check_region(args["region"])
    where, params = restrict.hospitals("h", region=args["region"], scope=user.scope)
    columns = ", ".join(schemas.Hospital().fields)
    with reader().connect() as conn:
        frame = pd.read_sql_query(sa.text(
            f"SELECT {columns} FROM (SELECT h.hospital_code, h.name, h.adcode, h.level, h.tier, h.category, "
            "h.affiliation, h.authority, h.is_pilot, h.budget_authority, "
            "to_char(h.opened_period, 'YYYY-MM') AS opened_period, "
            f"to_char(h.closed_period, 'YYYY-MM') AS closed_period FROM hospitals h WHERE {where}) x "
            "ORDER BY hospital_code"), conn, params=params)
    return _page(frame, args)


# --- risks --------------------------------------------------------------------------------------------


DISPOSAL_FIELDS = list(schemas.Disposal().fields)


@blp.route("/risks", methods=["GET"])
@query(schemas.RisksArgs)
@blp.response(200, schemas.Risks)
@_errors(404)
@blp.doc(summary="风险登记（与 opsmon risks list --format json 相同的行），橙色、红色风险带处置记录 disposal")
def get_risks(args: dict[str, Any]) -> dict[str, Any]:
    user = caller()
    _check_region(args["region"])
    period, frame = risk.risks_frame(reader(), args["period"], region=args["region"], level=args["level"],
                                     scope=user.scope)
    rows = pd.DataFrame(risk.risks_document(period, frame)["risks"],
                        columns=[f for f in schemas.Risk().fields if f != "disposal"])
    records = disposal.list_disposals(reader(), scope=user.scope)
    by_key = {(r["hospital_code"].strip(), r["rule"]): {k: _plain(r[k]) for k in DISPOSAL_FIELDS}
              for r in records.to_dict("records")}
    page = _page(rows, args, period=period)
    for item in page["items"]:
        item["disposal"] = by_key.get((item["hospital_code"], item["rule"]))
    return page


def _disposal_detail(disposal_id: int) -> dict[str, Any]:
    """A record with its timeline, as the caller may see it (404 otherwise)."""
    user = caller()
    found = disposal.list_disposals(reader(), scope=user.scope, disposal_id=disposal_id)
    line = disposal.timeline(reader(), disposal_id, scope=user.scope)
    if found.empty or line is None:
        _not_found(f"处置事项 {disposal_id}")
    record = {k: _plain(v) for k, v in found.iloc[0].to_dict().items()}
    events = []
    for e in line.to_dict("records"):
        events.append({**{k: _plain(e[k]) for k in ("event_id", "at", "username", "action", "from_state",
                                                     "to_state", "note")},
                       "fields": e["fields"] or {}, "attachments": e["attachments"] or []})
    return {**{k: record[k] for k in (*DISPOSAL_FIELDS, "hospital_code", "hospital_name", "rule", "level",
                                      "first_period")}, "timeline": events}


@blp.route("/risks", methods=["POST"])
@blp.arguments(schemas.TakeUpBody, location="json", unknown=ma.RAISE)
@blp.response(200, schemas.DisposalDetail, description="纳入处置：新的处置记录")
@blp.alt_response(422, schema=schemas.Problem, content_type=MEDIA_TYPE, description="该风险已有处置记录")
@_errors(403, 404)
@blp.doc(summary="把一个黄色风险纳入处置（橙色、红色风险自动纳入）")
def take_up(body: dict[str, Any]) -> Any:
    user = caller()
    try:
        disposal_id = disposal.take_up(writer(), user, body["hospital_code"], body["rule"],
                                       address=flask.request.remote_addr)
    except disposal.NotFound:
        _not_found(f"医院 {body['hospital_code']} 的风险 {body['rule']}")
    except disposal.Forbidden as e:
        return problem("forbidden", e.message)
    except disposal.DisposalError as e:
        return problem("disposal_refused", e.message, reason=e.code)
    return _disposal_detail(disposal_id)


@blp.route("/risks/<int:disposal_id>", methods=["GET"])
@blp.response(200, schemas.DisposalDetail)
@_errors(404)
@blp.doc(summary="一个风险的处置记录及全过程（谁、何时、做了什么、附件）")
def get_disposal(disposal_id: int) -> dict[str, Any]:
    return _disposal_detail(disposal_id)


@blp.route("/risks/<int:disposal_id>/attachments/<int:attachment_id>", methods=["GET"])
@_errors(404)
@blp.doc(summary="下载处置记录的附件", responses={"200": {
    "description": "附件原文件（PDF、XLSX 或图片；Content-Type 为其类型）",
    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}})
def get_attachment(disposal_id: int, attachment_id: int) -> flask.Response:
    user = caller()
    line = disposal.timeline(reader(), disposal_id, scope=user.scope)
    attached = {a["attachment_id"] for e in (line["attachments"] if line is not None else []) for a in e}
    found = disposal.attachment(reader(), attachment_id, scope=user.scope) if attachment_id in attached else None
    if found is None:
        _not_found(f"附件 {attachment_id}")
    return flask.send_file(io.BytesIO(found["content"]), mimetype=found["media_type"], as_attachment=True,
                           download_name=found["file_name"])


@blp.route("/risks/<int:disposal_id>/actions", methods=["POST"])
@blp.arguments(schemas.ActionBody, location="json", unknown=ma.RAISE)
@blp.response(200, schemas.DisposalDetail, description="动作已完成：更新后的处置记录")
@blp.alt_response(422, schema=schemas.Problem, content_type=MEDIA_TYPE,
                  description="不能执行（状态不符、字段缺失或有误、附件不合格）：什么都没有改变")
@_errors(403, 404, 409)
@blp.doc(summary="处置动作：assign 交办、respond 答复、return 退回、close 办结、reopen 重新打开、escalate 省级督办")
def post_action(body: dict[str, Any], disposal_id: int) -> Any:
    """Take one step as the token's user; the same rules and checks as the 风险处置 page."""
    user = caller()
    files = []
    for a in body.pop("attachments") or []:
        try:
            files.append((a["file_name"], base64.b64decode(a["content_base64"], validate=True)))
        except ValueError:
            flask.abort(problem("invalid_parameters", f"附件 {a['file_name']} 的 content_base64 不是有效的 Base64"))
    action = body.pop("action")
    fields = {k: v for k, v in body.items() if v is not None}

    def run() -> flask.Response:
        try:
            disposal.act(writer(), user, disposal_id, action, files=files, address=flask.request.remote_addr,
                         **fields)
        except disposal.NotFound:
            _not_found(f"处置事项 {disposal_id}")
        except disposal.Forbidden as e:
            return problem("forbidden", e.message)
        except disposal.DisposalError as e:
            return problem("disposal_refused", e.message, reason=e.code)
        return flask.Response(json.dumps(schemas.DisposalDetail().dump(_disposal_detail(disposal_id)),
                                         ensure_ascii=False), 200, mimetype="application/json")

    key = flask.request.headers.get("Idempotency-Key")
    return run() if key is None else idempotency.once(writer(), user.username, key, run)


# --- errors the library raises ------------------------------------------------------------------------


@blp.errorhandler(sa_exc.OperationalError)
@blp.errorhandler(sa_exc.InterfaceError)
def _database_unavailable(error: Exception) -> flask.Response:
    if reader_side.timed_out(error):
        # A read cut off by the statement timeout: the server is up, this request is too big.
        return problem("query_timeout", "查询超过时限被中止，请缩小范围（地区、期间、指标）后重试",
                       headers={"Retry-After": "10"})
    log.warning("database unavailable: %s", str(error).splitlines()[0] if str(error) else type(error).__name__)
    return problem("database_unavailable", "数据库暂不可用，请稍后重试", headers={"Retry-After": "10"})


@blp.errorhandler(ValueError)
def _bad_value(error: ValueError) -> flask.Response:
    return problem("invalid_parameters", f"参数有误：{error}")


@blp.errorhandler(PermissionError)
def _permission(error: PermissionError) -> flask.Response:
    return problem("forbidden", f"无权限：{error}")
