"""Imports point the way DESIGN.md draws the components (checked on the source, by AST).

What each package may import besides itself and the beside-files (errors, config,
clock, blocking). Differences from DESIGN.md's table are deliberate and named:
- `invoke` reads function versions, aliases and concurrency settings from `control`
  (the table's "talks to" column lists only scheduler and store);
- `control` writes reserved and provisioned concurrency into the scheduler's
  `Reservations` (one table, read by throttling; the dependency points downward);
- `cli` uses `control.codezip` to package a folder as Lambda would, and `control.keys` for
  `ember keys` on the data dir;
- `scheduler` takes the environments' role sessions from `protocols` (the issuer is handed
  to it; environments put the credentials in their variables and revoke them at shutdown);
- the services beside Lambda's API: `topics` delivers to `queues`, `rules` to `queues` and
  reads `control`, `sources` reads `queues`, `streams`, `tables` and `control` (mappings live
  there), all three use `patterns`; `console` uses `invoke` (test invokes, queue depths).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "ember"
BESIDE = {"errors", "config", "clock", "blocking"}
ALLOWED: dict[str, set[str]] = {
    "api": {"control", "invoke", "telemetry", "protocols"},
    "control": {"store", "runtimes", "scheduler"},
    "invoke": {"control", "scheduler", "store", "telemetry"},
    "scheduler": {"sandbox", "runtime_api", "runtimes", "telemetry", "protocols"},
    "sandbox": set(),
    "runtime_api": set(),
    "runtimes": set(),
    "store": set(),
    # protocols: the CloudWatch metrics door reads and answers as every door does (asgi)
    "telemetry": {"store", "protocols"},
    "cli": {"server", "control"},
    "protocols": set(),
    "gateway": {"control", "invoke", "protocols", "telemetry"},
    "queues": {"store", "protocols"},
    "streams": {"store", "protocols"},
    "tables": {"store", "protocols"},
    "topics": {"store", "protocols", "queues", "invoke", "patterns"},
    "rules": {"store", "protocols", "invoke", "patterns", "control"},
    "patterns": set(),
    "sources": {
        "queues",
        "streams",
        "tables",
        "invoke",
        "control",
        "patterns",
        "telemetry",
        "store",
    },
    # invoke: the console's test invokes and async queue depths
    "console": {"control", "telemetry", "invoke"},
}
# Beside-files other packages may not use: what runs inside environments and the
# lowest layers stay free of the server's settings.
NO_BESIDE = {
    "runtimes": BESIDE,
    "runtime_api": {"config", "blocking"},
    "protocols": {"config", "blocking"},
}


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "ember" and len(parts) > 1:
                found.add(parts[1])
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_what_it_may(package: str) -> None:
    allowed = ALLOWED[package] | (BESIDE - NO_BESIDE.get(package, set())) | {package}
    wrong = {
        f"{path.relative_to(ROOT)} imports ember.{name}"
        for path in (ROOT / package).rglob("*.py")
        for name in _imports(path)
        if name not in allowed
    }
    assert not wrong, sorted(wrong)


def test_every_package_is_listed() -> None:
    packages = {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()}
    assert packages == set(ALLOWED)


def test_beside_files_import_nothing_above_them() -> None:
    for name in BESIDE:
        assert _imports(ROOT / f"{name}.py") <= {"errors"}, name
