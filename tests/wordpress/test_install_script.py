"""install-wordpress-6.8.sh: idempotent, and what it installed is WordPress 6.8."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.wordpress.site import ensure_wordpress, wordpress_version

SCRIPT = Path(__file__).resolve().parent / "install-wordpress-6.8.sh"


def test_the_installer_is_idempotent_and_leaves_wordpress_6_8():
    target = ensure_wordpress("6.8")  # installs it when missing, raises (fails the test) if it cannot
    result = subprocess.run(["sh", str(SCRIPT), str(target)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "already in" in result.stdout, result.stdout
    assert wordpress_version(target).startswith("6.8.")
    assert (target / "wp-includes" / "ID3" / "getid3.lib.php").resolve().exists(), "symlinks into Debian 12's PHP libraries resolve"


def test_the_installer_takes_the_archive_from_the_machines_debian_sources():
    text = SCRIPT.read_text()
    assert "debian.org" not in text, "never hard-code a host"
    assert "/etc/apt/sources.list.d/debian.sources" in text
    assert "-oDir::State::Lists=" in text, "a private lists folder leaves the system's apt untouched"
