"""bench.bridge_cost's reading of its own timings (issue 15): each cancel's time grouped by the mode
of the cancel before it, so that what a sidecar-up cancel's after-response work costs the request
that follows it is shown rather than charged to whichever mode follows it most often."""

from __future__ import annotations

from bench.bridge_cost import by_predecessor


def test_cancels_are_grouped_by_the_mode_before_them_with_each_groups_median_ratio_and_size():
    times = [0.100, 0.200, 0.120, 0.220, 0.140]
    before = ["no bridge", "sidecar up", "no bridge", "sidecar up", "warm-up"]
    grouped = by_predecessor(times, before, base=0.100)
    assert grouped == {
        "no bridge": {"n": 2, "ratio": 1.1},
        "sidecar up": {"n": 2, "ratio": 2.1},
        "warm-up": {"n": 1, "ratio": 1.4},
    }


def test_each_cancel_counts_once_in_the_group_of_its_own_predecessor():
    grouped = by_predecessor([0.1] * 7, ["a", "b", "a", "c", "a", "b", "a"], base=0.1)
    assert sum(group["n"] for group in grouped.values()) == 7
    assert {mode: group["n"] for mode, group in grouped.items()} == {"a": 4, "b": 2, "c": 1}
