"""The statistics view: countable facts per case (registered, agreement, closed...) as rows.

Each fact row carries the case's center, dispute type and channel at that moment and the
local day, week and month it happened in, so every figure is one SQL aggregate. It keeps
nothing no figure counts: its position names the event in the log, which holds the case and
the moment (with those two, the facts of 1,000,000 events took 133 MB instead of 78 on
SQLite, and a rebuild made a UUID's text and a moment's for each).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any
from uuid import UUID

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    Date,
    Float,
    Index,
    MetaData,
    String,
    Table,
    Uuid,
    delete,
)

from mediation.domain.calendar import CHINA_STANDARD_TIME
from mediation.projections.bulk import converted_first, execute, insert_rows, select_rows
from mediation.projections.columns import UTCDateTime
from mediation.projections.held import load_rows
from mediation.projections.parties import PartyKeys
from mediation.projections.phases import Statuses
from mediation.projections.stats_fold import Chunk, fold
from mediation.projections.stats_parts import PartNotes, re_disputes
from mediation.projections.view import QUERY_ONLY_INDEX, Recorded, View
from mediation.workflows import WorkflowRegistry

# Party keys a rebuild keeps in memory before it writes them, sorted, in one go (see HeldKeys).
HELD_KEYS = 100_000


@dataclass(frozen=True)
class StatsTables:
    facts: Table
    cases: Table
    parties: Table


class HeldKeys:
    """The party keys of a generation being rebuilt that are not in its table yet.

    Party keys are hashes, so each batch's new keys land at random places of the table's
    B-tree: about one page written per key, which at 1,000,000 events was over half of what
    the statistics view's commits wrote. Kept back and written sorted, many keys share a
    page. Re-disputes are found in here as well as in the table.
    """

    def __init__(self) -> None:
        self._cases: dict[str, list[UUID]] = {}
        self.count = 0

    def add(self, case_id: UUID, keys: Iterable[str]) -> None:
        for key in keys:
            self._cases.setdefault(key, []).append(case_id)
            self.count += 1

    def remove(self, case_id: UUID, keys: Iterable[str]) -> None:
        for key in keys:
            cases = self._cases.get(key)
            if cases is not None and case_id in cases:
                cases.remove(case_id)
                self.count -= 1
                if not cases:
                    del self._cases[key]

    def cases(self, key: str) -> list[UUID]:
        return self._cases.get(key, [])

    def take(self) -> list[dict[str, object]]:
        """All the rows held, in the table's order, and hold none."""
        rows = [
            {"party_key": key, "case_id": case_id}
            for key in sorted(self._cases)
            for case_id in sorted(self._cases[key])
        ]
        self._cases, self.count = {}, 0
        return rows


class StatsView(View[StatsTables]):
    name = "stats"
    partitionable = True  # re-disputes across parts are decided in `join_parts`

    def __init__(
        self,
        workflows: WorkflowRegistry,
        party_keys: PartyKeys,
        zone: tzinfo = CHINA_STANDARD_TIME,
        held_keys_limit: int = HELD_KEYS,
    ) -> None:
        super().__init__()
        self._statuses = Statuses(workflows)
        self._party_keys = party_keys
        self.zone = zone
        self.held_keys_limit = held_keys_limit  # at most this many, then they are written
        self._held_keys: dict[str, HeldKeys] = {}  # by the name of the parties table
        self._part_notes: dict[str, PartNotes] = {}  # by the name of the parties table

    @property
    def party_keys(self) -> PartyKeys:
        """How this view keys parties (see `party_query`, which looks one party up by them)."""
        return self._party_keys

    @property
    def statuses(self) -> Statuses:
        return self._statuses

    def defer_writes(self, generation: int, every_plan_written: bool = False) -> None:
        super().defer_writes(generation, every_plan_written)
        self._held_keys[self.tables(generation).parties.name] = HeldKeys()

    def write_deferred(self, conn: Connection, generation: int) -> None:
        with converted_first(conn):
            super().write_deferred(conn, generation)
            parties = self.tables(generation).parties
            held = self._held_keys.pop(parties.name, None)
            if held is not None:
                insert_rows(conn, parties, held.take())

    def drop_deferred(self, generation: int) -> None:
        super().drop_deferred(generation)
        self._held_keys.pop(self.tables(generation).parties.name, None)

    def begin_part(self, generation: int) -> None:
        self._part_notes[self.tables(generation).parties.name] = PartNotes()

    def end_part(self, generation: int) -> PartNotes | None:
        return self._part_notes.pop(self.tables(generation).parties.name, None)

    def join_parts(self, conn: Connection, generation: int, notes: Sequence[Any]) -> None:
        """Add the re-dispute facts the parts left undecided: each as its registration's."""
        facts = self.tables(generation).facts
        positions = re_disputes(notes)
        registered = [
            row | {"kind": "re_dispute"}
            for row in select_rows(conn, facts, facts.c.position, positions)
            if row["kind"] == "registered"
        ]
        insert_rows(conn, facts, sorted(registered, key=lambda row: int(row["position"])))

    def held_key_count(self, generation: int) -> int:
        """How many party keys of `generation` are held back (being rebuilt) right now."""
        found = self._held_keys.get(self.tables(generation).parties.name)
        return 0 if found is None else found.count

    def _held_tables(self, tables: StatsTables) -> Sequence[Table]:
        return (tables.cases,)

    def define(self, metadata: MetaData, suffix: str) -> StatsTables:
        facts = Table(
            f"stats_facts{suffix}",
            metadata,
            Column("position", BigInteger, primary_key=True, autoincrement=False),
            Column("kind", String(16), primary_key=True),
            Column("center", String(32), nullable=False),
            Column("dispute_type", String(64), nullable=False),
            Column("channel", String(32), nullable=False),
            Column("outcome", String(16)),
            Column("day", Date, nullable=False),  # local day, week (its Monday) and month (1st)
            Column("week", Date, nullable=False),
            Column("month", Date, nullable=False),
            Column("days", Float),  # registration to closure, for `closed` facts
            # On SQLite one B-tree by (position, kind) rather than a table and an index of that
            # key: each fact is written once, not twice (a rebuild of the three case views at
            # 1,000,000 events, `--jobs 2`: 49.6 s on average over six runs against 51.2 for the
            # same runs interleaved with a rowid, five of six pairs faster).
            sqlite_with_rowid=False,
        )
        # Every figure is counted over a scope of centers and days: this index holds, in that
        # order, every column the figures group, count or take the days from, so that they
        # are read from the index alone, in runs, instead of looking up each fact's row (the
        # city's figures by month over 1,000,000 events: 0.87 s instead of 3.07; built in
        # 1.0 s at the end of a rebuild instead of 0.6 for an index of center and day alone).
        f = facts.c
        figures = (f.center, f.day, f.kind, f.outcome, f.month, f.week, f.dispute_type, f.channel)
        Index(f"ix_stats_facts{suffix}_figures", *figures, f.days, info=QUERY_ONLY_INDEX)
        cases = Table(
            f"stats_cases{suffix}",
            metadata,
            Column("case_id", Uuid, primary_key=True),
            Column("workflow", String(64), nullable=False),
            Column("center", String(32), nullable=False),
            Column("dispute_type", String(64), nullable=False),
            Column("channel", String(32), nullable=False),
            Column("registered_at", UTCDateTime, nullable=False),
            Column("status", String(64), nullable=False),
            Column("is_open", Boolean, nullable=False),
            Column("clocks", JSON, nullable=False),
            Column("next_due", UTCDateTime),
            Column("resolved_counted", Boolean, nullable=False),  # this agreement's performance
            Column("party_keys", JSON, nullable=False),  # its rows in `parties`, to replace them
        )
        open_only = cases.c.is_open == True  # noqa: E712 (SQL)
        Index(  # the open cases alone, as the queue's (see `QueueView.define`)
            f"ix_stats_cases{suffix}_center_due",
            cases.c.center,
            cases.c.next_due,
            info=QUERY_ONLY_INDEX,
            sqlite_where=open_only,
            postgresql_where=open_only,
        )
        parties = Table(
            f"stats_parties{suffix}",
            metadata,
            Column("party_key", String(32), primary_key=True),  # PartyKeys: never raw values
            Column("case_id", Uuid, primary_key=True),
            sqlite_with_rowid=False,
        )
        return StatsTables(facts, cases, parties)

    def _plan(self, conn: Connection, tables: StatsTables, batch: Sequence[Recorded]) -> Chunk:
        state = self._load(conn, tables, batch)
        for recorded in batch:
            fold(state, recorded, self._statuses, self._party_keys, self.zone)
            self.folded(recorded.position)
        return state

    def _load(self, conn: Connection, tables: StatsTables, chunk: Sequence[Recorded]) -> Chunk:
        """The rows of the cases this chunk touches, and of cases sharing a new case's parties."""
        p = tables.parties
        state = Chunk(notes=self._part_notes.get(p.name))
        registering = state.prepare(chunk, self._party_keys)
        if registering and state.notes is None:  # else re-disputes are decided later
            for row in select_rows(conn, p, p.c.party_key, registering):
                state.stored_matches.setdefault(row["party_key"], set()).add(row["case_id"])
            held = self._held_keys.get(p.name)
            if held is not None:
                for key in registering:
                    if cases := held.cases(key):
                        state.stored_matches.setdefault(key, set()).update(cases)
        wanted = state.known | {i for ids in state.stored_matches.values() for i in ids}
        state.rows, state.loaded = load_rows(conn, tables.cases, wanted, self.held(tables.cases))
        for case_id, row in state.rows.items():
            state.stored_keys[case_id] = row["party_keys"]
        return state

    def _write(self, conn: Connection, tables: StatsTables, state: Chunk) -> None:
        """Every write converted before the first one runs (see `bulk.converted_first`)."""
        with converted_first(conn):
            insert_rows(conn, tables.facts, state.facts)
            p = tables.parties
            held = self._held_keys.get(p.name)
            renamed = [i for i in state.keys if i in state.known]
            if renamed:
                old = {key for i in renamed for key in state.stored_keys[i]}
                execute(conn, delete(p).where(p.c.party_key.in_(old), p.c.case_id.in_(renamed)))
                if held is not None:
                    for case_id in renamed:
                        held.remove(case_id, state.stored_keys[case_id])
            changed = {i: state.rows[i] for i in state.dirty}
            self._keep_rows(conn, tables, tables.cases, changed, state.loaded)
            if held is None:
                pairs = [{"party_key": k, "case_id": i} for i, ks in state.keys.items() for k in ks]
                insert_rows(conn, p, pairs)
                return
            for case_id, keys in state.keys.items():
                held.add(case_id, keys)
            if held.count >= self.held_keys_limit:
                insert_rows(conn, p, held.take())


__all__ = ["StatsTables", "StatsView"]
