"""The survey's field limits are the same on both sides: the bridge's form cuts what a member types
at Farewell_Bridge_Survey's *_MAX constants, and the sidecar refuses a survey over
sidecar/domain/events.py's. Were the plugin's higher, an answer the form accepted would be refused
(and wait in the outbox for ever); were it lower, text the sidecar would keep would be cut. So a
limit changed on one side alone, or added to the plugin without its sidecar twin, fails here."""

from __future__ import annotations

import json
import subprocess

from sidecar.domain import events
from tests.conftest import ROOT

SURVEY_PHP = ROOT / "wp-bridge-plugin" / "includes" / "class-survey.php"

# The class file only needs ABSPATH to load (its guard); its constants are literals.
READ_LIMITS = (
    "define('ABSPATH', '/');"
    "require $argv[1];"
    "$limits = array();"
    "foreach ((new ReflectionClass('Farewell_Bridge_Survey'))->getConstants() as $name => $value) {"
    "  if ('_MAX' === substr($name, -4)) { $limits[$name] = $value; }"
    "}"
    "echo json_encode($limits);"
)


def plugin_limits() -> dict[str, int]:
    result = subprocess.run(["php", "-r", READ_LIMITS, str(SURVEY_PHP)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def test_the_plugin_and_the_sidecar_cap_survey_fields_alike():
    limits = plugin_limits()
    assert set(limits) == {"COMMENT_MAX", "FOLLOW_UP_MAX", "CONTACT_MAX"}, (
        "a new survey limit in the plugin needs its twin in sidecar/domain/events.py (and this list)")
    assert limits == {name: getattr(events, name) for name in limits}
