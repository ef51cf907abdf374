"""Errors as ``application/problem+json`` (RFC 9457): a type per kind of problem, a Chinese
``detail``, and the row/column list (``errors``) where there is one.

Types are URNs (``urn:opsmon:problem:<code>``): stable identifiers a client can switch on,
listed with their meaning in README ("HTTP API").
"""

from __future__ import annotations

import json
from typing import Any

import flask

MEDIA_TYPE = "application/problem+json"

# code → (HTTP status, title)
PROBLEMS: dict[str, tuple[int, str]] = {
    "invalid_parameters": (400, "请求参数有误"),
    "unauthorized": (401, "未认证"),
    "forbidden": (403, "无权限"),
    "not_found": (404, "未找到"),
    "method_not_allowed": (405, "不支持的请求方法"),
    "too_large": (413, "请求体过大"),
    "unsupported_media_type": (415, "不支持的内容类型"),
    "rejected": (422, "文件未通过校验"),
    "idempotency_key_reused": (422, "幂等键已用于另一请求"),
    "disposal_refused": (422, "处置动作不能执行"),
    "idempotency_in_progress": (409, "相同幂等键的请求仍在处理"),
    "rate_limited": (429, "请求过于频繁"),
    "database_unavailable": (503, "数据库暂不可用"),
    "query_timeout": (503, "查询超时"),
    "server_error": (500, "服务器内部错误"),
}


def type_uri(code: str) -> str:
    """The problem type of *code*."""
    return f"urn:opsmon:problem:{code}"


def body(code: str, detail: str, **extra: Any) -> dict[str, Any]:
    """The problem document for *code* (its status member included) with *extra* members."""
    status, title = PROBLEMS[code]
    return {"type": type_uri(code), "title": title, "status": status, "detail": detail, **extra}


def response(document: dict[str, Any], status: int, headers: dict[str, str] | None = None) -> flask.Response:
    """*document* as an ``application/problem+json`` response."""
    return flask.Response(json.dumps(document, ensure_ascii=False, default=str), status=status,
                          mimetype=MEDIA_TYPE, headers=headers or {})


def problem(code: str, detail: str, *, headers: dict[str, str] | None = None, **extra: Any) -> flask.Response:
    """The response for problem *code*: its status, a Chinese *detail*, *extra* members."""
    return response(body(code, detail, **extra), PROBLEMS[code][0], headers)
