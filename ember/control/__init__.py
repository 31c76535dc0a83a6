"""The resource model: functions (and later versions, aliases, layers) and their rules.

Owns: what a function is, which changes are legal, and persisting them through
`store`. Keeps the authoritative model in memory (write-through to SQLite), so the
invoke path never touches the database. Speaks snake_case; AWS's wire shapes live in
`api`. Must never import `api`, `invoke`, `sandbox` or `runtime_api`; from `scheduler`
only the `Reservations` table that reserved and provisioned concurrency are written to.
"""

from ember.control.functions import FunctionService
from ember.control.model import FunctionConfig, FunctionState

__all__ = ["FunctionConfig", "FunctionService", "FunctionState"]
