"""The API's request parameters and answers as marshmallow schemas: flask-smorest validates the
parameters with them and writes them into the OpenAPI document (/api/v1/openapi.json)."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from opsmon.indicators.query import LEVELS
from opsmon.periods import SPANS

PERIOD = validate.Regexp(r"^[0-9]{4}-(0[1-9]|1[0-2])$", error="期间应为 YYYY-MM")
ADCODE = validate.Regexp(r"^[0-9]{6}$", error="地区代码应为6位数字")
PRINTABLE = validate.Regexp(r"^[^\x00-\x1f\x7f]+$", error="不能含控制字符")
MAX_LIMIT = 10_000


class Page(ma.Schema):
    """``limit`` and ``cursor`` of every list."""

    limit = fields.Integer(load_default=1000, validate=validate.Range(1, MAX_LIMIT),
                           metadata={"description": f"每页条数（1–{MAX_LIMIT}）"})
    cursor = fields.String(load_default=None, metadata={"description": "上一页返回的 next_cursor"})


class SubmitArgs(ma.Schema):
    kind = fields.String(load_default=None, validate=validate.OneOf(["monthly", "progress", "registry"]),
                         metadata={"description": "文件类型（默认按表头识别）"})
    dry_run = fields.Boolean(load_default=False, metadata={"description": "只校验、不入库"})
    file_name = fields.String(load_default=None, validate=[validate.Length(1, 200), PRINTABLE],
                              metadata={"description": "记入报送记录的文件名"})


class SubmissionsArgs(Page):
    period = fields.String(load_default=None, validate=PERIOD, metadata={"description": "文件涉及的报告期"})
    status = fields.String(load_default=None,
                           validate=validate.OneOf(["processing", "accepted", "unchanged", "rejected", "failed"]))


class IndicatorsArgs(Page):
    ids = fields.String(load_default=None, metadata={"description": "指标编号，逗号分隔（默认全部）"})
    level = fields.String(load_default="prefecture", validate=validate.OneOf(LEVELS))
    period = fields.String(load_default=None, validate=PERIOD,
                           metadata={"description": "期间 YYYY-MM（默认最近已截止月份）"})
    span = fields.String(load_default="month", validate=validate.OneOf(list(SPANS)))
    region = fields.String(load_default=None, validate=ADCODE, metadata={"description": "只含该地区及其下级"})


class RegionArgs(Page):
    region = fields.String(load_default=None, validate=ADCODE)


class RisksArgs(Page):
    period = fields.String(load_default=None, validate=PERIOD)
    region = fields.String(load_default=None, validate=ADCODE)
    level = fields.String(load_default=None, validate=validate.OneOf(["yellow", "orange", "red"]))


class Problem(ma.Schema):
    """An error (RFC 9457)."""

    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    errors = fields.List(fields.Dict(), metadata={"description": "行/列问题清单（如有）"})


class FileProblem(ma.Schema):
    row = fields.Integer(allow_none=True)
    column = fields.String(allow_none=True)
    value = fields.String(allow_none=True)
    code = fields.String()
    message = fields.String()


class FileResult(ma.Schema):
    """One entry of ``opsmon ingest --format json``'s ``files`` list."""

    file = fields.String()
    kind = fields.String(allow_none=True)
    status = fields.String(validate=validate.OneOf(["accepted", "unchanged", "rejected"]))
    rows = fields.Integer()
    revisions_created = fields.Integer()
    errors = fields.List(fields.Nested(FileProblem))
    warnings = fields.List(fields.Nested(FileProblem))


class RejectedFile(FileResult):
    """A rejected file: problem+json whose members are the file's entry (``status`` is the file's,
    'rejected'; RFC 9457's status member is advisory) plus the problem's type, title and detail."""

    type = fields.String()
    title = fields.String()
    detail = fields.String()


class Listing(ma.Schema):
    next_cursor = fields.String(allow_none=True, metadata={"description": "下一页的 cursor；无更多时为 null"})


class Submission(ma.Schema):
    submission_id = fields.Integer()
    kind = fields.String(allow_none=True)
    username = fields.String()
    file_name = fields.String()
    sha256 = fields.String()
    size_bytes = fields.Integer()
    received_at = fields.String()
    finished_at = fields.String(allow_none=True)
    status = fields.String()
    rows_total = fields.Integer(allow_none=True)
    rows_accepted = fields.Integer(allow_none=True)
    revisions_created = fields.Integer(allow_none=True)
    periods = fields.List(fields.String())
    n_errors = fields.Integer()
    n_warnings = fields.Integer()


class Submissions(Listing):
    items = fields.List(fields.Nested(Submission))


class IndicatorRow(ma.Schema):
    """A row of the query API (and of ``opsmon export --format json``)."""

    level = fields.String()
    code = fields.String()
    name = fields.String()
    parent_code = fields.String(allow_none=True)
    indicator = fields.String()
    period = fields.String()
    span = fields.String()
    value = fields.Float(allow_none=True)
    numerator = fields.Float(allow_none=True)
    denominator = fields.Float(allow_none=True)
    reporting = fields.Integer()
    expected = fields.Integer()
    approx = fields.Boolean(metadata={"description": "近似：部分医院缺选填字段，按 v1 口径计算"})


class Indicators(Listing):
    period = fields.String()
    items = fields.List(fields.Nested(IndicatorRow))


class CatalogueEntry(ma.Schema):
    id = fields.String()
    zh = fields.String()
    en = fields.String()
    group = fields.String()
    kind = fields.String()
    basis = fields.String()
    numerator = fields.String()
    denominator = fields.String(allow_none=True)
    unit = fields.String()
    direction = fields.String()
    decimals = fields.Integer()
    source = fields.String()
    note = fields.String()


class Catalogue(ma.Schema):
    items = fields.List(fields.Nested(CatalogueEntry))


class Region(ma.Schema):
    adcode = fields.String()
    name = fields.String()
    level = fields.String()
    parent_adcode = fields.String(allow_none=True)


class Regions(Listing):
    items = fields.List(fields.Nested(Region))


class Hospital(ma.Schema):
    hospital_code = fields.String()
    name = fields.String()
    adcode = fields.String()
    level = fields.String()
    tier = fields.String(allow_none=True)
    category = fields.String(allow_none=True)
    affiliation = fields.String()
    authority = fields.String()
    is_pilot = fields.Boolean()
    budget_authority = fields.String()
    opened_period = fields.String(allow_none=True)
    closed_period = fields.String(allow_none=True)


class Hospitals(Listing):
    items = fields.List(fields.Nested(Hospital))


class Disposal(ma.Schema):
    """A risk's disposal record (风险处置): its state and deadline; ``status`` is 'overdue' past the deadline."""

    disposal_id = fields.Integer()
    state = fields.String(validate=validate.OneOf(["open", "assigned", "responded", "returned", "closed"]))
    status = fields.String()
    overdue = fields.Boolean()
    data_resolved = fields.Boolean(metadata={"description": "数据已解除：规则已不再触发，待监管确认"})
    request = fields.String(allow_none=True)
    due_on = fields.String(allow_none=True)
    escalated = fields.Boolean()
    verdict = fields.String(allow_none=True)


class DisposalAttachment(ma.Schema):
    attachment_id = fields.Integer()
    file_name = fields.String()
    media_type = fields.String()
    size_bytes = fields.Integer()


class DisposalEvent(ma.Schema):
    event_id = fields.Integer()
    at = fields.String()
    username = fields.String(allow_none=True)
    action = fields.String()
    from_state = fields.String(allow_none=True)
    to_state = fields.String()
    note = fields.String(allow_none=True)
    fields_ = fields.Dict(data_key="fields", attribute="fields")
    attachments = fields.List(fields.Nested(DisposalAttachment))


class DisposalDetail(Disposal):
    hospital_code = fields.String()
    hospital_name = fields.String()
    rule = fields.String()
    level = fields.String()
    first_period = fields.String()
    timeline = fields.List(fields.Nested(DisposalEvent))


class TakeUpBody(ma.Schema):
    """A yellow risk to give a disposal record (orange and red ones have theirs)."""

    hospital_code = fields.String(required=True, validate=validate.Regexp(r"^[0-9A-Z]{18}$",
                                                                          error="机构代码应为18位统一社会信用代码"))
    rule = fields.String(required=True, validate=validate.Length(1, 64))


class AttachmentIn(ma.Schema):
    file_name = fields.String(required=True)
    content_base64 = fields.String(required=True)


class ActionBody(ma.Schema):
    """One step of the disposal: which fields each action needs is in README ("Risk disposal")."""

    action = fields.String(required=True, validate=validate.OneOf(
        ["assign", "respond", "return", "close", "reopen", "escalate"]))
    note = fields.String(load_default=None)
    due_on = fields.Date(load_default=None, metadata={"description": "整改期限（assign；return 时可改）"})
    request = fields.String(load_default=None, validate=validate.OneOf(["说明", "整改方案", "整改结果"]))
    cause = fields.String(load_default=None, metadata={"description": "原因分析（respond）"})
    measures = fields.String(load_default=None, metadata={"description": "整改措施（respond）"})
    expected_on = fields.Date(load_default=None, metadata={"description": "预计完成日期（respond）"})
    verdict = fields.String(load_default=None, validate=validate.OneOf(["已整改", "持续跟踪", "合理解释"]))
    attachments = fields.List(fields.Nested(AttachmentIn), load_default=list,
                              metadata={"description": "respond 的附件：PDF、XLSX、PNG、JPEG，每个 ≤ 5 MB，最多 5 个"})


class Risk(ma.Schema):
    """A register row of ``opsmon risks list --format json``, with its disposal record (orange and red)."""

    hospital_code = fields.String()
    hospital_name = fields.String()
    adcode = fields.String()
    rule = fields.String()
    level = fields.String()
    value = fields.Float(allow_none=True)
    first_period = fields.String()
    last_period = fields.String()
    status = fields.String()
    projected_period = fields.String(allow_none=True)
    disposal = fields.Nested(Disposal, allow_none=True)


class Risks(Listing):
    period = fields.String()
    items = fields.List(fields.Nested(Risk))
