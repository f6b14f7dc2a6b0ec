"""The case event log, read in order and in bulk."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import Mapper, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from eventsourcing.utils import resolve_topic
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composable, Identifier

from mediation.domain.case import Case
from mediation.projections.bulk import SQLITE_MARKS
from mediation.projections.columns import LARGEST_POSITION
from mediation.projections.view import Recorded

# A case's part is decided by the last four hex digits of its id (see `Part`).
PART_BITS = 0xFFFF
_HEX = "0123456789abcdef"


@dataclass(frozen=True)
class Part:
    """One of `count` disjoint parts of the cases, by case id: a rebuild may apply each part
    in a process of its own (see `rebuild.load_part`).

    A case belongs to part `(the id's last 16 bits) % count`: those bits are the last four
    hex digits of the id's text, which the database can read without Python (see
    `sqlite_filter`, `postgres_filter`), and of random ids they spread evenly over any count
    up to the thousands."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            msg = f"part {self.index} of {self.count} does not exist"
            raise ValueError(msg)

    def holds(self, case_id: UUID | str) -> bool:
        number = case_id.int if isinstance(case_id, UUID) else UUID(case_id).int
        return (number & PART_BITS) % self.count == self.index

    def postgres_filter(self, column: str) -> str:
        """The same condition on PostgreSQL, for a `uuid` or text column (`mod`, not `%`,
        which psycopg would take for a placeholder)."""
        width = self._digits()
        digits = f"('x' || right({column}::text, {width}))::bit({4 * width})::int"
        return f"mod({digits}, {self.count}) = {self.index}"

    def sqlite_filter(self, column: str) -> str:
        """A SQL condition on SQLite that holds for the rows whose `column` is the id of a
        case of this part, as the event store writes it: lower-case hex digits (with or
        without dashes), read from the end."""
        digits = " + ".join(
            f"(instr('{_HEX}', substr({column}, {-1 - i}, 1)) - 1) * {16**i}"
            for i in range(self._digits())
        )
        return f"({digits}) % {self.count} = {self.index}"

    def _digits(self) -> int:
        """How many of the id's last hex digits the conditions read: as few as decide the
        part, which all four do, and fewer when the count divides what they can spell (16
        for one digit: two parts need only the last one). Each process of a rebuild tests
        every row of the log, so this counts: with two parts, one digit took SQLite 0.8 s
        for 1,000,000 rows, four 1.6-2.1 s."""
        return next((n for n in (1, 2, 3) if 16**n % self.count == 0), 4)


@dataclass(frozen=True)
class Slice:
    """Events after a position; `last` is the last id seen, which may skip ids (gaps)."""

    events: list[Recorded]
    last: int


class _Stored:
    """What `Mapper.to_domain_event` reads of a stored event, made without a frozen
    dataclass's checks (a rebuild makes one per event of its part)."""

    __slots__ = ("originator_id", "originator_version", "state", "topic")

    def __init__(self, originator_id: str, originator_version: int, topic: str, state: bytes):
        self.originator_id = originator_id
        self.originator_version = originator_version
        self.topic = topic
        self.state = state


# Case ids read lately, by their stored text: a case's events (a dozen or more) then share one
# UUID, made once instead of once per event, and dict lookups by it meet the same object.
CASE_IDS_KEPT = 65_536


class EventLog:
    """Reads the application's notifications and turns them into domain events."""

    def __init__(self, application: Application[UUID]) -> None:
        self._application = application
        mapper = application.mapper
        # The library's own mapper with nothing between the text and the transcoder (no
        # cipher, no compressor): rows are decoded by `_decoded_rows`, the same events made
        # with less work per event; any other mapper decodes them itself.
        self._plain_mapper = (
            type(mapper) is Mapper and mapper.cipher is None and mapper.compressor is None
        )
        self._classes: dict[str, type[Case.Event] | None] = {}  # by topic; None: not a case's
        self._upcasting: set[type[Case.Event]] = set()  # classes whose events the mapper decodes

    def head(self) -> int:
        return self._application.recorder.max_notification_id() or 0

    def read(
        self, after: int, limit: int, stop: int | None = None, part: Part | None = None
    ) -> Slice:
        """The case events of up to `limit` notifications after `after` (up to `stop`, when
        given); of `part`'s cases only, when given: the others are not even decoded.

        On SQLite and PostgreSQL the whole log's rows are read as plain rows, as `read_part`
        reads a part's: the library's notifications are frozen dataclasses, made and dropped
        again for every event (a rebuild of all three views in one pass executed 2.2 % fewer
        instructions without them, see `bench.instructions`)."""
        recorder = self._application.recorder
        if part is None and isinstance(
            recorder, SQLiteApplicationRecorder | PostgresApplicationRecorder
        ):
            rows = _plain_rows(recorder, after, limit, LARGEST_POSITION if stop is None else stop)
            return Slice(self._decoded_rows(rows), rows[-1][0] if rows else after)
        notifications = recorder.select_notifications(after, limit, stop, inclusive_of_start=False)
        held = (n for n in notifications if part is None or part.holds(n.originator_id))
        events = self._decoded((n.id, n) for n in held)
        last = notifications[-1].id if notifications else after
        return Slice(events, last)

    def read_part(self, after: int, limit: int, stop: int, part: Part) -> Slice:
        """The case events of `part`'s cases among the next `limit * part.count` positions
        after `after` (about `limit` of them), up to `stop`; at most `limit`. `last` is the
        position read up to.

        On SQLite and PostgreSQL the part's rows are chosen by the query, and read as plain
        rows: each process of a rebuild reads only its own part of the log (picking its part
        out of every notification in Python took some 6 % of its time with two parts on
        SQLite). The query asks for a bounded range of positions, not for the next `limit`
        of the part: PostgreSQL, which cannot tell how many rows the part's condition keeps,
        otherwise scanned and sorted the whole rest of the log for every batch (a rebuild of
        1,000,000 events in two processes took longer than in one). Elsewhere this reads the
        range's notifications and keeps the part's."""
        recorder = self._application.recorder
        window = min(stop, after + limit * part.count)
        if isinstance(recorder, SQLiteApplicationRecorder | PostgresApplicationRecorder):
            rows = _plain_rows(recorder, after, limit, window, part)
        else:
            found = self.read(after, window - after, window, part)
            if len(found.events) <= limit:
                return found
            return Slice(found.events[:limit], found.events[limit - 1].position)
        return Slice(self._decoded_rows(rows), rows[-1][0] if len(rows) == limit else window)

    def events_at(self, positions: Collection[int]) -> dict[int, Case.Event]:
        """The case events at these positions, by position (a position that holds no case
        event is left out): what the audit trail shows of each event it lists, read from the
        log itself rather than kept in the view (see `audit_query.read_audit`)."""
        chosen = set(positions)
        if not chosen:
            return {}
        recorder = self._application.recorder
        if isinstance(recorder, SQLiteApplicationRecorder | PostgresApplicationRecorder):
            recorded = self._decoded_rows(_rows_at(recorder, sorted(chosen)))
        else:
            found = (recorder.select_notifications(p, 1, p) for p in sorted(chosen))
            recorded = self._decoded((n.id, n) for ns in found for n in ns if n.id in chosen)
        return {r.position: r.event for r in recorded}

    def _decoded_rows(self, rows: list[PlainRow]) -> list[Recorded]:
        """The case events of plain rows, as `Mapper.to_domain_event` makes them: the state
        decoded by the transcoder, the originator's id and version set, the class's instance
        made without calling its constructor. Done here rather than by the mapper because a
        rebuild decodes every event: its topic is resolved once per topic, not per event, the
        events of other aggregates are not decoded at all, and a case's id is made once for
        all its events (`_case_id`). A class that upcasts (`class_version`), a stored state
        that names its version, and a mapper with a cipher or a compressor go to the mapper.
        (A rebuild of all three views in one pass: 3 % fewer instructions.)"""
        if not self._plain_mapper:
            return self._decoded((row[0], _Stored(*row[1:])) for row in rows)
        mapper = self._application.mapper
        decode, classes, new = mapper.transcoder.decode, self._classes, object.__new__
        events = []
        for position, originator_id, version, topic, state in rows:
            cls = classes[topic] if topic in classes else self._class(topic)
            if cls is None:
                continue
            try:
                event_state = decode(state)
            except Exception:  # the mapper fails on it too, saying which event it is
                event_state = None
            if event_state is None or "class_version" in event_state or cls in self._upcasting:
                stored = cast(StoredEvent, _Stored(originator_id, version, topic, state))
                event = cast(Case.Event, mapper.to_domain_event(stored))
            else:
                event_state["originator_id"] = (
                    _case_id(originator_id) if type(originator_id) is str else originator_id
                )
                event_state["originator_version"] = version
                event = new(cls)
                object.__setattr__(event, "__dict__", event_state)
            events.append(Recorded(position, event))
        return events

    def _class(self, topic: str) -> type[Case.Event] | None:
        """The case event class of a topic, resolved once per topic; None for another
        aggregate's events."""
        cls = resolve_topic(topic)
        found = cls if isinstance(cls, type) and issubclass(cls, Case.Event) else None
        if found is not None and getattr(found, "class_version", 1) != 1:
            self._upcasting.add(found)
        self._classes[topic] = found
        return found

    def _decoded(self, stored: Iterable[tuple[int, Any]]) -> list[Recorded]:
        to_domain_event = self._application.mapper.to_domain_event
        events = []
        for position, record in stored:
            event = to_domain_event(cast(StoredEvent, record))
            if isinstance(event, Case.Event):
                events.append(Recorded(position, event))
        return events


# A notification as the plain readers give it: position, then what `_Stored` takes.
PlainRow = tuple[int, Any, int, str, bytes]


class CaseId(UUID):
    """A case's id as read from the log: a UUID like any other (equal, hashed and ordered as
    one), with its hash and its hex digits worked out once. The views hash a case's id some
    thirty times an event (its rows, by case, in every view) and write its digits with each
    of its rows; `UUID` works out both anew each time, in Python (0.06 and 0.12 us; 0.04 and
    0.02 here)."""

    __slots__ = ("_hash", "hex")
    _hash: int
    hex: str  # a slot where `UUID` has a property

    def __init__(self, text: str) -> None:
        super().__init__(text)
        object.__setattr__(self, "hex", f"{self.int:032x}")
        object.__setattr__(self, "_hash", hash(self.int))

    def __hash__(self) -> int:
        return self._hash

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self),))


# A case id from its stored text (SQLite's; PostgreSQL gives UUIDs).
_case_id: Callable[[str], UUID] = lru_cache(maxsize=CASE_IDS_KEPT)(CaseId)


def _plain_rows(
    recorder: SQLiteApplicationRecorder | PostgresApplicationRecorder,
    after: int,
    limit: int,
    stop: int,
    part: Part | None = None,
) -> list[PlainRow]:
    """Up to `limit` rows of the log after `after` up to `stop`, in order; of `part`'s
    cases only, when given."""
    if isinstance(recorder, SQLiteApplicationRecorder):
        return _sqlite_rows(recorder, after, limit, stop, part)
    return _postgres_rows(recorder, after, limit, stop, part)


def _sqlite_rows(
    recorder: SQLiteApplicationRecorder, after: int, limit: int, stop: int, part: Part | None
) -> list[PlainRow]:
    condition = "" if part is None else f"AND {part.sqlite_filter('originator_id')} "
    return _sqlite_fetched(
        recorder,
        f"WHERE rowid > ? AND rowid <= ? {condition}ORDER BY rowid LIMIT ?",
        (after, stop, limit),
    )


def _postgres_rows(
    recorder: PostgresApplicationRecorder, after: int, limit: int, stop: int, part: Part | None
) -> list[PlainRow]:
    condition = (
        SQL("")
        if part is None
        else SQL("AND {} ").format(SQL(part.postgres_filter("originator_id")))
    )
    where = SQL(
        "WHERE notification_id > %s AND notification_id <= %s "
        "{condition}ORDER BY notification_id LIMIT %s"
    ).format(condition=condition)
    return _postgres_fetched(recorder, where, (after, stop, limit), prepare=True)


def _rows_at(
    recorder: SQLiteApplicationRecorder | PostgresApplicationRecorder, positions: list[int]
) -> list[PlainRow]:
    """The rows of the log at these positions, in order (a page of the audit trail)."""
    if isinstance(recorder, PostgresApplicationRecorder):
        where = SQL("WHERE notification_id = ANY(%s) ORDER BY notification_id")
        return _postgres_fetched(recorder, where, (positions,))
    rows: list[PlainRow] = []
    for start in range(0, len(positions), SQLITE_MARKS):  # the log never changes what it holds
        chosen = positions[start : start + SQLITE_MARKS]
        marks = ", ".join("?" * len(chosen))
        rows += _sqlite_fetched(recorder, f"WHERE rowid IN ({marks}) ORDER BY rowid", chosen)
    return rows


def _sqlite_fetched(
    recorder: SQLiteApplicationRecorder, where: str, params: Sequence[int]
) -> list[PlainRow]:
    """The log's rows `where` chooses (a clause on `rowid`, its position), as plain tuples."""
    statement = (
        f"SELECT rowid, originator_id, originator_version, topic, state "
        f"FROM {recorder.events_table_name} {where}"
    )
    with recorder.datastore.transaction(commit=False) as cursor:
        plain = cursor.sqlite_cursor
        plain.row_factory = None  # tuples, not the connection's sqlite3.Row
        rows: list[PlainRow] = plain.execute(statement, params).fetchall()
    return rows


def _postgres_fetched(
    recorder: PostgresApplicationRecorder,
    where: Composable,
    params: Sequence[object],
    prepare: bool = False,
) -> list[PlainRow]:
    """The log's rows `where` chooses (a clause on `notification_id`), as plain tuples."""
    statement = SQL(
        "SELECT notification_id, originator_id, originator_version, topic, state "
        "FROM {schema}.{table} {where}"
    ).format(
        schema=Identifier(recorder.datastore.schema),
        table=Identifier(recorder.events_table_name),
        where=where,
    )
    with recorder.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as cursor:
        cursor.execute(statement, params, prepare=prepare)
        return [(row[0], row[1], row[2], row[3], bytes(row[4])) for row in cursor.fetchall()]
