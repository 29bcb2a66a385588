"""Build dist/farewell-bridge.zip: the plugin folder as WordPress expects an upload to look.

Everything lives under a top-level ``farewell-bridge/`` folder so that WordPress installs it as
wp-content/plugins/farewell-bridge. Development-only files are left out.
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "wp-bridge-plugin"
EXCLUDED_PARTS = {"bin", "tests", ".git", "node_modules"}


def build(target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(PLUGIN.rglob("*")):
            relative = path.relative_to(PLUGIN)
            if path.is_file() and not EXCLUDED_PARTS.intersection(relative.parts):
                archive.write(path, Path("farewell-bridge") / relative)
    return target


if __name__ == "__main__":
    print(build(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "dist" / "farewell-bridge.zip"))
