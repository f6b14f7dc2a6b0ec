"""PNG plots of a run (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter

from bench.goals import P99_LIMIT_MS, QUEUE_P99_MS, REBUILD_RATE
from bench.records import Results

MODE_STYLE = {"http": "-", "http ×2": "-.", "direct": "--", "crud": ":"}


def write_plots(results: Results, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    drawn = []
    for name, draw in PLOTTERS.items():
        figure = draw(results)
        if figure is None:
            continue
        path = folder / f"{name}.png"
        figure.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(figure)
        drawn.append(path)
    return drawn


def _per_backend(backends: list[str], title: str) -> tuple[Figure, list[Axes]]:
    figure, axes = plt.subplots(1, len(backends), figsize=(6.2 * len(backends), 4.4), squeeze=False)
    figure.suptitle(title)
    for ax, backend in zip(axes[0], backends, strict=True):
        ax.set_title(backend)
        ax.grid(True, which="both", alpha=0.3)
    return figure, list(axes[0])


def _latency(results: Results) -> Figure | None:
    backends = list(dict.fromkeys(run.backend for run in results.actions))
    if not backends:
        return None
    figure, axes = _per_backend(backends, "Latency per request by concurrent clients")
    for ax, backend in zip(axes, backends, strict=True):
        for label in dict.fromkeys(r.label for r in results.actions if r.backend == backend):
            runs = sorted(
                (r for r in results.actions if r.backend == backend and r.label == label),
                key=lambda r: r.clients,
            )
            clients = [r.clients for r in runs]
            style = MODE_STYLE.get(label, "-")
            if label == "http":
                for pct, marker in (("p50", "o"), ("p95", "s"), ("p99", "^")):
                    values = [getattr(r.latency, pct) for r in runs]
                    ax.plot(clients, values, style, marker=marker, label=f"{label} {pct}")
            else:
                ax.plot(
                    clients, [r.latency.p99 for r in runs], style, marker="x", label=f"{label} p99"
                )
        ax.axhline(
            P99_LIMIT_MS, color="red", linewidth=0.8, label=f"goal: p99 < {P99_LIMIT_MS:.0f} ms"
        )
        _clients_axis(ax, sorted({r.clients for r in results.actions if r.backend == backend}))
        ax.set_yscale("log")
        _plain(ax.yaxis)
        ax.set_ylabel("ms")
        ax.legend(fontsize=7)
    return figure


def _throughput(results: Results) -> Figure | None:
    backends = list(dict.fromkeys(run.backend for run in results.actions))
    if not backends:
        return None
    figure, axes = _per_backend(backends, "Throughput (requests/s) by concurrent clients")
    for ax, backend in zip(axes, backends, strict=True):
        runs = [r for r in results.actions if r.backend == backend]
        present = {r.label for r in runs}
        labels = [label for label in MODE_STYLE if label in present]
        levels = sorted({r.clients for r in runs})
        width = 0.8 / max(len(labels), 1)
        for i, label in enumerate(labels):
            values = [
                next((r.throughput for r in runs if r.label == label and r.clients == n), 0.0)
                for n in levels
            ]
            positions = [k + (i - (len(labels) - 1) / 2) * width for k in range(len(levels))]
            ax.bar(positions, values, width, label=label)
        ax.set_xticks(range(len(levels)), [str(n) for n in levels])
        ax.set_xlabel("concurrent clients")
        ax.set_ylabel("requests/s")
        ax.legend(fontsize=7)
    return figure


def _loading(results: Results) -> Figure | None:
    backends = list(dict.fromkeys(run.backend for run in results.loads))
    if not backends:
        return None
    figure, axes = _per_backend(backends, "Loading a case: median time by history length")
    for ax, backend in zip(axes, backends, strict=True):
        for history in dict.fromkeys(r.history for r in results.loads):
            for snapshots in (True, False):
                runs = sorted(
                    (
                        r
                        for r in results.loads
                        if r.backend == backend
                        and r.history == history
                        and r.snapshots == snapshots
                    ),
                    key=lambda r: r.events,
                )
                label = f"{history}, {'snapshots every 50' if snapshots else 'no snapshots'}"
                ax.plot(
                    [r.events for r in runs],
                    [r.latency.p50 for r in runs],
                    "-" if snapshots else "--",
                    marker="o",
                    label=label,
                )
        ax.set_xscale("log")
        ax.set_yscale("log")
        _plain(ax.xaxis)
        _plain(ax.yaxis)
        ax.set_xlabel("events in the case")
        ax.set_ylabel("ms")
        ax.legend(fontsize=7)
    return figure


def _queue(results: Results) -> Figure | None:
    if not results.queues:
        return None
    figure, ax = plt.subplots(figsize=(7, 4.4))
    ax.set_title("Queue query latency by cases in the queue view")
    for backend in dict.fromkeys(run.backend for run in results.queues):
        runs = [r for r in results.queues if r.backend == backend]
        sizes = sorted({r.cases for r in runs})
        worst = [max(r.latency.p99 for r in runs if r.cases == n) for n in sizes]
        median = [
            sorted(r.latency.p50 for r in runs if r.cases == n)[
                len([r for r in runs if r.cases == n]) // 2
            ]
            for n in sizes
        ]
        line = ax.plot(sizes, worst, "-", marker="^", label=f"{backend}: worst query's p99")
        ax.plot(
            sizes,
            median,
            "--",
            marker="o",
            color=line[0].get_color(),
            label=f"{backend}: median query's p50",
        )
    ax.axhline(QUEUE_P99_MS, color="red", linewidth=0.8, label=f"goal: p99 < {QUEUE_P99_MS:.0f} ms")
    ax.set_xscale("log")
    ax.set_yscale("log")
    _plain(ax.xaxis)
    _plain(ax.yaxis)
    ax.set_xlabel("cases in the queue view")
    ax.set_ylabel("ms")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    return figure


def _rebuild(results: Results) -> Figure | None:
    if not results.rebuilds:
        return None
    runs = results.rebuilds
    figure, ax = plt.subplots(figsize=(8, 0.8 + 0.32 * len(runs)))
    ax.set_title("Projection rebuild and live catch-up: events per second")
    labels = [f"{r.backend}: {r.views}, {r.events:,} events" for r in runs]
    colors = ["tab:blue" if r.backend == "sqlite" else "tab:orange" for r in runs]
    ax.barh(range(len(runs)), [r.rate for r in runs], color=colors)
    ax.set_yticks(range(len(runs)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.axvline(
        REBUILD_RATE, color="red", linewidth=0.8, label=f"goal: ≥ {REBUILD_RATE:,.0f} events/s"
    )
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _pos: f"{value:,.0f}"))
    ax.set_xlabel("events/s")
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(fontsize=7)
    return figure


def _clients_axis(ax: Axes, levels: list[int]) -> None:
    ax.set_xscale("log", base=2)
    ax.set_xticks(levels, [str(n) for n in levels])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("concurrent clients")


def _plain(axis: Axis) -> None:
    """Numbers, not powers of ten, on a log axis."""
    axis.set_major_formatter(FuncFormatter(lambda value, _pos: f"{value:,.10g}"))
    axis.set_minor_formatter(NullFormatter())


PLOTTERS: dict[str, Callable[[Results], Figure | None]] = {
    "latency": _latency,
    "throughput": _throughput,
    "loading": _loading,
    "queue": _queue,
    "rebuild": _rebuild,
}
