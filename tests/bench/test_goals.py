"""How the bench words a goal's margin."""

from bench.goals import Goal


def _rate(measured: float) -> Goal:
    return Goal("rebuild", "sqlite", "100,000 events", measured, 20_000.0, "events/s", False)


def test_a_narrow_miss_never_reads_as_100_percent_of_the_target() -> None:
    assert _rate(19_934).margin == "missed by 66 events/s (99.7% of the target)"


def test_a_clear_miss_gives_the_share_in_whole_percent() -> None:
    assert _rate(15_000).margin.endswith("(75% of the target)")


def test_a_met_rate_gives_how_far_above_the_target() -> None:
    assert _rate(22_000).margin.startswith("2,000")
    assert _rate(22_000).margin.endswith("above the target")
