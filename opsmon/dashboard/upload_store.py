"""Uploaded files kept on the server between their preview and the user's confirmation.

Only a preview that can be confirmed is kept (not a rejected one), for
:data:`UPLOAD_TTL_SECONDS` at most, at most :data:`UPLOAD_QUOTA` per user (the oldest
goes first), deleted on confirm or cancel, and only its own uploader may take it. The
browser holds the token and the SHA-256 only, never a path: a token has a fixed
pattern (so it is never a path of the client's choosing), and a file whose SHA-256
no longer matches is refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import secrets
import time
from pathlib import Path
from typing import Any

from opsmon import config

TOKEN = re.compile(r"^[0-9a-f]{32}$")
UPLOAD_TTL_SECONDS = 3600  # a preview older than this is discarded
UPLOAD_QUOTA = 2


def upload_dir() -> Path:
    """Private folder for files awaiting confirmation: $OPSMON_DATA_DIR/uploads."""
    folder = config.load().data_dir / "uploads"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def _token(handle: dict[str, Any] | None) -> str | None:
    """The handle's token if it has the server's own format (so it is never a path), else None."""
    token = (handle or {}).get("token")
    return token if isinstance(token, str) and TOKEN.fullmatch(token) else None


def _expired(path: Path) -> bool:
    return path.stat().st_mtime < time.time() - UPLOAD_TTL_SECONDS


def _discard(folder: Path, token: str) -> None:
    for suffix in (".bin", ".json"):
        (folder / f"{token}{suffix}").unlink(missing_ok=True)


def _kept(folder: Path) -> list[tuple[float, str, dict[str, Any]]]:
    """(time kept, token, metadata) of every kept upload, oldest first."""
    out = []
    for meta_path in folder.glob("*.json"):
        try:
            out.append((meta_path.stat().st_mtime, meta_path.stem, json.loads(meta_path.read_text(encoding="utf-8"))))
        except (OSError, ValueError):
            continue  # deleted meanwhile by another worker, or half-written
    return sorted(out, key=lambda k: k[0])


def _purge(folder: Path, username: str) -> None:
    """Drop expired uploads (anyone's), and *username*'s oldest beyond the quota less one (room for a new one)."""
    for path in folder.glob("*.bin"):
        with contextlib.suppress(OSError):
            if _expired(path):
                _discard(folder, path.stem)
    own = [token for _, token, meta in _kept(folder) if meta.get("username") == username]
    for token in own[:max(0, len(own) - UPLOAD_QUOTA + 1)]:
        _discard(folder, token)


def keep_upload(content: bytes, file_name: str, kind: str | None, username: str) -> dict[str, Any]:
    """Save *content* for *username* under a fresh random token; returns what the browser may hold: token and SHA-256."""
    folder = upload_dir()
    _purge(folder, username)
    token = secrets.token_hex(16)
    sha256 = hashlib.sha256(content).hexdigest()
    (folder / f"{token}.bin").write_bytes(content)
    meta = {"file_name": file_name, "kind": kind, "sha256": sha256, "size": len(content), "username": username}
    (folder / f"{token}.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    return {"token": token, "sha256": sha256}


def take_upload(handle: dict[str, Any] | None, username: str) -> tuple[bytes, dict[str, Any]] | str:
    """The bytes and metadata of *username*'s kept upload, or the strings key of why not.

    The token must have the server's own format (so it is never a path), the file must
    still be there and younger than :data:`UPLOAD_TTL_SECONDS`, it must have been kept for
    *username*, and its SHA-256 must equal both the one recorded when it was kept and the
    one the browser holds.
    """
    token = _token(handle)
    if token is None:
        return "upload.expired"
    folder = upload_dir()
    data, meta_path = folder / f"{token}.bin", folder / f"{token}.json"
    if not data.is_file() or not meta_path.is_file() or _expired(data):
        return "upload.expired"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if meta.get("username") != username:
        return "upload.expired"  # another user's token: as if there were none
    content = data.read_bytes()
    digest = hashlib.sha256(content).hexdigest()
    if not (digest == meta.get("sha256") == handle.get("sha256")):
        return "upload.tampered"
    return content, meta


def discard_upload(handle: dict[str, Any] | None, username: str) -> None:
    """Delete *username*'s kept upload (after it was stored, or on cancel)."""
    token = _token(handle)
    if token is not None:
        folder = upload_dir()
        meta_path = folder / f"{token}.json"
        with contextlib.suppress(OSError, ValueError):
            if json.loads(meta_path.read_text(encoding="utf-8")).get("username") != username:
                return
        _discard(folder, token)
