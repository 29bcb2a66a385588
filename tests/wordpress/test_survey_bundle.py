"""The plugin's bundled copy of the default survey is the sidecar's, so a survey rendered while the
sidecar is unreachable is exactly version 1, which the sidecar always accepts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sidecar.domain.survey import DEFAULT_DEFINITION, LANGUAGES, localize

BUNDLE = Path(__file__).resolve().parents[2] / "wp-bridge-plugin" / "data" / "default-survey.json"


def test_the_bundle_is_version_1_in_every_language():
    bundle = json.loads(BUNDLE.read_text(encoding="utf-8"))
    assert bundle["version"] == 1
    assert sorted(bundle["definitions"]) == sorted(LANGUAGES)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_bundled_default_equals_the_sidecars(language):
    bundle = json.loads(BUNDLE.read_text(encoding="utf-8"))
    assert bundle["definitions"][language] == localize(DEFAULT_DEFINITION, language), (
        "regenerate it: .venv/bin/python wp-bridge-plugin/bin/make-default-survey")
