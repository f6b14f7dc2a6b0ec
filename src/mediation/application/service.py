"""The case service: loads cases, authorizes the actor's center, decides, saves; reads the past."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import asdict
from datetime import datetime
from typing import Any, ClassVar, Protocol, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import (
    IntegrityError,
    JSONTranscoder,
    Recording,
    StoredEvent,
    Transcoder,
)
from eventsourcing.utils import get_topic

from mediation.application.transcodings import TRANSCODINGS, CaseTranscoder
from mediation.application.views import (
    ActionInfo,
    CaseView,
    ChainCheck,
    HistoryEntry,
    Saved,
    case_view,
    event_data,
)
from mediation.domain import commands as c
from mediation.domain.breaches import Breach, due_breaches
from mediation.domain.calendar import WorkingCalendar
from mediation.domain.case import Case
from mediation.domain.chain import GENESIS, digest
from mediation.domain.decisions import authorize, blocking_guard, execute, register_case
from mediation.domain.errors import (
    CaseNotFoundError,
    ConcurrentChangeError,
    InvalidFieldError,
    MediationError,
    NotFoundError,
    PermissionDeniedError,
    StaleVersionError,
)
from mediation.domain.ports import Clock, Context, Directory, SystemClock
from mediation.domain.simulation import SimulatedBreach, deadline_breaches
from mediation.domain.values import Actor, Role
from mediation.workflows import Workflow, WorkflowRegistry

IDEMPOTENCY_NAMESPACE = UUID("6f1c3a52-2d0e-4b8f-9a57-0c1de3f0b7a1")
DEFAULT_WORKFLOW = "dispute"
WIDE_ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN})


class Subtrees(Protocol):
    def centers_within(self, code: str) -> frozenset[str]: ...


def centers_seen(
    directory: Subtrees, actor: Actor, center: str | None = None
) -> frozenset[str] | None:
    """The centers whose cases `actor` sees in lists: their own; a supervisor's or admin's,
    their whole subtree. Narrowed to `center` (and, for them, the centers below it); None
    when `center` is outside what the actor sees (each caller refuses it in its own way)."""
    wide = actor.role in WIDE_ROLES
    own = directory.centers_within(actor.center) if wide else frozenset({actor.center})
    if center is None:
        return own
    if center not in own:
        return None
    return directory.centers_within(center) if wide else frozenset({center})


class CenterDirectory(Directory, Protocol):
    def is_within(self, code: str, root: str) -> bool: ...

    def center(self, code: str) -> object | None: ...


class CaseApplication(Application[UUID]):
    """Every command a person or a rule gives a case goes through here."""

    name = "Mediation"
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {Case: 50}

    def __init__(
        self,
        env: Mapping[str, str],
        workflows: WorkflowRegistry,
        directory: CenterDirectory,
        clock: Clock | None = None,
        snapshot_interval: int = 50,
        calendar: WorkingCalendar | None = None,
    ) -> None:
        self.snapshotting_intervals = {Case: snapshot_interval}  # type: ignore[misc]
        super().__init__(env)
        self.workflows = workflows
        self.directory = directory
        self.clock = clock or SystemClock()
        self.calendar = calendar or WorkingCalendar()

    def construct_transcoder(self) -> Transcoder:
        transcoder = CaseTranscoder()
        self.register_transcodings(transcoder)
        return transcoder

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        for transcoding in TRANSCODINGS:
            transcoder.register(transcoding)

    # -- commands ---------------------------------------------------------------------------

    def register(
        self, command: c.Register, actor: Actor, idempotency_key: str | None = None
    ) -> Saved:
        """Register a dispute; `created` is False when a retried key found the earlier case."""
        center = command.center or actor.center
        if self.directory.center(center) is None:
            raise InvalidFieldError("center", f"no center '{center}'")
        self._check_center(actor, center)
        fingerprint = _fingerprint(command, center)
        case_id = uuid.uuid4()
        if idempotency_key is not None:
            if not idempotency_key.strip():
                raise InvalidFieldError("Idempotency-Key", "must not be blank")
            case_id = uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{actor.user}\n{idempotency_key}")
            earlier = self._replayed(case_id, fingerprint, actor)
            if earlier is not None:
                return Saved(earlier, None, created=False)
        workflow = self.workflows.latest(DEFAULT_WORKFLOW)
        case = register_case(case_id, command, actor, center, fingerprint, self._context(workflow))
        try:
            recordings = self.save(case)
        except IntegrityError:
            earlier = self._replayed(case_id, fingerprint, actor) if idempotency_key else None
            if earlier is None:
                raise ConcurrentChangeError("the case was registered concurrently") from None
            return Saved(earlier, None, created=False)
        return Saved(self._view(case, actor), _position(recordings), created=True)

    def act(
        self, case_id: UUID, command: c.Command, actor: Actor, expected_version: int | None = None
    ) -> Saved:
        """Give a case one command; `expected_version` guards against acting on a stale read."""
        case = self._load(case_id, actor)
        if expected_version is not None and expected_version != case.version:
            raise StaleVersionError(expected_version, case.version)
        execute(case, command, actor, self._context(self._workflow(case)))
        try:
            recordings = self.save(case)
        except IntegrityError:
            raise ConcurrentChangeError(
                "the case was changed by someone else at the same moment; reload and retry"
            ) from None
        return Saved(self._view(case, actor), _position(recordings))

    # -- queries ----------------------------------------------------------------------------

    def case(
        self, case_id: UUID, actor: Actor, version: int | None = None, as_of: datetime | None = None
    ) -> CaseView:
        """The case now, at an earlier version, or as it stood at a moment."""
        case = self._load(case_id, actor)
        if version is not None and as_of is not None:
            raise InvalidFieldError("as_of", "give as_of or as_of_version, not both")
        if as_of is not None:
            version = self._version_at(case_id, as_of)
        if version is None:
            return self._view(case, actor)
        if not 1 <= version <= case.version:
            raise InvalidFieldError("as_of_version", f"must be between 1 and {case.version}")
        if version != case.version:
            case = self.repository.get(case_id, version=version)
        # "Overdue" as it stood then: at the moment asked for, or when that version was made.
        return self._view(case, actor, as_of or case.modified_on)

    def available_actions(self, case_id: UUID, actor: Actor) -> list[ActionInfo]:
        """The actions this actor may take on the case now, with the rule blocking any for now."""
        case = self._load(case_id, actor)
        workflow = self._workflow(case)
        ctx = self._context(workflow)
        result = []
        for action in workflow.allowed_actions(case.status):
            try:
                authorize(case, action, actor, ctx)
            except PermissionDeniedError:
                continue
            blocked = blocking_guard(case, action, ctx)
            guard, rule = blocked if blocked else (None, None)
            result.append(ActionInfo(action, guard, rule))
        return result

    def history(self, case_id: UUID, actor: Actor) -> list[HistoryEntry]:
        """Every event of the case in order, with the status before and after it."""
        case = self._load(case_id, actor)
        workflow = self._workflow(case)
        masked = self._masked(case, actor)
        entries = []
        folded: Case | None = None
        intact, link = True, GENESIS
        for event in self._events(case_id):
            intact = intact and event.previous_hash == link
            link = digest(event)
            before = folded.status if folded is not None else None
            folded = event.mutate(folded)
            assert folded is not None
            assert isinstance(event, Case.Event)
            entries.append(
                HistoryEntry(
                    version=event.originator_version,
                    type=type(event).__name__,
                    at=event.timestamp,
                    actor=event.actor,
                    status_before=before,
                    status_after=folded.status,
                    phase_before=workflow.definition.phase_of(before) if before else None,
                    phase_after=workflow.definition.phase_of(folded.status),
                    data=event_data(event, masked),
                    hash=link,
                    previous_hash=event.previous_hash,
                    chain_intact=intact,
                )
            )
        return entries

    def verify_chain(self, case_id: UUID) -> ChainCheck:
        """Read the case's stored events and check each follows the one before, unedited; then
        that the case as the service loads it (from its latest snapshot and the events after)
        shows what the events alone give: a snapshot is no part of the chain, and one edited
        in the database would change what the service shows and decides."""
        link, version, count = GENESIS, 1, 0
        folded: Case | None = None
        for record in self.recorder.select_events(case_id):
            count += 1
            problem = self._broken_link(record, version, link)
            if problem is not None:
                return ChainCheck(case_id, count, False, link, problem)
            event = self.mapper.to_domain_event(record)
            assert isinstance(event, Case.Event)  # `_broken_link` refused anything else
            link = digest(event)
            folded = cast(Case, event.mutate(folded))
            version += 1
        if folded is None:
            raise CaseNotFoundError(case_id)
        problem = self._snapshot_problem(case_id, folded)
        return ChainCheck(case_id, count, problem is None, link, problem)

    def _snapshot_problem(self, case_id: UUID, folded: Case) -> str | None:
        """Why the case loaded through its snapshot differs from its events folded, if it does."""
        if self.snapshots is None:
            return None
        try:
            loaded = self._get(case_id)
        except Exception as error:  # an unreadable snapshot is an altered one
            return f"its snapshot cannot be read ({type(error).__name__})"
        workflow, now = self._workflow(folded), self.clock.now()
        if case_view(loaded, workflow, now, False) != case_view(folded, workflow, now, False):
            return (
                "its snapshot does not agree with its events (edited, or taken by an older "
                "mediation): the service shows and decides on the snapshot's state"
            )
        return None

    def _broken_link(self, record: StoredEvent, version: int, link: str) -> str | None:
        if record.originator_version != version:
            return f"version {version} is missing (found {record.originator_version})"
        try:
            event = self.mapper.to_domain_event(record)
        except Exception as error:  # any decoding or decryption fault means the record was altered
            return f"version {version} cannot be read ({type(error).__name__})"
        if not isinstance(event, Case.Event) or event.previous_hash != link:
            return f"version {version} does not follow version {version - 1}: edited or reordered"
        return None

    def case_ids(self) -> Iterator[UUID]:
        """Every case in the store, in the order they were registered."""
        topic = get_topic(Case.Registered)
        start = 1
        while True:
            page = self.recorder.select_notifications(start, 1000, topics=[topic])
            if not page:
                return
            for notification in page:
                yield UUID(str(notification.originator_id))
            start = page[-1].id + 1

    # -- the escalation rules --------------------------------------------------------------

    def due_breaches(self, case_id: UUID, now: datetime) -> tuple[str, list[Breach]]:
        """The case's center and its breaches due by `now` that no rule has escalated yet."""
        case = self._get(case_id)
        definition = self._workflow(case).definition
        return case.center, due_breaches(case, definition, self.calendar, now)

    def escalate_breach(self, case_id: UUID, breach: Breach, center: str) -> Saved:
        """Escalate one breach as the rule's named actor; refused if it was escalated already."""
        command = c.EscalateBreach(breach=breach.key, reason=breach.reason)
        return self.act(case_id, command, Actor.rule(breach.rule, center))

    def simulation_subject(self, case_id: UUID) -> tuple[str, datetime]:
        """The workflow a case follows and when it was registered."""
        case = self._get(case_id)
        return case.workflow, case.created_on

    def simulate(
        self, case_id: UUID, candidate: Workflow, until: datetime
    ) -> tuple[str, list[SimulatedBreach], list[SimulatedBreach]]:
        """The case's deadline breaches under its own workflow and under `candidate`."""
        case = self._get(case_id)
        events = list(self._events(case_id))
        own = deadline_breaches(events, self._workflow(case), self.calendar, until)
        other = deadline_breaches(events, candidate, self.calendar, until)
        return case.center, own, other

    # -- internals --------------------------------------------------------------------------

    def _get(self, case_id: UUID) -> Case:
        try:
            case: Case = self.repository.get(case_id)
        except AggregateNotFoundError:
            raise CaseNotFoundError(case_id) from None
        return case

    def _load(self, case_id: UUID, actor: Actor) -> Case:
        case = self._get(case_id)
        self._check_center(actor, case.center)
        return case

    def _check_center(self, actor: Actor, center: str) -> None:
        if actor.center == center:
            return
        if actor.role in WIDE_ROLES and self.directory.is_within(center, actor.center):
            return
        raise PermissionDeniedError(
            f"{actor.user} of center {actor.center} may not act on {center}"
        )

    def _replayed(self, case_id: UUID, fingerprint: str, actor: Actor) -> CaseView | None:
        try:
            case = self._load(case_id, actor)
        except CaseNotFoundError:
            return None
        if case.fingerprint != fingerprint:
            raise InvalidFieldError(
                "Idempotency-Key", "was used before for a different request; use a new key"
            )
        return self._view(case, actor)

    def _events(self, case_id: UUID) -> Iterator[Case.Event]:
        for event in self.events.get(case_id):
            assert isinstance(event, Case.Event)
            yield event

    def _version_at(self, case_id: UUID, moment: datetime) -> int:
        if moment.tzinfo is None:
            raise InvalidFieldError("as_of", "must carry a time zone offset, e.g. +08:00 or Z")
        version = None
        for event in self._events(case_id):
            if event.timestamp > moment:
                break
            version = event.originator_version
        if version is None:
            raise NotFoundError(f"case {case_id} was not registered yet at {moment.isoformat()}")
        return version

    def _workflow(self, case: Case) -> Workflow:
        return self.workflows.get(case.workflow)

    def _context(self, workflow: Workflow) -> Context:
        return Context(
            workflow=workflow,
            now=self.clock.now(),
            directory=self.directory,
            calendar=self.calendar,
        )

    def _masked(self, case: Case, actor: Actor) -> bool:
        """PML art. 15: parties' contacts are for the case's own center only."""
        return actor.center != case.center

    def _view(self, case: Case, actor: Actor, moment: datetime | None = None) -> CaseView:
        now = moment or self.clock.now()
        return case_view(case, self._workflow(case), now, self._masked(case, actor))


def _position(recordings: list[Recording[UUID]]) -> int | None:
    return max((r.notification.id for r in recordings), default=None)


def _fingerprint(command: c.Register, center: str) -> str:
    payload = json.dumps({**asdict(command), "center": center}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


__all__ = ["CaseApplication", "CenterDirectory", "MediationError"]
