"""The derived tables' DDL in one place: every CREATE, INDEX and swap of ``ind_month``, ``ind_span``, ``ind_region``.

**Why at run time, not in a migration.** The columns of ``ind_month`` and
``ind_span`` follow the catalogue's field lists (flows, stocks, programme fields
and growth flows of :mod:`opsmon.indicators.catalogue`, from the spec's fields),
so a field added to the spec changes their shape without a migration; each full
build creates them afresh with ``CREATE TABLE … AS`` from the SQL that fills them
(:mod:`opsmon.indicators.aggregate`, :mod:`opsmon.indicators.region_sums`). They
hold nothing that cannot be rebuilt from ``monthly_values`` / ``progress_values``.
``ind_region``'s columns are fixed, but it is built from the other two in the same
transaction and swapped in with them. Tables with a fixed shape that are merged
into rather than rebuilt — ``indicator_state``, ``risk_firings``,
``risk_register`` — are ordinary migrations (``opsmon/sql/migrations/``).

**Full build.** Each table is built aside as ``<name>_build``, indexed and
analysed (:func:`build_aside`; ``ind_region`` from several statements filled side by
side: :func:`prepare_aside`, :func:`fill_aside`, :func:`finish_aside`). The aside tables
are committed by the connections that build them (independent parts run at once on
separate connections, :mod:`opsmon.indicators.aggregate`), and no reader names them;
then the refreshing transaction — which has held the refresh lock throughout —
swaps them in (:func:`swap`): drops the live tables and renames the built ones and their
indexes into place, so readers wait only for the swap. A build that fails leaves its
aside tables behind, and the next one drops them first.

**Incremental build and merges.** Working tables live for one transaction
(:func:`temp_table`): the changed hospitals' rows are built into ``<name>_delta``
(:func:`delta_table`) and replace theirs (:func:`replace_changed`); the risk
register's merge stages its rows the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

# The hospitals of an incremental refresh: the bound array :changed, on column {col}.
CHANGED = "{col} = ANY(CAST(:changed AS bpchar[]))"


@dataclass(frozen=True)
class Derived:
    """A derived table: its unique key, the columns analysed after a build, whether indexed by hospital."""

    name: str
    key: tuple[str, ...]
    analysed: tuple[str, ...]
    # By hospital too: an incremental refresh deletes the changed hospitals' rows, which the
    # keys (period first) could only find by reading the whole index — 0.5 s at national size.
    by_hospital: bool

    @property
    def aside(self) -> str:
        """The name a full build fills before the swap."""
        return f"{self.name}_build"

    @property
    def delta(self) -> str:
        """The temp table of an incremental refresh's rows for this table."""
        return f"{self.name}_delta"

    @property
    def indexes(self) -> tuple[str, ...]:
        """The suffixes of its indexes' names (``<table>_<suffix>``)."""
        return ("key", "hospital") if self.by_hospital else ("key",)


MONTH = Derived("ind_month", ("period", "hospital_code"), ("period", "hospital_code", "reported"), True)
SPAN = Derived("ind_span", ("span", "period", "hospital_code"), ("span", "period", "hospital_code"), True)
# Analysed on the columns queries filter on.
REGION = Derived("ind_region", ("adcode", "period", "span", "indicator"), ("adcode", "period", "span", "indicator"),
                 False)
TABLES = (MONTH, SPAN, REGION)


def build_aside(table: Derived, select: str) -> list[str]:
    """Statements filling ``<name>_build`` with the rows of *select*, indexed and analysed."""
    return [f"DROP TABLE IF EXISTS {table.aside}", f"CREATE TABLE {table.aside} AS {select}", *finish_aside(table)]


def prepare_aside(table: Derived, select: str) -> list[str]:
    """Statements creating an empty ``<name>_build`` with *select*'s columns, for :func:`fill_aside` to fill."""
    return [f"DROP TABLE IF EXISTS {table.aside}", f"CREATE TABLE {table.aside} AS {select} WITH NO DATA"]


def fill_aside(table: Derived, select: str) -> str:
    """The statement adding *select*'s rows to ``<name>_build`` (several may run at once, on separate connections)."""
    return f"INSERT INTO {table.aside} {select}"


def finish_aside(table: Derived) -> list[str]:
    """Statements indexing and analysing a filled ``<name>_build``."""
    statements = [f"CREATE UNIQUE INDEX {table.aside}_key ON {table.aside} ({', '.join(table.key)})"]
    if table.by_hospital:
        statements.append(f"CREATE INDEX {table.aside}_hospital ON {table.aside} (hospital_code)")
    statements.append(f"ANALYZE {table.aside} ({', '.join(table.analysed)})")
    return statements


def swap() -> list[str]:
    """Statements replacing each live table by its built one, indexes renamed to the live names."""
    statements = []
    for table in TABLES:
        statements += [f"DROP TABLE IF EXISTS {table.name}", f"ALTER TABLE {table.aside} RENAME TO {table.name}"]
        statements += [f"ALTER INDEX {table.aside}_{suffix} RENAME TO {table.name}_{suffix}"
                       for suffix in table.indexes]
    return statements


def temp_table(name: str, select: str) -> str:
    """A working table of *select*'s rows, dropped when the transaction commits."""
    return f"CREATE TEMP TABLE {name} ON COMMIT DROP AS {select}"


def delta_table(table: Derived, select: str | None = None) -> str:
    """``<name>_delta`` for this transaction: *select*'s rows, or empty with *table*'s columns."""
    return temp_table(table.delta, select if select is not None else f"SELECT * FROM {table.name} WITH NO DATA")


def replace_changed(table: Derived) -> list[str]:
    """Statements replacing the changed hospitals' (``:changed``) rows of *table* by those of its delta."""
    return [f"DELETE FROM {table.name} WHERE {CHANGED.format(col='hospital_code')}",
            f"INSERT INTO {table.name} SELECT * FROM {table.delta}"]
