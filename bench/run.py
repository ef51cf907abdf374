"""The whole benchmark suite, each part at province and national scale: ``python -m bench [--quick] [PART...]``.

Runs the parts one after another (each in its own process, so one part's memory and
caches do not colour the next) and lets each rewrite its own section of
``bench/RESULTS.md``. ``--quick`` runs every part in its short form (a smoke test of the
suite itself: the figures are not comparable with the full run's).

The national dashboard part loads the national demo (12 000 hospitals × 60 months
through the real ingest path), which takes the better part of an hour on a 2-core
machine; ``--national-url`` points it (and the indicators' national scale, otherwise synthetic rows)
at a database already loaded with ``opsmon demo --scale national --no-serve`` instead.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

# (name, arguments in full, arguments with --quick); None: the part has no quick form to run.
PARTS: list[tuple[str, list[str], list[str] | None]] = [
    ("ingest", ["bench.ingest"], ["bench.ingest", "--quick"]),
    ("indicators", ["bench.indicators"], ["bench.indicators", "--quick"]),
    ("dashboard, province", ["bench.dashboard"], ["bench.dashboard", "--quick"]),
    ("dashboard, national", ["bench.dashboard", "--scale", "national"], None),
    ("load test", ["bench.load"], ["bench.load", "--quick"]),
    ("signals", ["bench.signals"], ["bench.signals", "--quick"]),
    ("api", ["bench.api"], ["bench.api", "--quick"]),
    ("federation", ["bench.federation"], ["bench.federation", "--quick"]),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="every part in its short form")
    parser.add_argument("--national-url", help="an already-loaded national demo database for the national parts")
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    parser.add_argument("--only", action="append", help="run only the parts whose name starts with this")
    parser.add_argument("parts", nargs="*", help="as --only: `python -m bench signals` runs the signals part")
    args = parser.parse_args()
    args.only = (args.only or []) + args.parts
    failed = []
    for name, full, quick in PARTS:
        if args.only and not any(name.startswith(o) for o in args.only):
            continue
        argv = quick if args.quick else full
        if argv is None:
            print(f"# {name}: no quick form, skipped with --quick", file=sys.stderr)
            continue
        if args.national_url and name.endswith("national"):
            argv = [*argv, "--database-url", args.national_url]
        elif args.national_url and name == "indicators":  # its province scale is synthetic either way
            argv = [*argv, "--national-url", args.national_url]
        if args.no_write:
            argv = [*argv, "--no-write"]
        print(f"# {name}: python -m {' '.join(argv)}", file=sys.stderr, flush=True)
        started = time.perf_counter()
        code = subprocess.call([sys.executable, "-m", *argv])
        print(f"# {name}: exit {code} after {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
        if code:
            failed.append(name)
    if failed:
        raise SystemExit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
