"""The runtimes Ember ships and the interpreters it found to run them.

Owns: the catalog of supported `Runtime` values (python3.10-3.13 on the interpreters
present, `provided.al2` / `provided.al2023` running the function's own `bootstrap`) and
the bootstrap programs that run inside environments. Must never import another `ember`
package: what runs inside an environment depends on nothing of the server.
"""

from ember.runtimes.catalog import RuntimeCatalog, RuntimeSpec

__all__ = ["RuntimeCatalog", "RuntimeSpec"]
