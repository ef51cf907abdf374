"""``Idempotency-Key``: a retried POST gets the first answer back instead of making a second revision.

The first answer (status, media type, body) is kept per user and key with a hash of the request;
the same key with another request is refused (422). Two requests with one key at the same time
are serialised by a PostgreSQL advisory lock: the second waits, then replays the first's answer.
Only final answers are kept (200 and 422): a 413, 429 or a failure may be retried for real.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable

import flask
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from opsmon.api.problems import problem

KEPT_STATUSES = (200, 422)
MAX_KEY = 200
_KEY = re.compile(r"[\x20-\x7e]{1,%d}" % MAX_KEY)
WAIT_SECONDS = 30  # a second request with a key in use waits this long for the first to finish


def request_hash() -> str:
    """SHA-256 over the request's method, path, query string and body."""
    h = hashlib.sha256()
    for part in (flask.request.method, flask.request.path, flask.request.query_string.decode()):
        h.update(part.encode() + b"\x00")
    h.update(flask.request.get_data(cache=True))
    return h.hexdigest()


def once(engine: Engine, username: str, key: str, run: Callable[[], flask.Response]) -> flask.Response:
    """*run*'s answer, or the answer a request with this *key* got before."""
    if not _KEY.fullmatch(key):
        return problem("invalid_parameters", f"Idempotency-Key 应为 1–{MAX_KEY} 个可打印 ASCII 字符")
    fingerprint = request_hash()
    lock = sa.text("SELECT pg_try_advisory_lock(hashtextextended(:k, 0))")
    unlock = sa.text("SELECT pg_advisory_unlock(hashtextextended(:k, 0))")
    lock_key = f"api-idempotency\x1f{username}\x1f{key}"
    deadline = time.monotonic() + WAIT_SECONDS
    while True:  # no pooled connection is held while waiting: many retries cannot drain the pool
        conn = engine.connect()
        locked = conn.execute(lock, {"k": lock_key}).scalar()
        conn.commit()
        if locked:
            break
        conn.close()
        if time.monotonic() > deadline:
            return problem("idempotency_in_progress", "使用该 Idempotency-Key 的请求仍在处理，请稍后重试",
                           headers={"Retry-After": "5"})
        time.sleep(0.1)
    with conn:
        try:
            kept = conn.execute(sa.text(
                "SELECT request_hash, status_code, content_type, body FROM api_idempotency "
                "WHERE username = :u AND key = :k"), {"u": username, "k": key}).first()
            conn.commit()
            if kept is not None:
                if kept.request_hash != fingerprint:
                    return problem("idempotency_key_reused",
                                   "该 Idempotency-Key 已用于另一个请求：每个不同的报送请使用新的键")
                return flask.Response(bytes(kept.body), kept.status_code, content_type=kept.content_type,
                                      headers={"Idempotent-Replayed": "true"})
            answer = run()
            if answer.status_code in KEPT_STATUSES:
                conn.execute(sa.text(
                    "INSERT INTO api_idempotency (username, key, request_hash, status_code, content_type, body) "
                    "VALUES (:u, :k, :h, :s, :t, :b)"),
                    {"u": username, "k": key, "h": fingerprint, "s": answer.status_code,
                     "t": answer.content_type, "b": answer.get_data()})
                conn.commit()
            return answer
        finally:
            conn.execute(unlock, {"k": lock_key})
            conn.commit()
