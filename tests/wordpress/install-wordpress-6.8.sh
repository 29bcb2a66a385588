#!/bin/sh
# Install the current WordPress (Debian 13 "trixie" package) into /usr/share/wordpress-6.8
# without touching the system's apt configuration: a private sources file and lists folder
# are used, and the host is taken from the machine's own Debian source (never hard-coded).
# Also unpacks its default block theme (twentytwentyfive), which Debian ships as its own package.
# Idempotent: does nothing when the target already holds WordPress 6.8.x and that theme.
# Needs root (writes under /usr/share). Usage: install-wordpress-6.8.sh [TARGET]
set -eu

TARGET="${1:-/usr/share/wordpress-6.8}"
SOURCES=/etc/apt/sources.list.d/debian.sources

if [ -f "$TARGET/wp-includes/version.php" ] && grep -q "wp_version = '6\.8" "$TARGET/wp-includes/version.php" \
    && [ -f "$TARGET/wp-content/themes/twentytwentyfive/style.css" ]; then
    echo "WordPress 6.8 already in $TARGET"
    exit 0
fi

URI=""
if [ -f "$SOURCES" ]; then
    # First URIs: line of the deb822 file (the main archive comes first on Debian images).
    URI=$(awk '/^URIs:/ {print $2; exit}' "$SOURCES")
fi
if [ -z "$URI" ] && [ -f /etc/apt/sources.list ]; then
    URI=$(awk '/^deb / {for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' /etc/apt/sources.list | head -n 1)
fi
if [ -z "$URI" ]; then
    echo "install-wordpress-6.8: no Debian archive URI found in $SOURCES or /etc/apt/sources.list" >&2
    exit 1
fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/lists/partial" "$WORK/archives/partial" "$WORK/extract"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $URI trixie main" > "$WORK/sources.list"

APT_OPTS="-oDir::Etc::SourceList=$WORK/sources.list -oDir::Etc::SourceParts=/dev/null -oDir::State::Lists=$WORK/lists -oDir::Cache::Archives=$WORK/archives -oAPT::Get::List-Cleanup=0 -oAPT::Sandbox::User=root"

# shellcheck disable=SC2086
apt-get $APT_OPTS -q update >/dev/null
# apt-get download writes into the current directory.
# shellcheck disable=SC2086
(cd "$WORK" && apt-get $APT_OPTS -q download wordpress wordpress-theme-twentytwentyfive >/dev/null)

DEB=$(ls "$WORK"/wordpress_*.deb 2>/dev/null | head -n 1)
if [ -z "$DEB" ]; then
    echo "install-wordpress-6.8: apt-get download wordpress produced no .deb" >&2
    exit 1
fi
dpkg -x "$DEB" "$WORK/extract"
THEME_DEB=$(ls "$WORK"/wordpress-theme-twentytwentyfive_*.deb 2>/dev/null | head -n 1)
if [ -z "$THEME_DEB" ]; then
    echo "install-wordpress-6.8: apt-get download wordpress-theme-twentytwentyfive produced no .deb" >&2
    exit 1
fi
dpkg -x "$THEME_DEB" "$WORK/extract"
if ! grep -q "wp_version = '6\.8" "$WORK/extract/usr/share/wordpress/wp-includes/version.php"; then
    echo "install-wordpress-6.8: the downloaded package is not WordPress 6.8:" >&2
    grep "wp_version =" "$WORK/extract/usr/share/wordpress/wp-includes/version.php" >&2 || true
    exit 1
fi

rm -rf "$TARGET.tmp"
cp -a "$WORK/extract/usr/share/wordpress" "$TARGET.tmp"
rm -rf "$TARGET"
mv "$TARGET.tmp" "$TARGET"
grep "wp_version =" "$TARGET/wp-includes/version.php"
echo "WordPress installed in $TARGET"
