"""install-wordpress-6.8.sh: idempotent, and what it installed is WordPress 6.8; a test site built from
either WordPress serves the files Debian links to its own packages."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import requests

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


@pytest.mark.parametrize("version", ["6.1", "6.8"])
def test_a_test_site_serves_the_scripts_debian_links_to_its_own_packages(wordpress_site, version):
    site = wordpress_site(version)
    underscore = requests.get(f"{site.url}/wp-includes/js/underscore.min.js", timeout=10)
    # Debian's libjs-underscore, which wp-util (hence wp-admin and the login page) needs.
    assert underscore.status_code == 200
    assert underscore.content == Path("/usr/share/javascript/underscore/underscore.min.js").read_bytes()
    assert (site.docroot / "wp-includes" / "ID3" / "getid3.php").is_file()
    if version == "6.8":  # Debian 13's package links lodash too (libjs-lodash, installed by scripts/install-test-deps)
        assert (site.docroot / "wp-includes" / "js" / "dist" / "vendor" / "lodash.min.js").is_file()
    assert not [path for path in site.docroot.rglob("*") if path.is_symlink()], "a site is a copy, not links"
