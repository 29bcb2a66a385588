"""Fixtures for the WordPress bridge: throw-away WordPress sites (6.1 and 6.8) on the test MariaDB.

``wordpress_site(version, constants=...)`` builds a fresh site on its own database, with the
Farewell Bridge plugin and the test-only membership stand-ins active, and removes everything
(server, database, files) when the test ends. A missing WordPress is a failure, never a skip.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.wordpress.site import (
    WORDPRESS_SOURCES,
    DatabaseInfo,
    WordPressSite,
    _php_string,
    ensure_wordpress,
    free_port,
    world_readable_root,
)


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
    """Factory: ``site = wordpress_site("6.1", constants={...}, start=True, bridge=True, server="php-s")``
    (server: "php-s", "nginx-fpm" or "apache", see site.SERVERS)."""
    made: list[tuple[WordPressSite, str]] = []

    def make(version: str = "6.1", constants: dict | None = None, start: bool = True, bridge: bool = True,
             server: str = "php-s") -> WordPressSite:
        source = wordpress_source(version)
        name = f"wp_{uuid.uuid4().hex[:12]}"
        mariadb.create_database(name)
        site = WordPressSite(
            wp_source=source,
            # nginx's and Apache's workers (www-data) cannot enter pytest's private folders.
            root=tmp_path / f"wordpress-{len(made)}" if server == "php-s" else world_readable_root("wp-test-site-"),
            db=DatabaseInfo(mariadb.host, mariadb.port, name, mariadb.user, mariadb.password),
            port=free_port(),
            constants=constants or {},
            bridge=bridge,
            server=server,
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


@pytest.fixture
def site_timezone(bed):
    """``site_timezone("Europe/Paris")`` sets the time zone of the module's ``bed`` (a real-plugin
    bed, Settings → General) for one test, and gives the site its previous zone back afterwards:
    the bed is shared by the module's tests, which read dates in the zone they expect."""
    site = bed.site
    saved = site.wp_json("return array('timezone_string' => get_option('timezone_string'), 'gmt_offset' => get_option('gmt_offset'));")

    def set_zone(name: str):
        site.wp_eval(f"update_option('timezone_string', {_php_string(name)}); update_option('gmt_offset', '');")

    yield set_zone
    site.wp_eval(f"foreach (json_decode({_php_string(json.dumps(saved))}, true) as $name => $value) {{ update_option($name, $value); }}")


@pytest.fixture(scope="session")
def served_site(mariadb):
    """Factory: ``site = served_site("apache")`` — a WordPress 6.8 site with the bridge and the
    stand-ins, served by that server (site.SERVERS), built once per server for the whole run and
    shared by the tests: each configures the bridge (options, not constants) and uses members of
    its own. Its database and folder are removed at the end of the session."""
    sites: dict[str, tuple[WordPressSite, str]] = {}

    def get(server: str, version: str = "6.8") -> WordPressSite:
        if (server, version) not in sites:
            name = f"wp_{uuid.uuid4().hex[:12]}"
            mariadb.create_database(name)
            site = WordPressSite(
                wp_source=wordpress_source(version),
                root=world_readable_root(f"wp-test-site-{server}-"),
                db=DatabaseInfo(mariadb.host, mariadb.port, name, mariadb.user, mariadb.password),
                port=free_port(),
                server=server,
            )
            sites[(server, version)] = (site, name)
            site.build()
            site.start()
        return sites[(server, version)][0]

    yield get
    for site, name in sites.values():
        site.cleanup()
        mariadb.drop_database(name)
