"""Function folders deployed at start-up (`ember serve --deploy DIR`): each subfolder with a
`function.json` (CreateFunction's members in snake_case) becomes or updates a function."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from ember.blocking import run_blocking
from ember.control.codezip import zip_folder
from ember.control.functions import FunctionService
from ember.errors import LambdaError

log = logging.getLogger("ember.control")
MANIFEST = "function.json"
DEFAULT_ROLE = "arn:aws:iam::000000000000:role/ember"


def _read_manifest(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


async def deploy_folder(functions: FunctionService, root: Path) -> list[str]:
    """Create or update every function folder under `root`; the names deployed."""
    deployed = []
    manifests = await run_blocking(lambda: sorted(root.glob(f"*/{MANIFEST}")))
    for manifest in manifests:
        folder = manifest.parent
        try:
            spec = await run_blocking(_read_manifest, manifest)
            package = await run_blocking(zip_folder, folder)
            name = spec.pop("name", folder.name)
            spec.setdefault("role", DEFAULT_ROLE)
            existing = {c.name: c for c in functions.list()}.get(name)
            if existing is None:
                await functions.create(package, name=name, **spec)
            else:
                spec.pop("role")
                await functions.update_code(name, package)
                await functions.wait_settled(name, limit=30)
                await functions.update_configuration(name, **spec)
            deployed.append(name)
        except (LambdaError, OSError, ValueError, TypeError) as exc:
            log.error("could not deploy %s: %s", folder, exc)
    return deployed
