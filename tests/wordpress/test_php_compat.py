"""The plugin promises PHP 7.4 (its header's "Requires PHP"). Only PHP 8.2 is packaged here, so
PHP 7.4 itself never runs: php -l on 8.2 accepts PHP 8 syntax, and this token scan
(tools/php74-scan.php) catches what 7.4 would refuse — match, ?->, attributes, enums, constructor
promotion, mixed, trailing commas in parameter lists — and PHP 8's new string functions."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import ROOT

SCAN = Path(__file__).parent / "tools" / "php74-scan.php"


def scan(*files) -> subprocess.CompletedProcess:
    return subprocess.run(["php", str(SCAN), *map(str, files)], capture_output=True, text=True, timeout=60)


def test_the_plugin_header_promises_php_7_4():
    assert "Requires PHP:      7.4" in (ROOT / "wp-bridge-plugin" / "farewell-bridge.php").read_text()


def test_the_plugin_uses_nothing_php_7_4_lacks():
    files = sorted((ROOT / "wp-bridge-plugin").rglob("*.php"))
    assert len(files) > 20
    result = scan(*files)
    assert result.returncode == 0, result.stdout


def test_the_scan_finds_each_php_8_construct(tmp_path):
    sample = tmp_path / "php8.php"
    sample.write_text('<?php\nfunction f(int $a,) { return $x?->y; }\n'
                      'class C { public function __construct(private int $a) {} }\n'
                      '$v = match($a) { 1 => 2 };\nif (str_contains($a, "b")) {}\n#[Attr]\nfunction g(mixed $m) {}\n')
    result = scan(sample)
    assert result.returncode == 1
    found = result.stdout
    for construct in ("trailing comma", "T_NULLSAFE_OBJECT_OPERATOR", "promotion", "T_MATCH", "str_contains()",
                      "T_ATTRIBUTE", "mixed type"):
        assert construct in found, found
