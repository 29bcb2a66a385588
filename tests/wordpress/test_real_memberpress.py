"""MemberPress 1.12.11 itself (not a stand-in) on WordPress 6.8, with the bridge and the real sidecar."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def bed(real_plugin_bed):
    return real_plugin_bed("memberpress", "6.8")


def test_memberpress_is_set_up(bed):
    print(bed.setup)
    assert bed.setup["tables"]
