"""The web console (pages under /console/, a small JSON API beside them) and the cost
report (`ember cost`, /_ember/cost): what Lambda would bill for the work done here, priced
with AWS's public price table kept as dated data in prices/.

Owns: the pages, their script and style (static/), the price tables, usage read back from
telemetry's billing series. Talks to `control` (functions, versions, aliases, URLs,
mappings), `telemetry` (metrics, logs) and `invoke` (test invokes, async queue depths).
Must never import `api`, `scheduler`, `sandbox`, `runtime_api` or `store`.
"""

from ember.console.app import Console
from ember.console.pricing import PriceTable
from ember.console.pricing import load as load_prices
from ember.console.usage import provisioned_now

__all__ = ["Console", "PriceTable", "load_prices", "provisioned_now"]
