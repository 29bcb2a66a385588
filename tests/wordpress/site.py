"""A throw-away WordPress site for tests: real WordPress, real MariaDB, served by `php -S`, or by
the servers WordPress really runs on: nginx + PHP-FPM, or Apache + mod_php (``server=``).

    site = WordPressSite(
        wp_source="/usr/share/wordpress",       # Debian's 6.1, or /usr/share/wordpress-6.8
        root=tmp_path / "wp",                   # everything the site writes lives below this
        db=DatabaseInfo(host, port, "wp_test"),  # an existing, empty database
        port=free_port(),
        constants={"FAREWELL_SIDECAR_URL": "http://127.0.0.1:8000"},
    )
    site.build()          # copy tree, wp-config.php, install, plugins, activate
    site.start()          # php -S 127.0.0.1:PORT
    site.wp_eval("echo get_bloginfo('version');")
    site.stop()

No global state: every path, port and process belongs to the instance. nginx, PHP-FPM and Apache
run as processes of the test's own, each with a configuration, pid, sockets and logs under
``root/server/``; the system's services (Debian may have enabled them on install) are never used.
Run as root, their workers run as www-data, as on a Debian server: ``root`` must then be reachable
by www-data (see ``world_readable_root``), and the tree is handed to www-data on start.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]
PLUGIN_SOURCE = REPO / "wp-bridge-plugin"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
TEST_PLUGIN = "farewell-test-sources"

ADMIN_USER = "admin"
ADMIN_PASSWORD = "admin-password-for-tests"


# php-s: PHP's built-in server (fastest to start, the default). nginx-fpm: nginx in front of a
# PHP-FPM pool on a unix socket; the bridge finishes the response with fastcgi_finish_request().
# apache: Apache (prefork) with mod_php; the bridge hands delivery to a loopback request.
SERVERS = ("php-s", "nginx-fpm", "apache")
SERVER_USER = "www-data"  # what Debian's php-fpm pool and apache2 run as
APACHE_MODULES = Path("/usr/lib/apache2/modules")


def world_readable_root(prefix: str) -> Path:
    """A fresh folder that a server's www-data workers can reach: pytest's own temporary folders
    are private to their owner (0700), so a site served by nginx-fpm or apache lives here instead;
    ``WordPressSite.cleanup`` removes it. Keep "farewell" out of the prefix: assert_no_php_errors
    picks the bridge's warnings out of debug.log by that word, and every path would carry it."""
    import tempfile

    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


def server_binaries(server: str) -> dict[str, str]:
    """The programs a server choice needs, or RuntimeError naming the Debian packages to install."""
    found: dict[str, str] = {}
    if server == "nginx-fpm":
        found["nginx"] = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else "")
        fpm = sorted(glob.glob("/usr/sbin/php-fpm*"))
        found["php-fpm"] = shutil.which("php-fpm") or (fpm[-1] if fpm else "")
    elif server == "apache":
        found["apache2"] = shutil.which("apache2") or ("/usr/sbin/apache2" if Path("/usr/sbin/apache2").exists() else "")
        php = sorted(APACHE_MODULES.glob("libphp*.so"))
        found["mod_php"] = str(php[-1]) if php else ""
    missing = [name for name, path in found.items() if not path]
    if missing:
        raise RuntimeError(f"{', '.join(missing)} missing for the {server} test server: run `make test`, which "
                           "installs nginx, php-fpm, apache2-bin and libapache2-mod-php (scripts/install-test-deps)")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


HERE = Path(__file__).resolve().parent
WORDPRESS_SOURCES = {
    "6.1": Path("/usr/share/wordpress"),  # Debian 12's package
    "6.8": Path("/usr/share/wordpress-6.8"),  # Debian 13's package, see install-wordpress-6.8.sh
}


def ensure_wordpress(version: str) -> Path:
    """The WordPress tree of that version; installs 6.8 with the script when it is missing.

    Raises RuntimeError with a readable reason when it is not there (tests fail, never skip)."""
    path = WORDPRESS_SOURCES[version]
    if version == "6.8" and not (path / "wp-load.php").exists():
        result = subprocess.run([str(HERE / "install-wordpress-6.8.sh"), str(path)], capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"could not install WordPress 6.8 into {path}:\n{result.stdout}\n{result.stderr}")
    if not (path / "wp-load.php").exists():
        raise RuntimeError(f"WordPress {version} is missing from {path}: run `make test`, which installs it")
    found = wordpress_version(path)
    if not found.startswith(version + "."):
        raise RuntimeError(f"{path} holds WordPress {found}, not {version}.x")
    return path


def wordpress_version(wp_source: str | Path) -> str:
    text = (Path(wp_source) / "wp-includes" / "version.php").read_text()
    for line in text.splitlines():
        if line.startswith("$wp_version"):
            return line.split("'")[1]
    raise ValueError(f"no $wp_version in {wp_source}")


# WordPress's own code, never written to by a site: a test site's copies of these folders are hard
# links to one resolved copy per WordPress version (``_core_tree``). Copying Debian's tree file by
# file, following its links, took 5 s per site on a loaded CI machine (most of the 80-odd sites'
# build); linking takes a tenth of a second. Everything a site may write (its top-level files such as
# .htaccess and wp-config.php, wp-content) stays a copy of its own: WordPress rewrites some files in
# place (insert_with_markers opens .htaccess with r+), which through a link would change every site.
SHARED_CORE = ("wp-admin", "wp-includes")
_core_trees: dict[Path, Path] = {}


def _core_tree(wp_source: Path) -> Path:
    """One copy of ``wp_source`` for this process, Debian's links followed (as ``cp -rL``), its core
    folders read-only: a site's web server (www-data, not root) that tried to rewrite a shared core
    file would fail loudly instead of changing it for every site. Removed when the process exits."""
    source = Path(wp_source).resolve()
    if source not in _core_trees:
        import atexit
        import tempfile

        holder = Path(tempfile.mkdtemp(prefix="wp-core-"))
        atexit.register(shutil.rmtree, holder, True)
        tree = holder / "wordpress"
        # Like `cp -rL`: Debian links underscore, lodash, getID3, cropper… to its own packages, so a
        # copy must follow the links; a link that leads nowhere is left out rather than failing the
        # build. copytree's own ignore_dangling_symlinks is not used: it resolves a relative link from
        # the working directory, so it dropped every relative link and wp-admin ran without underscore.js.
        shutil.copytree(source, tree, symlinks=False, ignore=_dangling_links)
        for name in SHARED_CORE:
            for directory, _dirs, files in os.walk(tree / name):
                for file in files:
                    os.chmod(os.path.join(directory, file), 0o444)
        _core_trees[source] = tree
    return _core_trees[source]


def _link_core_files(core: Path):
    """A copy_function for shutil.copytree: hard links for the files of SHARED_CORE, copies for the rest
    (and a copy if linking fails, e.g. the site on another file system)."""
    shared = tuple(str(core / name) + os.sep for name in SHARED_CORE)

    def copy(src: str, dst: str) -> str:
        if src.startswith(shared):
            try:
                os.link(src, dst)
                return dst
            except OSError:
                pass
        return shutil.copy2(src, dst)

    return copy


def _group_running(pgid: int) -> bool:
    """Whether a process of group ``pgid`` still runs. A worker that has exited but not yet been
    reaped (a zombie: it holds no port and no file) counts as gone: the workers outlive their parent,
    so their parent becomes PID 1, and some inits (a CI sandbox's) reap them only every second or two;
    waiting for that cost about 2 s per stopped server."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    if not os.path.isdir("/proc"):
        return True
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as file:
                # pid (comm) state ppid pgrp …; comm may hold spaces and parentheses.
                fields = file.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            return True
    return False


@dataclass
class DatabaseInfo:
    host: str
    port: int
    name: str
    user: str = "root"
    password: str = ""


class PhpError(RuntimeError):
    """A PHP snippet run inside WordPress failed."""


def _php_string(value: str) -> str:
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def _php_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return _php_string(value)


def _dangling_links(directory: str, names: list[str]) -> set[str]:
    """The entries of ``directory`` that are symbolic links to nothing (for shutil.copytree)."""
    return {name for name in names
            if os.path.islink(os.path.join(directory, name)) and not os.path.exists(os.path.join(directory, name))}


@dataclass
class WordPressSite:
    wp_source: Path
    root: Path
    db: DatabaseInfo
    port: int
    constants: dict = field(default_factory=dict)
    plugin_source: Path = PLUGIN_SOURCE
    bridge: bool = True  # False: only the test sources plugin; install the bridge yourself (e.g. from the zip)
    workers: int = 4
    server: str = "php-s"  # one of SERVERS
    _server: subprocess.Popen | None = field(default=None, init=False, repr=False)
    _processes: list = field(default_factory=list, init=False, repr=False)

    def __post_init__(self):
        if self.server not in SERVERS:
            raise ValueError(f"server must be one of {SERVERS}, not {self.server!r}")
        self.wp_source = Path(self.wp_source)
        self.root = Path(self.root)
        self.docroot = self.root / "htdocs"
        self.debug_log_path = self.root / "debug.log"
        self.server_dir = self.root / "server"  # configuration, pids, sockets, logs of nginx/PHP-FPM/Apache
        self.url = f"http://127.0.0.1:{self.port}"

    @property
    def server_log_path(self) -> Path:
        """php -S: its output; nginx and Apache: their access log (one line per request, with its
        status). A property: a built site may be stopped and started again under another server."""
        return self.root / "server.log" if self.server == "php-s" else self.server_dir / "access.log"

    # ----------------------------------------------------------------- building
    def build(self) -> "WordPressSite":
        if not (self.wp_source / "wp-load.php").exists():
            raise FileNotFoundError(f"no WordPress in {self.wp_source}")
        self.root.mkdir(parents=True, exist_ok=True)
        core = _core_tree(self.wp_source)
        shutil.copytree(core, self.docroot, copy_function=_link_core_files(core))
        for stale in ("wp-config.php",):
            (self.docroot / stale).unlink(missing_ok=True)
        for sub in ("plugins", "themes", "mu-plugins", "uploads"):
            (self.docroot / "wp-content" / sub).mkdir(parents=True, exist_ok=True)
        self.write_config()
        self.install_plugins()
        self.install()
        return self

    def write_config(self) -> None:
        salts = "\n".join(
            f"define({_php_string(name)}, {_php_string(secrets.token_hex(32))});"
            for name in ("AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY",
                         "AUTH_SALT", "SECURE_AUTH_SALT", "LOGGED_IN_SALT", "NONCE_SALT")
        )
        extra = "\n".join(
            f"define({_php_string(name)}, {_php_value(value)});" for name, value in self.constants.items()
        )
        log = _php_string(str(self.debug_log_path))
        config = f"""<?php
// Written by tests/wordpress/site.py for a throw-away test site.
define('DB_NAME', {_php_string(self.db.name)});
define('DB_USER', {_php_string(self.db.user)});
define('DB_PASSWORD', {_php_string(self.db.password)});
define('DB_HOST', {_php_string(f"{self.db.host}:{self.db.port}")});
define('DB_CHARSET', 'utf8mb4');
define('DB_COLLATE', '');
$table_prefix = 'wp_';
{salts}
define('WP_HOME', {_php_string(self.url)});
define('WP_SITEURL', {_php_string(self.url)});
define('WP_DEBUG', true);
define('WP_DEBUG_LOG', {log});
define('WP_DEBUG_DISPLAY', false);
define('DISABLE_WP_CRON', true);
define('AUTOMATIC_UPDATER_DISABLED', true);
define('WP_AUTO_UPDATE_CORE', false);
define('FS_METHOD', 'direct');
// No calls to wordpress.org from tests; the site itself and 127.0.0.1 stay reachable.
define('WP_HTTP_BLOCK_EXTERNAL', true);
{extra}
// WordPress 6.1 on PHP 8.2 prints deprecation notices: keep every other error, in the log.
$GLOBALS['wp_filter']['enable_wp_debug_mode_checks'][10][] = array(
    'function' => function () {{
        error_reporting(E_ALL & ~E_DEPRECATED & ~E_USER_DEPRECATED);
        ini_set('display_errors', '0');
        ini_set('log_errors', '1');
        ini_set('error_log', {log});
        return false;
    }},
    'accepted_args' => 1,
);
if (!defined('ABSPATH')) {{
    define('ABSPATH', __DIR__ . '/');
}}
require_once ABSPATH . 'wp-settings.php';
"""
        (self.docroot / "wp-config.php").write_text(config)

    def install_plugins(self) -> None:
        plugins = self.docroot / "wp-content" / "plugins"
        target = plugins / "farewell-bridge"
        if target.exists():
            shutil.rmtree(target)
        if self.bridge:
            shutil.copytree(self.plugin_source, target, ignore=shutil.ignore_patterns("bin", "*.po~"))
        test_plugin = plugins / TEST_PLUGIN
        if test_plugin.exists():
            shutil.rmtree(test_plugin)
        shutil.copytree(FIXTURES / TEST_PLUGIN, test_plugin)

    def install(self) -> None:
        script = self.root / "install.php"
        script.write_text(f"""<?php
define('WP_INSTALLING', true);
$_SERVER['HTTP_HOST'] = '127.0.0.1:{self.port}';
$_SERVER['SERVER_NAME'] = '127.0.0.1';
$_SERVER['REQUEST_URI'] = '/';
require {_php_string(str(self.docroot / 'wp-load.php'))};
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
require_once ABSPATH . 'wp-admin/includes/plugin.php';
$result = wp_install('Farewell test', {_php_string(ADMIN_USER)}, 'admin@example.org', false, '', {_php_string(ADMIN_PASSWORD)});
if (is_wp_error($result)) {{ fwrite(STDERR, $result->get_error_message()); exit(1); }}
update_option('permalink_structure', '');
$plugins = array('{TEST_PLUGIN}/{TEST_PLUGIN}.php');
if ({'true' if self.bridge else 'false'}) {{ $plugins[] = 'farewell-bridge/farewell-bridge.php'; }}
foreach ($plugins as $plugin) {{
    $activated = activate_plugin($plugin);
    if (is_wp_error($activated)) {{ fwrite(STDERR, $plugin . ': ' . $activated->get_error_message()); exit(1); }}
}}
echo 'installed';
""")
        out = self._php(script)
        if "installed" not in out:
            raise PhpError(f"WordPress install printed: {out!r}")

    # ----------------------------------------------------------------- PHP inside WordPress
    def _php(self, script: Path, timeout: float = 120, env: dict | None = None, ini: dict | None = None) -> str:
        settings = [arg for name, value in (ini or {}).items() for arg in ("-d", f"{name}={value}")]
        proc = subprocess.run(
            ["php", "-d", "display_errors=stderr", *settings, str(script)],
            capture_output=True, text=True, timeout=timeout, cwd=self.root,
            env={**os.environ, **(env or {})},
        )
        if proc.returncode != 0:
            log_tail = "\n".join(self.debug_log().splitlines()[-15:])
            stdout = proc.stdout if len(proc.stdout) < 2000 else proc.stdout[:300] + " […] " + proc.stdout[-300:]
            raise PhpError(
                f"php {script.name} exited {proc.returncode}\n--- stdout\n{stdout}\n--- stderr\n{proc.stderr}"
                f"\n--- end of debug.log\n{log_tail}"
            )
        return proc.stdout

    def wp_eval(self, code: str, timeout: float = 120, as_user: int | None = None, env: dict | None = None,
                ini: dict | None = None) -> str:
        """Runs PHP `code` after wp-load.php (a CLI request: like WP-CLI, initiated_by = system).

        `env` adds environment variables, `ini` php.ini settings (e.g. {"memory_limit": "48M"})."""
        snippet = self.root / f"eval-{secrets.token_hex(6)}.php"
        body = code.strip()
        if body.startswith("<?php"):
            body = body[5:]
        user = f"wp_set_current_user({int(as_user)});" if as_user else ""
        snippet.write_text(f"""<?php
$_SERVER['HTTP_HOST'] = '127.0.0.1:{self.port}';
$_SERVER['SERVER_NAME'] = '127.0.0.1';
$_SERVER['REQUEST_URI'] = '/';
require {_php_string(str(self.docroot / 'wp-load.php'))};
{user}
{body}
""")
        try:
            return self._php(snippet, timeout=timeout, env=env, ini=ini)
        finally:
            snippet.unlink(missing_ok=True)

    def wp_json(self, code: str, **kwargs):
        """Runs `code`, which must `return` a value; gives it back decoded from JSON."""
        out = self.wp_eval(f"$__r = (function () {{ {code} }})(); echo \"\\n@@JSON@@\" . wp_json_encode($__r);", **kwargs)
        return json.loads(out.rsplit("@@JSON@@", 1)[1])

    def create_user(self, login: str, role: str = "subscriber", password: str | None = None,
                    email: str | None = None, first_name: str = "", locale: str = "") -> int:
        password = password or f"{login}-password"
        email = email or f"{login}@example.org"
        return int(self.wp_json(f"""
            $id = wp_insert_user(array('user_login' => {_php_string(login)}, 'user_pass' => {_php_string(password)},
                'user_email' => {_php_string(email)}, 'first_name' => {_php_string(first_name)},
                'role' => {_php_string(role)}, 'locale' => {_php_string(locale)}));
            if (is_wp_error($id)) {{ throw new Exception($id->get_error_message()); }}
            return $id;
        """))

    def run_cron(self) -> None:
        """Runs the bridge's cron event now, as WP-Cron would (DOING_CRON set)."""
        self.wp_eval("define('DOING_CRON', true); do_action('farewell_bridge_deliver');", timeout=120)

    def debug_log(self) -> str:
        return self.debug_log_path.read_text() if self.debug_log_path.exists() else ""

    def logs_tail(self, lines: int = 40) -> str:
        """The end of the web server's log (each request, when it came and how it ended) and of
        debug.log, for a failure message: the site's folder is gone once the test ends."""
        server = self.server_log_path.read_text(errors="replace") if self.server_log_path.exists() else ""
        errors = ""
        for path in sorted(self.server_dir.glob("*error.log")) + sorted(self.server_dir.glob("php-fpm.log")):
            errors += f"\n--- end of {path.name}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        return (f"--- end of {self.server_log_path.name}\n" + "\n".join(server.splitlines()[-lines:]) + errors
                + "\n--- end of debug.log\n" + "\n".join(self.debug_log().splitlines()[-lines:]))

    # ----------------------------------------------------------------- HTTP
    def start(self) -> "WordPressSite":
        if self._server is not None or self._processes:
            return self
        if self.server not in SERVERS:
            raise ValueError(f"server must be one of {SERVERS}, not {self.server!r}")
        if self.server == "nginx-fpm":
            return self._start_nginx_fpm()
        if self.server == "apache":
            return self._start_apache()
        log = open(self.server_log_path, "ab")
        env = {**os.environ, "PHP_CLI_SERVER_WORKERS": str(self.workers)}
        self._server = subprocess.Popen(
            ["php", "-d", "display_errors=0", "-S", f"127.0.0.1:{self.port}", "-t", str(self.docroot)],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.root,
            start_new_session=True,  # its own process group: the workers are stopped with it
        )
        log.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._server.poll() is not None:
                raise RuntimeError(f"php -S exited: {self.server_log_path.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"php -S did not listen on {self.port}")

    def stop(self) -> None:
        while self._processes:  # nginx before PHP-FPM: the front first, as a host stops them
            self._stop_group(self._processes.pop())
        if self._server is None:
            return
        # PHP_CLI_SERVER_WORKERS forks workers that outlive their parent: signal the whole group
        # (the server's own, created by start_new_session; nothing else is in it).
        pgid = self._server.pid
        try:
            os.killpg(pgid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self._server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            self._server.wait(timeout=5)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _group_running(pgid):
            time.sleep(0.05)
        self._server = None

    # ----------------------------------------------------------------- nginx + PHP-FPM, Apache + mod_php
    def _run_as(self) -> str | None:
        """The user the workers run as: www-data when the tests run as root (Apache refuses to
        serve as root; PHP-FPM only with -R), else nobody is switched to."""
        return SERVER_USER if os.geteuid() == 0 else None

    def _hand_over(self) -> None:
        """Gives the site's tree to the workers' user, as on a host where WordPress owns its files
        (uploads, debug.log). The CLI (root) still reads and writes everything."""
        user = self._run_as()
        if user is None:
            return
        entry = pwd.getpwnam(user)
        for parent in [self.root, *self.root.parents]:
            if parent.stat().st_mode & 0o001 == 0:
                raise RuntimeError(f"{user} cannot reach {self.root}: {parent} is private (mode "
                                   f"{parent.stat().st_mode & 0o777:o}); build the site under world_readable_root()")
        self.debug_log_path.touch()
        for directory, dirs, files in os.walk(self.root):
            os.chown(directory, entry.pw_uid, entry.pw_gid)
            for name in files:
                path = os.path.join(directory, name)
                if not os.path.islink(path):
                    os.chown(path, entry.pw_uid, entry.pw_gid)

    def _launch(self, name: str, args: list[str]) -> subprocess.Popen:
        log = open(self.server_dir / f"{name}.out", "ab")
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=self.server_dir,
                                   start_new_session=True)  # its own group: its workers stop with it
        log.close()
        self._processes.append(process)
        return process

    def _wait_until(self, ready, process: subprocess.Popen, name: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                out = (self.server_dir / f"{name}.out").read_text(errors="replace")
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{out}\n{self.logs_tail()}")
            if ready():
                return
            time.sleep(0.05)
        raise RuntimeError(f"{name} did not start within {timeout} s\n{self.logs_tail()}")

    def _listening(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    @staticmethod
    def _stop_group(process: subprocess.Popen) -> None:
        """SIGTERM to the server's process group (master and workers), SIGKILL if it lingers."""
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if not _group_running(process.pid):
                return
            time.sleep(0.05)
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def _start_nginx_fpm(self) -> "WordPressSite":
        binaries = server_binaries("nginx-fpm")
        folder = self.server_dir
        folder.mkdir(parents=True, exist_ok=True)
        user = self._run_as()
        sock = folder / "php-fpm.sock"
        # A pool of its own (Debian's /etc/php/*/fpm/php.ini and conf.d give the extensions): static,
        # so the workers a test counts on exist from the start.
        (folder / "php-fpm.conf").write_text(f"""[global]
pid = {folder / 'php-fpm.pid'}
error_log = {folder / 'php-fpm.log'}
daemonize = no
[farewell]
{f'user = {user}' if user else ''}
{f'group = {user}' if user else ''}
listen = {sock}
listen.mode = 0666
pm = static
pm.max_children = {self.workers}
catch_workers_output = yes
php_admin_value[display_errors] = Off
""")
        temp = folder / "temp"
        temp.mkdir(exist_ok=True)
        (folder / "nginx.conf").write_text(f"""daemon off;
worker_processes 1;
pid {folder / 'nginx.pid'};
error_log {folder / 'nginx-error.log'} notice;
{f'user {user} {user};' if user else ''}
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    log_format timed '$remote_addr [$time_local] "$request" $status $body_bytes_sent $request_time';
    access_log {folder / 'access.log'} timed;
    client_body_temp_path {temp / 'body'};
    proxy_temp_path {temp / 'proxy'};
    fastcgi_temp_path {temp / 'fastcgi'};
    uwsgi_temp_path {temp / 'uwsgi'};
    scgi_temp_path {temp / 'scgi'};
    server {{
        listen 127.0.0.1:{self.port};
        server_name _;
        root {self.docroot};
        index index.php;
        client_max_body_size 8m;
        # WordPress's own nginx recipe: pretty permalinks go to index.php; a missing favicon does
        # not (a browser asks for it on every page, and WordPress would render its home page).
        location = /favicon.ico {{
            log_not_found off;
            try_files $uri =404;
        }}
        location / {{
            try_files $uri $uri/ /index.php?$args;
        }}
        location ~ \\.php$ {{
            try_files $uri =404;
            include /etc/nginx/fastcgi.conf;
            fastcgi_pass unix:{sock};
            fastcgi_read_timeout 120s;
        }}
    }}
}}
""")
        self._hand_over()
        fpm = self._launch("php-fpm", [binaries["php-fpm"], "--nodaemonize", "--fpm-config", str(folder / "php-fpm.conf")])
        self._wait_until(sock.exists, fpm, "php-fpm")
        nginx = self._launch("nginx", [binaries["nginx"], "-p", str(folder), "-c", str(folder / "nginx.conf"),
                                       "-e", str(folder / "nginx-error.log")])
        self._wait_until(self._listening, nginx, "nginx")
        return self

    def _start_apache(self) -> "WordPressSite":
        binaries = server_binaries("apache")
        folder = self.server_dir
        folder.mkdir(parents=True, exist_ok=True)
        user = self._run_as()
        modules = "\n".join(
            f"LoadModule {name}_module {APACHE_MODULES / f'mod_{name}.so'}"
            for name in ("mpm_prefork", "authz_core", "dir", "mime", "rewrite", "env", "alias"))
        # mod_php needs a non-threaded MPM: prefork, a few children started up front.
        (folder / "apache2.conf").write_text(f"""ServerRoot {folder}
DefaultRuntimeDir {folder}
PidFile {folder / 'apache2.pid'}
Mutex file:{folder} default
Listen 127.0.0.1:{self.port}
ServerName 127.0.0.1
{modules}
LoadModule php_module {binaries['mod_php']}
{f'User {user}' if user else ''}
{f'Group {user}' if user else ''}
StartServers {self.workers}
MinSpareServers {self.workers}
MaxSpareServers {self.workers * 2}
# A browser's keep-alive connections each hold a prefork child: room for them and the loopbacks.
MaxRequestWorkers 32
ErrorLog {folder / 'apache-error.log'}
LogLevel warn
LogFormat "%a %t \\"%r\\" %>s %b %D" timed
CustomLog {folder / 'access.log'} timed
TypesConfig /etc/mime.types
DirectoryIndex index.php index.html
DocumentRoot {self.docroot}
<Directory />
    AllowOverride None
    Require all denied
</Directory>
<Directory {self.docroot}>
    Options FollowSymLinks
    # WordPress writes its permalink rules to .htaccess.
    AllowOverride All
    Require all granted
</Directory>
<FilesMatch "\\.php$">
    SetHandler application/x-httpd-php
</FilesMatch>
""")
        self._hand_over()
        apache = self._launch("apache2", [binaries["apache2"], "-f", str(folder / "apache2.conf"), "-DFOREGROUND"])
        self._wait_until(self._listening, apache, "apache2")
        return self

    def login(self, login: str, password: str) -> requests.Session:
        session = requests.Session()
        session.cookies.set("wordpress_test_cookie", "WP%20Cookie%20check", domain="127.0.0.1")
        resp = session.post(
            f"{self.url}/wp-login.php",
            data={"log": login, "pwd": password, "wp-submit": "Log In",
                  "redirect_to": f"{self.url}/wp-admin/", "testcookie": "1"},
            allow_redirects=False, timeout=30,
        )
        if resp.status_code != 302 or not any(c.name.startswith("wordpress_logged_in_") for c in session.cookies):
            raise RuntimeError(f"login as {login} failed: HTTP {resp.status_code} {resp.text[:500]}")
        return session

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
