"""The dashboard reads data only through opsmon/dashboard/data.py, which adds the user's scope.

A page that imported ``opsmon.indicators.query`` (or any other reading function)
directly could forget the scope; this test makes that a failure, not a review comment.
"""

from __future__ import annotations

import ast
from pathlib import Path

import opsmon.dashboard

DASHBOARD = Path(opsmon.dashboard.__file__).parent
# Functions that read hospital data: only data.py may call them.
READERS = {
    "opsmon.indicators": {"query", "series", "fetch"},
    "opsmon.indicators.query": {"query", "series", "fetch"},
    "opsmon.indicators.risk": {"changes", "register", "risks_frame"},
    "opsmon.indicators.programme": {"status", "outdated", "unit_counts"},
    "opsmon.indicators.targets": {"evaluate", "evaluate_children"},
    "opsmon.indicators.trends": {"yoy", "forecast_year_end", "flag_anomalies"},
    "opsmon.indicators.export": {"progress_table", "progress_table_xlsx"},
    "opsmon.indicators.reporting": {"children_summary"},
    "opsmon.ingest.api": {"ingest_bytes", "ingest_path", "list_revisions", "current_values", "list_submissions",
                          "get_submission"},
    "opsmon.ingest": {"ingest_bytes", "ingest_path"},
    "opsmon.disposal": {"list_disposals", "timeline", "attachment", "todo_counts", "act", "take_up"},
    "opsmon.disposal.records": {"list_disposals", "timeline", "attachment", "todo_counts"},
    "opsmon.disposal.workflow": {"act", "take_up"},
    "opsmon.disposal.figures": {"by_region"},
    # The evaluation's reads and steps take the user: only data.py passes the signed-in one.
    "opsmon.evaluation.results": {"units", "sheet", "evidence_list", "evidence_file", "indicator_values"},
    "opsmon.evaluation.rounds": {"rounds", "get_round", "unit", "create", "draw_sample", "sample", "publish"},
    "opsmon.evaluation.scoring": {"may", "score", "submit", "add_evidence"},
    # Documents read with a scope: the 通报.
    "opsmon.documents.bulletin": {"build", "render"},
}


def violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    aliases: dict[str, str] = {}  # local name → module it stands for
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            for name in node.names:
                if name.name in READERS.get(node.module, set()):
                    found.append(f"{path.name}:{node.lineno} imports {node.module}.{name.name}")
                full = f"{node.module}.{name.name}"
                if full in READERS:
                    aliases[name.asname or name.name] = full
        elif isinstance(node, ast.Import):
            for name in node.names:
                if name.name in READERS:
                    aliases[name.asname or name.name] = name.name
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            module = aliases.get(node.value.id)
            if module and node.attr in READERS[module]:
                found.append(f"{path.name}:{node.lineno} calls {module}.{node.attr}")
    return found


def test_only_data_py_calls_the_reading_apis():
    files = [p for p in DASHBOARD.rglob("*.py") if p.name != "data.py"]
    assert len(files) > 10
    assert [v for p in files for v in violations(p)] == []


def test_the_check_sees_a_direct_import(tmp_path):
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text("from opsmon.indicators import query\nfrom opsmon.indicators import risk as r\n"
                      "r.changes(None, '2025-01')\n", encoding="utf-8")
    assert violations(sneaky) == ["sneaky.py:1 imports opsmon.indicators.query",
                                  "sneaky.py:3 calls opsmon.indicators.risk.changes"]
