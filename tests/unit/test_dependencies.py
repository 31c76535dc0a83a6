"""Every module `ember/` imports at run time comes from the standard library, from Ember
itself, or from a distribution pyproject.toml declares in [project].dependencies (botocore
once came only with the dev extras, and `pip install .` gave a server that died at start)."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Ember's Python runtime runs inside environments on the function's interpreter: stdlib and
# its own `_ember_*` modules only (tests/component/runtimes checks it on each python3.x).
RUNTIME = ROOT / "ember" / "runtimes" / "python"


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = (re.split(r"[\s<>=!~;\[]", d, maxsplit=1)[0] for d in project["dependencies"])
    return {n.lower().replace("_", "-") for n in names}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_runtime_imports_are_declared_dependencies() -> None:
    declared = _declared()
    owners = importlib.metadata.packages_distributions()
    undeclared: dict[str, list[str]] = {}
    for path in sorted((ROOT / "ember").rglob("*.py")):
        local = path.is_relative_to(RUNTIME)
        for module in _imports(path):
            if module in sys.stdlib_module_names or module == "ember" or module == "__future__":
                continue
            if local and module.startswith("_ember_"):
                continue
            dists = {d.lower().replace("_", "-") for d in owners.get(module, [module])}
            if local or not dists & declared:
                undeclared.setdefault(module, []).append(str(path.relative_to(ROOT)))
    assert undeclared == {}, f"imported but not in [project].dependencies: {undeclared}"
