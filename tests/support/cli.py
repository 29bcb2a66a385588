"""Running the command line (``python -m sidecar ...``) in a subprocess, as an operator would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(*args, env_extra=None, data_dir: Path):
    env = {**os.environ, "FAREWELL_DATA_DIR": str(data_dir)}
    env.pop("FAREWELL_DATABASE_URL", None)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "sidecar", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
