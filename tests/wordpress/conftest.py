"""Fixtures for the WordPress bridge: throw-away WordPress sites (6.1 and 6.8) on the test MariaDB.

``wordpress_site(version, constants=...)`` builds a fresh site on its own database, with the
Farewell Bridge plugin and the test-only membership stand-ins active, and removes everything
(server, database, files) when the test ends. A missing WordPress is a failure, never a skip.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.wordpress.site import WORDPRESS_SOURCES, DatabaseInfo, WordPressSite, ensure_wordpress, free_port


def wordpress_source(version: str) -> Path:
    try:
        return ensure_wordpress(version)
    except RuntimeError as error:
        pytest.fail(str(error))


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
