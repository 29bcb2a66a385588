"""The bridge plugin's PHPUnit suite, run inside a real WordPress 6.1 and 6.8 on MariaDB."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

PHPUNIT_DIR = Path(__file__).resolve().parent / "phpunit"


def test_phpunit_suite_passes_inside_wordpress(wordpress_site, wp_version):
    phpunit = shutil.which("phpunit")
    assert phpunit, "phpunit is missing: run `make test`, which installs Debian's phpunit"
    site = wordpress_site(wp_version, start=False)

    result = subprocess.run(
        ["php", "-d", "memory_limit=512M", phpunit, "-c", str(PHPUNIT_DIR / "phpunit.xml")],
        cwd=PHPUNIT_DIR,
        env={**os.environ, "FAREWELL_WP_LOAD": str(site.docroot / "wp-load.php"), "FAREWELL_WP_URL": site.url},
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = f"{result.stdout}\n{result.stderr}"
    assert result.returncode == 0, f"PHPUnit failed on WordPress {wp_version}:\n{output}\n--- debug.log\n{site.debug_log()}"
    # A run that executed nothing is not a pass.
    match = re.search(r"OK \((\d+) tests?, (\d+) assertions?\)", result.stdout)
    assert match and int(match.group(1)) >= 50, f"PHPUnit ran too few tests:\n{output}"
    # Nothing of ours may warn or fail in WordPress's own log.
    problems = [line for line in site.debug_log().splitlines() if "farewell" in line.lower() and "PHP " in line]
    assert not problems, "\n".join(problems)
