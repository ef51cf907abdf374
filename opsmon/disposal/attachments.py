"""A hospital's answer may carry files: PDF, XLSX and images only, recognised by their content
(not their name), each at most :data:`MAX_BYTES`, at most :data:`MAX_FILES` per answer."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from dataclasses import dataclass

CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_BYTES = 5 * 1024 * 1024
MAX_FILES = 5
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# media type → what its name may end with
EXTENSIONS = {"application/pdf": (".pdf",), "image/png": (".png",), "image/jpeg": (".jpg", ".jpeg"),
              XLSX: (".xlsx",)}


class AttachmentError(ValueError):
    """A file that cannot be attached; the message (Chinese) says why."""


@dataclass(frozen=True)
class Attachment:
    file_name: str
    media_type: str
    content: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def sniff(content: bytes) -> str | None:
    """The media type *content* is, by its first bytes (and, for XLSX, its parts); None for anything else."""
    if content.startswith(b"%PDF-"):
        return "application/pdf"
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if content.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if content.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(content)) as z:
                names = set(z.namelist())
        # A damaged or foreign zip raises more than BadZipFile (an unknown version, a name not in its encoding).
        except (zipfile.BadZipFile, NotImplementedError, UnicodeDecodeError, ValueError, OSError, EOFError):
            return None
        if {"[Content_Types].xml", "xl/workbook.xml"} <= names:  # a workbook, not any zip with an xl/ folder
            return XLSX
    return None


def check(file_name: str, content: bytes) -> Attachment:
    """*content* as an attachment, or ``AttachmentError``: empty, too large, not a PDF/XLSX/image by
    content (an .exe renamed .pdf), or a name that does not match what it is."""
    name = (file_name or "").replace("\\", "/").rsplit("/", 1)[-1].strip()[:200]
    if not name:
        raise AttachmentError("附件没有文件名")
    if CONTROL.search(name):
        raise AttachmentError("附件的文件名不能含换行、制表符等控制字符")
    if not content:
        raise AttachmentError(f"附件 {name} 是空文件")
    if len(content) > MAX_BYTES:
        raise AttachmentError(f"附件 {name} 超过 {MAX_BYTES // (1024 * 1024)} MB")
    media_type = sniff(content)
    if media_type is None:
        raise AttachmentError(f"附件 {name} 不是 PDF、XLSX 或图片（PNG/JPEG）：按文件内容判断，不按扩展名")
    if not name.lower().endswith(EXTENSIONS[media_type]):
        raise AttachmentError(f"附件 {name} 的扩展名与内容（{EXTENSIONS[media_type][0]}）不符")
    return Attachment(name, media_type, content)


def check_all(files: list[tuple[str, bytes]]) -> list[Attachment]:
    """Every file checked (the first problem raised); at most :data:`MAX_FILES`."""
    if len(files) > MAX_FILES:
        raise AttachmentError(f"每次答复最多 {MAX_FILES} 个附件")
    return [check(name, content) for name, content in files]
