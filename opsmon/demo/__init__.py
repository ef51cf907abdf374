"""The demo province: a synthetic but believable set of public hospitals and their reports.

:func:`generate` builds the data (pure pandas), :func:`write_files` writes it in the real
submission formats and :func:`load_demo` feeds those files through the ingest path.
"""

from typing import Any

__all__ = ["DemoData", "DemoFile", "generate", "load_demo", "write_files"]

_HOME = {
    "DemoData": "opsmon.demo.generate",
    "generate": "opsmon.demo.generate",
    "DemoFile": "opsmon.demo.files",
    "write_files": "opsmon.demo.files",
    "load_demo": "opsmon.demo.load",
}


def __getattr__(name: str) -> Any:
    # Lazy, so the generator imports without pulling in SQL and the ingest machinery.
    if name in _HOME:
        import importlib

        return getattr(importlib.import_module(_HOME[name]), name)
    raise AttributeError(name)
