"""The plugin's strings: extracted into the .pot, all translated into French, .mo compiled from the .po."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

PLUGIN = Path(__file__).resolve().parents[2] / "wp-bridge-plugin"
LANGUAGES = PLUGIN / "languages"
GETTEXT = r"\b(__|_e|esc_html__|esc_html_e|esc_attr__|esc_attr_e|_x|_n|_nx|esc_html_x)\("


def msgids(po_text: str) -> set[str]:
    return {m for m in re.findall(r'^msgid "(.*)"$', po_text, flags=re.M) if m}


@pytest.fixture(scope="module")
def gettext_tools():
    for tool in ("xgettext", "msgfmt"):
        assert shutil.which(tool), f"{tool} is missing: install Debian's gettext package"


def test_the_pot_holds_every_string_of_the_code(gettext_tools, tmp_path):
    fresh = tmp_path / "fresh.pot"
    files = sorted(str(p.relative_to(PLUGIN)) for p in PLUGIN.rglob("*.php"))
    subprocess.run(
        ["xgettext", "--language=PHP", "--from-code=UTF-8", "--keyword=__", "--keyword=_e", "--keyword=esc_html__",
         "--keyword=esc_html_e", "--keyword=esc_attr__", "--keyword=esc_attr_e", "--keyword=_x:1,2c",
         "--keyword=esc_html_x:1,2c", "--keyword=_n:1,2", "--keyword=_nx:1,2,4c", "--no-wrap", "-o", str(fresh), *files],
        cwd=PLUGIN, check=True,
    )
    committed = msgids((LANGUAGES / "farewell-bridge.pot").read_text())
    assert msgids(fresh.read_text()) == committed, "run wp-bridge-plugin/bin/make-pot"
    assert len(committed) > 40


def test_every_string_has_a_french_translation_and_the_mo_is_compiled_from_the_po(gettext_tools, tmp_path):
    po = LANGUAGES / "farewell-bridge-fr_FR.po"
    assert msgids(po.read_text()) == msgids((LANGUAGES / "farewell-bridge.pot").read_text())
    compiled = tmp_path / "fr.mo"
    result = subprocess.run(["msgfmt", "--check", "--statistics", "-o", str(compiled), str(po)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "untranslated" not in result.stderr and "fuzzy" not in result.stderr, result.stderr
    assert compiled.read_bytes() == (LANGUAGES / "farewell-bridge-fr_FR.mo").read_bytes(), "run bin/make-pot"


def call_arguments(text: str, start: int) -> str:
    """The text between the "(" at ``start - 1`` and its matching ")", skipping PHP string literals."""
    depth, i, quote = 1, start, None
    while i < len(text):
        char = text[i]
        if quote:
            if char == "\\":
                i += 1
            elif char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return text[start:i]
        i += 1
    raise ValueError("unbalanced call")


def test_every_gettext_call_uses_the_literal_text_domain():
    offenders = []
    for path in PLUGIN.rglob("*.php"):
        text = path.read_text()
        for match in re.finditer(GETTEXT, text):
            arguments = call_arguments(text, match.end())
            if not re.search(r",\s*'farewell-bridge'\s*$", arguments):
                offenders.append(f"{path.relative_to(PLUGIN)}: {match.group(0)}{arguments[:100]}")
    assert not offenders, "\n".join(offenders)


def test_every_php_file_lints():
    for path in sorted(PLUGIN.rglob("*.php")) + sorted(Path(__file__).resolve().parent.rglob("*.php")):
        result = subprocess.run(["php", "-l", str(path)], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
