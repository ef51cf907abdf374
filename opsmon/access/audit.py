"""The audit log: who did what, when, from where.

Actions are dotted ids (``signin.success``, ``upload``, ``export``, ``user.add``,
``period.lock`` …). Passwords never reach this table: callers pass only what
identifies the action (a submission id, an export's selection and row count).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from opsmon.ingest.problems import total

ACTIONS: dict[str, tuple[str, str]] = {
    "signin.success": ("登录成功", "Signed in"),
    "signin.failure": ("登录失败", "Sign-in failed"),
    "signin.blocked": ("登录被限制", "Sign-in blocked"),
    "signout": ("退出登录", "Signed out"),
    "upload": ("上传文件", "Upload"),
    "upload.preview": ("预览上传文件", "Upload previewed"),
    "export": ("导出数据", "Export"),
    "user.add": ("新增用户", "User added"),
    "user.passwd": ("修改密码", "Password changed"),
    "user.disable": ("停用用户", "User disabled"),
    "user.enable": ("启用用户", "User enabled"),
    "user.unlock": ("解除登录限制", "Sign-in unlocked"),
    "period.lock": ("锁定报告期", "Period locked"),
    "period.unlock": ("解锁报告期", "Period unlocked"),
    "config.change": ("修改配置", "Configuration changed"),
    "access.denied": ("越权访问被拒绝", "Access denied"),
    "token.add": ("创建接口令牌", "API token created"),
    "token.revoke": ("吊销接口令牌", "API token revoked"),
    "api.call": ("接口调用", "API call"),
    "disposal.take_up": ("风险处置：纳入处置", "Risk disposal: taken up"),
    "disposal.assign": ("风险处置：交办", "Risk disposal: assigned"),
    "disposal.respond": ("风险处置：医院答复", "Risk disposal: answered"),
    "disposal.return": ("风险处置：退回", "Risk disposal: returned"),
    "disposal.close": ("风险处置：办结", "Risk disposal: closed"),
    "disposal.reopen": ("风险处置：重新打开", "Risk disposal: reopened"),
    "disposal.escalate": ("风险处置：省级督办", "Risk disposal: escalated"),
    "scoresheet.load": ("评价：导入评分表", "Evaluation: score sheet loaded"),
    "evaluation.round": ("评价：创建评价轮次", "Evaluation: round created"),
    "evaluation.score": ("评价：评分", "Evaluation: item scored"),
    "evaluation.evidence": ("评价：上传佐证材料", "Evaluation: evidence added"),
    "evaluation.submit": ("评价：提交", "Evaluation: submitted"),
    "evaluation.sample": ("评价：抽取抽查样本", "Evaluation: spot-check sample drawn"),
    "evaluation.publish": ("评价：公布结果", "Evaluation: results published"),
}


def record(db: Engine | Connection, action: str, *, username: str | None, address: str | None = None,
           object: str | None = None, details: dict[str, Any] | None = None) -> None:
    """Append one entry. *db* may be a connection, so the entry commits with the action it records."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    statement = sa.text("INSERT INTO audit_log (username, address, action, object, details) "
                        "VALUES (:u, :a, :action, :o, CAST(:d AS jsonb))")
    params = {"u": username, "a": address, "action": action, "o": object,
              "d": json.dumps(details or {}, ensure_ascii=False, default=str)}
    if isinstance(db, Connection):
        db.execute(statement, params)
    else:
        with db.begin() as conn:
            conn.execute(statement, params)


def record_upload(db: Engine | Connection, result: Any, *, username: str, address: str | None = None) -> None:
    """Log an upload attempt: *result* is an :class:`opsmon.ingest.api.FileResult`.

    A stored attempt is ``upload`` (its object the submission id); a preview (a dry run, which
    the submissions log does not keep) is ``upload.preview`` with the file's SHA-256, so what a
    user looked at is traceable too.
    """
    details = {"file": result.file, "kind": result.kind, "status": result.status, "rows": result.rows,
               "revisions": result.revisions_created, "errors": total(result.errors)}
    if result.dry_run:
        record(db, "upload.preview", username=username, address=address, object=result.sha256,
               details=details)
    else:
        record(db, "upload", username=username, address=address, object=str(result.submission_id),
               details=details)


def search(engine: Engine, *, username: str | None = None, action: str | None = None, text: str | None = None,
           since: datetime | None = None, until: datetime | None = None, limit: int = 500) -> pd.DataFrame:
    """Entries newest first, filtered by user, action (or an action prefix like 'user.'), free text, time.

    Columns: audit_id, at, username, address, action, object, details (a JSON string).
    """
    conds, params = ["true"], {"limit": int(limit)}
    if username:
        conds.append("username = :username")
        params["username"] = username
    if action:
        conds.append("(action = :action OR action LIKE :prefix)")
        params.update(action=action, prefix=action.rstrip(".") + ".%")
    if text:
        conds.append("(coalesce(object, '') || ' ' || CAST(details AS text)) ILIKE :text")
        params["text"] = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    if since:
        conds.append("at >= :since")
        params["since"] = since
    if until:
        conds.append("at < :until")
        params["until"] = until
    sql = (f"SELECT audit_id, at, username, address, action, object, CAST(details AS text) AS details "
           f"FROM audit_log WHERE {' AND '.join(conds)} ORDER BY at DESC, audit_id DESC LIMIT :limit")
    with engine.connect() as conn:
        return pd.read_sql_query(sa.text(sql), conn, params=params)
