"""What a run measured, as plain records that the report, the plots and the goals read."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Latency:
    """Percentiles of one set of samples, in milliseconds."""

    count: int
    p50: float
    p95: float
    p99: float
    max: float


def percentile(ordered: list[float], fraction: float) -> float:
    """The nearest-rank percentile of already sorted samples."""
    if not ordered:
        return float("nan")
    rank = min(max(math.ceil(fraction * len(ordered)), 1), len(ordered))
    return ordered[rank - 1]


def summarize(samples_ms: list[float]) -> Latency:
    ordered = sorted(samples_ms)
    return Latency(
        count=len(ordered),
        p50=percentile(ordered, 0.50),
        p95=percentile(ordered, 0.95),
        p99=percentile(ordered, 0.99),
        max=ordered[-1] if ordered else float("nan"),
    )


@dataclass(frozen=True)
class ActionRun:
    """The action mix driven by `clients` concurrent clients for a while."""

    backend: str
    mode: str  # "http", "direct" or "crud"
    clients: int
    processes: int  # API processes behind the HTTP clients (0: no HTTP)
    requests: int
    seconds: float
    errors: int
    latency: Latency
    client_cpu_ms: float  # CPU of the measuring process per request (the clients, or the app)
    server_cpu_ms: float | None  # CPU of the API processes per request
    first_error: str | None = None
    background: float = float("nan")  # share of the cores other work used just before

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def label(self) -> str:
        return f"{self.mode} ×{self.processes}" if self.processes > 1 else self.mode


@dataclass(frozen=True)
class RebuildRun:
    backend: str
    events: int
    views: str  # "all three" (the case views in one pass), "all three, N processes" (`--jobs
    # N`), "every view, N processes" (what `mediation projections rebuild --jobs N` rebuilds by
    # default), one view, or "queue, live catch-up"
    seconds: float
    background: float = float("nan")  # share of the cores other work used just before
    # where the time went: each stage the rebuild told and its seconds (see `rebuild.rebuild`);
    # none for the runs before 6 December 2026 and for the live catch-up
    stages: tuple[tuple[str, float], ...] = ()

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class QueueRun:
    backend: str
    cases: int  # rows of the queue view (open and closed cases)
    open_cases: int
    real_cases: int  # of which built from the event log (the rest are copies, see the notes)
    query: str
    latency: Latency
    rows: int


@dataclass(frozen=True)
class LoadRun:
    backend: str
    history: str  # "bounded" (risk re-grades: state stays small) or "notes" (state grows)
    events: int
    snapshots: bool
    latency: Latency
    snapshot_kb: float | None  # size of the newest stored snapshot


@dataclass
class Results:
    size: str
    machine: dict[str, str]
    actions: list[ActionRun] = field(default_factory=list)
    rebuilds: list[RebuildRun] = field(default_factory=list)
    queues: list[QueueRun] = field(default_factory=list)
    loads: list[LoadRun] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds each part took
    command: str = ""  # what produced these figures

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=1, ensure_ascii=False) + "\n")

    @classmethod
    def load(cls, path: Path) -> Results:
        data: dict[str, Any] = json.loads(path.read_text())
        return cls(
            size=data["size"],
            machine=data["machine"],
            actions=[_action(item) for item in data["actions"]],
            rebuilds=[_rebuild(item) for item in data["rebuilds"]],
            queues=[
                QueueRun(**{**item, "latency": Latency(**item["latency"])})
                for item in data["queues"]
            ],
            loads=[
                LoadRun(**{**item, "latency": Latency(**item["latency"])}) for item in data["loads"]
            ],
            notes=list(data["notes"]),
            timings=dict(data["timings"]),
            command=data.get("command", ""),
        )


def _rebuild(item: dict[str, Any]) -> RebuildRun:
    stages = tuple((str(stage), float(seconds)) for stage, seconds in item.get("stages", ()))
    return RebuildRun(**{**item, "stages": stages})


def _action(item: dict[str, Any]) -> ActionRun:
    return ActionRun(**{**item, "latency": Latency(**item["latency"])})
