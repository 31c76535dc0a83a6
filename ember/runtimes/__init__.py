"""The runtimes Ember ships and the interpreters it found to run them.

Owns: the catalog of supported `Runtime` values (python3.8-3.14 on the interpreters
present, nodejs18.x-22.x on the `node` binaries present, `provided.al2` / `provided.al2023`
running the function's own `bootstrap`), the
shared boto3/botocore folder Python functions import from, runtime version ARNs, and the
bootstrap programs that run inside environments. Must never import another `ember`
package: what runs inside an environment depends on nothing of the server.
"""

from ember.runtimes.catalog import RuntimeCatalog, RuntimeSpec

__all__ = ["RuntimeCatalog", "RuntimeSpec"]
