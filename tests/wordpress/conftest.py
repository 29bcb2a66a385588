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


@pytest.fixture(scope="session")
def real_plugin_bed(mariadb, tmp_path_factory):
    """Factory: ``bed = real_plugin_bed("memberpress", "6.8")`` — a site with that real membership
    plugin set up and a real sidecar (tests/wordpress/real_plugins.py), built once per plugin and
    WordPress version for the whole run and shared by the tests: each uses members of its own.
    Skips with one line when the plugin's archive is missing."""
    from tests.wordpress.real_plugins import REAL_PLUGINS, RealPluginBed

    beds: dict[tuple[str, str], RealPluginBed] = {}

    def get(slug: str, version: str) -> RealPluginBed:
        spec = REAL_PLUGINS[slug]
        spec.skip_unless_available()
        if version not in spec.wp_versions:
            raise ValueError(f"{slug} is tested on WordPress {spec.wp_versions}, not {version}")
        if (slug, version) not in beds:
            beds[(slug, version)] = RealPluginBed.build(
                spec, version, mariadb, tmp_path_factory.mktemp(f"real-{slug}-{version}"))
        return beds[(slug, version)]

    yield get
    for bed in beds.values():
        bed.cleanup(mariadb)
