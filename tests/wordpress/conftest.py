"""Fixtures for the WordPress bridge: throw-away WordPress sites (6.1 and 6.8) on the test MariaDB.

``wordpress_site(version, constants=...)`` builds a fresh site on its own database, with the
Farewell Bridge plugin and the test-only membership stand-ins active, and removes everything
(server, database, files) when the test ends. A missing WordPress is a failure, never a skip.
"""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest

from tests.wordpress.site import DatabaseInfo, WordPressSite, free_port, wordpress_version

HERE = Path(__file__).resolve().parent
WORDPRESS_SOURCES = {
    "6.1": Path("/usr/share/wordpress"),  # Debian 12's package
    "6.8": Path("/usr/share/wordpress-6.8"),  # Debian 13's package, see install-wordpress-6.8.sh
}


def wordpress_source(version: str) -> Path:
    """The WordPress tree of that version; installs 6.8 with the script when it is missing."""
    path = WORDPRESS_SOURCES[version]
    if version == "6.8" and not (path / "wp-load.php").exists():
        result = subprocess.run([str(HERE / "install-wordpress-6.8.sh"), str(path)], capture_output=True, text=True)
        if result.returncode != 0:
            pytest.fail(f"could not install WordPress 6.8 into {path}:\n{result.stdout}\n{result.stderr}")
    if not (path / "wp-load.php").exists():
        pytest.fail(f"WordPress {version} is missing from {path}: run `make test`, which installs it")
    found = wordpress_version(path)
    if not found.startswith(version + "."):
        pytest.fail(f"{path} holds WordPress {found}, not {version}.x")
    return path


@pytest.fixture(params=sorted(WORDPRESS_SOURCES))
def wp_version(request) -> str:
    return request.param


@pytest.fixture
def wordpress_site(mariadb, tmp_path):
    """Factory: ``site = wordpress_site("6.1", constants={...}, start=True, bridge=True)``."""
    made: list[tuple[WordPressSite, str]] = []

    def make(version: str = "6.1", constants: dict | None = None, start: bool = True, bridge: bool = True) -> WordPressSite:
        source = wordpress_source(version)
        name = f"wp_{uuid.uuid4().hex[:12]}"
        mariadb.create_database(name)
        site = WordPressSite(
            wp_source=source,
            root=tmp_path / f"wordpress-{len(made)}",
            db=DatabaseInfo(mariadb.host, mariadb.port, name, mariadb.user, mariadb.password),
            port=free_port(),
            constants=constants or {},
            bridge=bridge,
        )
        made.append((site, name))
        site.build()
        if start:
            site.start()
        return site

    yield make
    for site, name in made:
        site.cleanup()
        mariadb.drop_database(name)
