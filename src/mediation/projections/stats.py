"""The statistics view: countable facts per case (registered, agreement, closed...) as rows.

Each fact row carries the case's center, dispute type and channel at that moment and the
local day, week and month it happened in, so every figure is one SQL aggregate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import tzinfo

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
    select,
)

from mediation.domain.calendar import CHINA_STANDARD_TIME
from mediation.projections.bulk import insert_rows, save_rows
from mediation.projections.columns import UTCDateTime
from mediation.projections.parties import PartyKeys
from mediation.projections.phases import Statuses
from mediation.projections.stats_fold import Chunk, fold
from mediation.projections.view import QUERY_ONLY_INDEX, Recorded, View
from mediation.workflows import WorkflowRegistry


@dataclass(frozen=True)
class StatsTables:
    facts: Table
    cases: Table
    parties: Table


class StatsView(View[StatsTables]):
    name = "stats"

    def __init__(
        self, workflows: WorkflowRegistry, party_keys: PartyKeys, zone: tzinfo = CHINA_STANDARD_TIME
    ) -> None:
        super().__init__()
        self._statuses = Statuses(workflows)
        self._party_keys = party_keys
        self.zone = zone

    def define(self, metadata: MetaData, suffix: str) -> StatsTables:
        facts = Table(
            f"stats_facts{suffix}",
            metadata,
            Column("position", BigInteger, primary_key=True, autoincrement=False),
            Column("kind", String(16), primary_key=True),
            Column("case_id", Uuid, nullable=False),
            Column("center", String(32), nullable=False),
            Column("dispute_type", String(64), nullable=False),
            Column("channel", String(32), nullable=False),
            Column("outcome", String(16)),
            Column("at", UTCDateTime, nullable=False),
            Column("day", Date, nullable=False),  # local day, week (its Monday) and month (1st)
            Column("week", Date, nullable=False),
            Column("month", Date, nullable=False),
            Column("days", Float),  # registration to closure, for `closed` facts
        )
        Index(
            f"ix_stats_facts{suffix}_center_day", facts.c.center, facts.c.day, info=QUERY_ONLY_INDEX
        )
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
        Index(
            f"ix_stats_cases{suffix}_center_due",
            cases.c.is_open,
            cases.c.center,
            cases.c.next_due,
            info=QUERY_ONLY_INDEX,
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
        state = Chunk()
        registering = state.prepare(chunk, self._party_keys)
        p = tables.parties
        if registering:
            query = select(p.c.case_id, p.c.party_key).where(p.c.party_key.in_(registering))
            for row in conn.execute(query):
                state.stored_matches.setdefault(row.party_key, set()).add(row.case_id)
        wanted = state.known | {i for ids in state.stored_matches.values() for i in ids}
        if wanted:
            c = tables.cases
            for row in conn.execute(select(c).where(c.c.case_id.in_(wanted))):
                state.rows[row.case_id] = dict(row._mapping)
                state.stored_keys[row.case_id] = row.party_keys
        return state

    def _write(self, conn: Connection, tables: StatsTables, state: Chunk) -> None:
        insert_rows(conn, tables.facts, state.facts)
        p = tables.parties
        renamed = [i for i in state.keys if i in state.known]
        if renamed:
            old = {key for i in renamed for key in state.stored_keys[i]}
            conn.execute(delete(p).where(p.c.party_key.in_(old), p.c.case_id.in_(renamed)))
        save_rows(conn, tables.cases, {i: state.rows[i] for i in state.dirty}, state.known)
        pairs = [{"party_key": k, "case_id": i} for i, ks in state.keys.items() for k in ks]
        insert_rows(conn, p, pairs)


__all__ = ["StatsTables", "StatsView"]
