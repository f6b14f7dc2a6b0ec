"""Workflow definitions: parsed from TOML and validated, or refused naming file, place, fault."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OPEN = "@open"
ANY = "@any"
DAY_UNITS = ("calendar", "working")
KIND_NAMES = {
    str: "text",
    int: "a whole number",
    bool: "true or false",
    list: "a list",
    dict: "a table",
}


class DefinitionError(Exception):
    """A workflow definition file is broken; says which file, where in it, and what is wrong."""

    def __init__(self, source: str, place: str, fault: str) -> None:
        super().__init__(f"{source}: {place}: {fault}" if place else f"{source}: {fault}")
        self.source = source
        self.place = place
        self.fault = fault


@dataclass(frozen=True)
class Vocabulary:
    """The names the engine implements; a definition may use only these."""

    actions: frozenset[str]
    guards: frozenset[str]
    roles: frozenset[str]
    complexities: frozenset[str]


@dataclass(frozen=True)
class StatusSpec:
    name: str
    phase: str
    final: bool = False


@dataclass(frozen=True)
class ActionSpec:
    name: str
    sources: tuple[str, ...]
    dest: str | None
    roles: frozenset[str]
    guards: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClockSpec:
    """A deadline: which actions start and stop it, its length, and the rule it serves."""

    name: str
    rule: str
    starts: frozenset[str]
    stops: frozenset[str]
    days: Mapping[str, int]
    unit: str = "calendar"
    extended_by: str | None = None
    max_extensions: int = 0
    # A deadline whose day is a rest day or a holiday falls due on the next working day, at
    # the same time (Civil Code art. 203: a period's last day that is a holiday ends on the
    # day after the holiday).
    ends_on_working_day: bool = False

    def days_for(self, complexity: str) -> int:
        return self.days.get(complexity, self.days.get("*", 0))


@dataclass(frozen=True)
class EscalationSpec:
    """How the rules escalate: how many overdue periods, and the rules red risk and supervision serve."""

    overdue_periods: int = 2
    red_risk: str = "A dispute graded red (possible violence) is escalated at once"
    supervision: str = "A supervision instruction not answered by its due date is escalated"


@dataclass(frozen=True)
class Definition:
    name: str
    version: int
    title: str
    initial: str
    source: str
    phases: tuple[str, ...]
    statuses: Mapping[str, StatusSpec]
    guards: Mapping[str, str]
    register_roles: frozenset[str]
    actions: Mapping[str, ActionSpec]
    clocks: Mapping[str, ClockSpec] = field(default_factory=dict)
    escalation: EscalationSpec = field(default_factory=EscalationSpec)

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"

    def phase_of(self, status: str) -> str:
        return self.statuses[status].phase


def load_definition(path: Path, vocabulary: Vocabulary) -> Definition:
    """Read and validate one definition file."""
    source = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise DefinitionError(source, "", f"not valid TOML: {error}") from None
    except OSError as error:
        raise DefinitionError(source, "", f"cannot be read: {error.strerror}") from None
    return _Parser(source, vocabulary).definition(data)


class _Parser:
    def __init__(self, source: str, vocabulary: Vocabulary) -> None:
        self.source = source
        self.vocabulary = vocabulary

    def fail(self, place: str, fault: str) -> DefinitionError:
        return DefinitionError(self.source, place, fault)

    def get(
        self, table: Mapping[str, Any], key: str, place: str, kind: type, default: Any = ...
    ) -> Any:
        if key not in table:
            if default is ...:
                raise self.fail(f"{place}{key}", "is required")
            return default
        value = table[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.fail(f"{place}{key}", f"must be {KIND_NAMES[kind]}, not {value!r}")
        return value

    def definition(self, data: Mapping[str, Any]) -> Definition:
        name = self.get(data, "name", "", str)
        version = self.get(data, "version", "", int)
        if version < 1:
            raise self.fail("version", "must be 1 or more")
        phases = tuple(self.get(data, "phases", "", dict))
        statuses = self.statuses(self.get(data, "statuses", "", dict), phases)
        initial = self.get(data, "initial", "", str)
        if initial not in statuses:
            raise self.fail("initial", f"unknown status '{initial}'")
        guards = self.guards(self.get(data, "guards", "", dict, {}))
        register = self.get(data, "register", "", dict)
        actions = {
            action: self.action(action, spec, statuses, guards)
            for action, spec in self.get(data, "actions", "", dict).items()
        }
        missing = self.vocabulary.actions - set(actions) - {"register"}
        if missing:
            raise self.fail("actions", f"missing actions: {', '.join(sorted(missing))}")
        clocks = {
            clock: self.clock(clock, spec, set(actions) | {"register"})
            for clock, spec in self.get(data, "clocks", "", dict, {}).items()
        }
        return Definition(
            name=name,
            version=version,
            title=self.get(data, "title", "", str, name),
            initial=initial,
            source=self.source,
            phases=phases,
            statuses=statuses,
            guards=guards,
            register_roles=self.roles(register, "register."),
            actions=actions,
            clocks=clocks,
            escalation=self.escalation(self.get(data, "escalation", "", dict, {})),
        )

    def escalation(self, table: Mapping[str, Any]) -> EscalationSpec:
        default = EscalationSpec()
        periods = self.get(table, "overdue_periods", "escalation.", int, default.overdue_periods)
        if not 1 <= periods <= 10:
            raise self.fail("escalation.overdue_periods", "must be from 1 to 10")
        texts = {}
        for key in ("red_risk", "supervision"):
            texts[key] = self.get(table, key, "escalation.", str, getattr(default, key))
            if not texts[key].strip():
                raise self.fail(f"escalation.{key}", "must name the rule it serves")
        return EscalationSpec(periods, texts["red_risk"], texts["supervision"])

    def statuses(self, table: Mapping[str, Any], phases: tuple[str, ...]) -> dict[str, StatusSpec]:
        result = {}
        for name, spec in table.items():
            place = f"statuses.{name}."
            if not isinstance(spec, dict):
                raise self.fail(place[:-1], "must be a table")
            phase = self.get(spec, "phase", place, str)
            if phase not in phases:
                raise self.fail(f"{place}phase", f"unknown phase '{phase}'")
            result[name] = StatusSpec(name, phase, self.get(spec, "final", place, bool, False))
        if not result:
            raise self.fail("statuses", "at least one status is required")
        return result

    def guards(self, table: Mapping[str, Any]) -> dict[str, str]:
        result = {}
        for name, spec in table.items():
            if name not in self.vocabulary.guards:
                raise self.fail(f"guards.{name}", "the engine has no guard of that name")
            if not isinstance(spec, dict):
                raise self.fail(f"guards.{name}", "must be a table with a `rule`")
            rule = self.get(spec, "rule", f"guards.{name}.", str)
            if not rule.strip():
                raise self.fail(f"guards.{name}.rule", "must name the rule the guard serves")
            result[name] = rule
        return result

    def names(
        self, table: Mapping[str, Any], key: str, place: str, default: Any = ...
    ) -> list[str]:
        """A list of names; any item that is not text is refused where it stands."""
        items = self.get(table, key, place, list, default)
        for index, item in enumerate(items):
            if not isinstance(item, str):
                raise self.fail(f"{place}{key}[{index}]", f"must be a name, not {item!r}")
        return list(items)

    def roles(self, spec: Mapping[str, Any], place: str) -> frozenset[str]:
        roles = self.names(spec, "roles", place)
        for index, role in enumerate(roles):
            if role not in self.vocabulary.roles:
                raise self.fail(f"{place}roles[{index}]", f"unknown role {role!r}")
        return frozenset(roles)

    def action(
        self, name: str, spec: Any, statuses: Mapping[str, StatusSpec], guards: Mapping[str, str]
    ) -> ActionSpec:
        place = f"actions.{name}."
        if name not in self.vocabulary.actions:
            raise self.fail(place[:-1], "the engine has no action of that name")
        if not isinstance(spec, dict):
            raise self.fail(place[:-1], "must be a table")
        sources: list[str] = []
        for index, source in enumerate(self.names(spec, "from", place)):
            if source == ANY:
                sources.extend(statuses)
            elif source == OPEN:
                sources.extend(s for s, status in statuses.items() if not status.final)
            elif source in statuses:
                sources.append(source)
            else:
                raise self.fail(f"{place}from[{index}]", f"unknown status {source!r}")
        dest = self.get(spec, "to", place, str, None)
        if dest is not None and dest not in statuses:
            raise self.fail(f"{place}to", f"unknown status '{dest}'")
        action_guards = self.names(spec, "guards", place, [])
        for index, guard in enumerate(action_guards):
            if guard not in guards:
                raise self.fail(f"{place}guards[{index}]", f"guard {guard!r} is not declared")
        roles = self.roles(spec, place)
        return ActionSpec(name, tuple(dict.fromkeys(sources)), dest, roles, tuple(action_guards))

    def clock(self, name: str, spec: Any, actions: set[str]) -> ClockSpec:
        place = f"clocks.{name}."
        if not isinstance(spec, dict):
            raise self.fail(place[:-1], "must be a table")
        ends = {}
        for key in ("starts", "stops"):
            for index, action in enumerate(self.names(spec, key, place)):
                if action not in actions:
                    raise self.fail(f"{place}{key}[{index}]", f"unknown action {action!r}")
            ends[key] = frozenset(spec[key])
        unit = self.get(spec, "unit", place, str, "calendar")
        if unit not in DAY_UNITS:
            raise self.fail(f"{place}unit", f"must be one of {', '.join(DAY_UNITS)}")
        extended_by = self.get(spec, "extended_by", place, str, None)
        if extended_by is not None and extended_by not in actions:
            raise self.fail(f"{place}extended_by", f"unknown action {extended_by!r}")
        rule = self.get(spec, "rule", place, str)
        if not rule.strip():
            raise self.fail(f"{place}rule", "must name the rule the deadline serves")
        max_extensions = self.get(spec, "max_extensions", place, int, 0)
        if max_extensions < 0:
            raise self.fail(f"{place}max_extensions", "must be 0 or more")
        ends_on_working_day = self.get(spec, "ends_on_working_day", place, bool, False)
        return ClockSpec(
            name=name,
            rule=rule,
            starts=ends["starts"],
            stops=ends["stops"],
            days=self.days(spec.get("days"), f"{place}days"),
            unit=unit,
            extended_by=extended_by,
            max_extensions=max_extensions,
            ends_on_working_day=ends_on_working_day,
        )

    def days(self, value: Any, place: str) -> dict[str, int]:
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return {"*": value}
        if isinstance(value, dict) and value:
            for key, days in value.items():
                if key not in self.vocabulary.complexities:
                    raise self.fail(f"{place}.{key}", "unknown complexity")
                if not isinstance(days, int) or isinstance(days, bool) or days < 1:
                    raise self.fail(f"{place}.{key}", "must be a whole number of days, 1 or more")
            missing = self.vocabulary.complexities - set(value)
            if missing:
                raise self.fail(place, f"missing complexities: {', '.join(sorted(missing))}")
            return dict(value)
        raise self.fail(place, "must be a whole number of days (1 or more) or one per complexity")
