"""The sidecar's layers import only downwards, and its packages never import each other in a circle.

Read from the source with ast, every import counted wherever it is written (a lazy import inside a
function is still a dependency, and is how a cycle usually hides). The order, lowest first:

- foundations, each a module of its own: config, db, plurals, safe_http; then logs, signing and
  i18n (the text people read, one catalog per language, which every layer may read);
  then bridge, the signed client of the WordPress bridge's routes, which needs only those;
- storage (the SQL), then its migrations;
- mail (the emails' text and transports) and metrics;
- domain (the rules);
- jobs (the scheduled work) and web (the requests), neither of which imports the other;
- the entry points: the app factory (``sidecar/__init__.py``), the demo, the command line,
  ``python -m sidecar`` and ``python -m jobs``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# A unit is a package of sidecar (storage, domain, …) or one of its top-level modules. A module may
# import its own unit or one of a lower rank, never one of the same or a higher rank.
RANKS = {
    "sidecar.config": 0, "sidecar.db": 0, "sidecar.plurals": 0, "sidecar.safe_http": 0,
    "sidecar.logs": 1, "sidecar.signing": 1, "sidecar.i18n": 1,
    "sidecar.bridge": 2,
    "sidecar.storage": 3,
    "sidecar.migrations": 4,
    "sidecar.mail": 5, "sidecar.metrics": 5,
    "sidecar.domain": 6,
    "sidecar.jobs": 7, "sidecar.web": 7,
    "sidecar": 8, "sidecar.demo": 8,
    "sidecar.cli": 9,
    "sidecar.__main__": 10, "jobs": 10,
}
# Third-party packages a layer must not use: the domain has no Flask (and so none below it).
NOT_USED = {"sidecar.storage": {"flask"}, "sidecar.mail": {"flask"}, "sidecar.domain": {"flask"}}


def module_files(root: Path = ROOT) -> dict[str, Path]:
    files = {}
    for path in sorted([*(root / "sidecar").rglob("*.py"), *(root / "jobs").rglob("*.py")]):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        files[".".join(parts)] = path
    return files


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """Every module ``name`` imports: ``from sidecar import db`` is sidecar.db, not the package
    sidecar (whose __init__ is the app factory); a relative import is resolved."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            submodules = {f"{module}.{alias.name}" for alias in node.names} & known
            found.update(submodules)
            if len(submodules) < len(node.names):
                found.add(module)
    return found


def unit_of(module: str) -> str | None:
    """The unit ``module`` belongs to, or None for a module from outside (a third-party one)."""
    parts = module.split(".")
    for length in range(len(parts), 0, -1):
        if ".".join(parts[:length]) in RANKS:
            return ".".join(parts[:length])
    return None


def dependencies(root: Path = ROOT) -> dict[str, set[tuple[str, str]]]:
    """For each module of sidecar and jobs: (what it imports, that import's unit or '' if outside)."""
    files = module_files(root)
    return {name: {(imported, unit_of(imported) or "") for imported in imports_of(name, path, set(files))}
            for name, path in files.items()}


def upward_imports(root: Path = ROOT) -> list[str]:
    wrong = []
    for module, imported in sorted(dependencies(root).items()):
        unit = unit_of(module)
        assert unit is not None, f"{module} is in no layer: give its package a rank in RANKS"
        for target, target_unit in sorted(imported):
            if not target_unit:
                if target.split(".")[0] in NOT_USED.get(unit, ()):
                    wrong.append(f"{module} imports {target}")
            elif target_unit != unit and RANKS[target_unit] >= RANKS[unit]:
                wrong.append(f"{module} imports {target} (rank {RANKS[target_unit]} >= {RANKS[unit]})")
    return wrong


def unit_cycles(root: Path = ROOT) -> list[list[str]]:
    """The circles in the graph of units (each found once, from its smallest unit)."""
    graph: dict[str, set[str]] = {}
    for module, imported in dependencies(root).items():
        unit = unit_of(module)
        graph.setdefault(unit, set()).update(target for _, target in imported if target and target != unit)
    cycles = []

    def walk(start: str, node: str, path: list[str]) -> None:
        for following in sorted(graph.get(node, ())):
            if following == start:
                cycles.append(path + [start])
            elif following > start and following not in path:
                walk(start, following, path + [following])

    for start in sorted(graph):
        walk(start, start, [start])
    return cycles


def test_no_package_of_the_sidecar_imports_another_that_imports_it_back():
    assert unit_cycles() == []


def test_each_layer_imports_only_the_layers_below_it():
    assert upward_imports() == []


def test_the_rules_see_the_imports_that_break_them(tmp_path):
    """The two checks above on a tree that breaks them: a bridge client that asks the domain for
    the secrets (and the domain that calls the bridge), mail that calls the domain, storage that
    uses Flask, and a lazy import inside a function."""
    (tmp_path / "jobs").mkdir()
    sources = {
        "sidecar/__init__.py": "",
        "sidecar/bridge.py": "from .domain.sites import verification_secrets\n",
        "sidecar/domain/__init__.py": "",
        "sidecar/domain/sites.py": "def f():\n    from ..storage import sites\n",
        "sidecar/domain/offers.py": "from .. import bridge\n",
        "sidecar/mail/__init__.py": "",
        "sidecar/mail/transports.py": "def send():\n    from sidecar.domain import offers\n",
        "sidecar/storage/__init__.py": "",
        "sidecar/storage/sites.py": "from flask import g\n",
    }
    for name, text in sources.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert unit_cycles(tmp_path) == [["sidecar.bridge", "sidecar.domain", "sidecar.bridge"]]
    assert upward_imports(tmp_path) == [
        "sidecar.bridge imports sidecar.domain.sites (rank 6 >= 2)",
        "sidecar.mail.transports imports sidecar.domain.offers (rank 6 >= 5)",
        "sidecar.storage.sites imports flask",
    ]
