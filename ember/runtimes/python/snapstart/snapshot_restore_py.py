"""SnapStart's runtime hooks, under the name of AWS's PyPI package `snapshot-restore-py`.

Part of Ember's Python runtime (see bootstrap.py): stdlib only, 3.8 syntax. Lambda's
python3.12+ runtimes let functions `from snapshot_restore_py import
register_before_snapshot, register_after_restore` without bundling the package; Ember's
runtime puts this folder last on sys.path, so a copy the function or a layer brings wins
(the runtime then reads the hooks from that copy: same functions, same registries).

Hooks run in the order registered: before-snapshot hooks once Init is done (before the
version's environments are kept ready), after-restore hooks as each environment resumes.
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    Hook = tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]

__version__ = "1.0.0"
__all__ = ["register_after_restore", "register_before_snapshot"]

_before_snapshot_registry: "list[Hook]" = []
_after_restore_registry: "list[Hook]" = []


def register_before_snapshot(
    func: "Callable[..., Any]", *args: "Any", **kwargs: "Any"
) -> "Callable[..., Any]":
    """Run `func(*args, **kwargs)` before the snapshot is taken; returns `func` (a decorator)."""
    _before_snapshot_registry.append((func, args, kwargs))
    return func


def register_after_restore(
    func: "Callable[..., Any]", *args: "Any", **kwargs: "Any"
) -> "Callable[..., Any]":
    """Run `func(*args, **kwargs)` when an environment resumes; returns `func` (a decorator)."""
    _after_restore_registry.append((func, args, kwargs))
    return func


def get_before_snapshot() -> "list[Hook]":
    """The registered before-snapshot hooks as (func, args, kwargs), for the runtime."""
    return _before_snapshot_registry


def get_after_restore() -> "list[Hook]":
    """The registered after-restore hooks as (func, args, kwargs), for the runtime."""
    return _after_restore_registry
