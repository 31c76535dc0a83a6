"""AWS Lambda's public price table, kept as dated data beside this module
(prices/lambda-<region>-<date>.json, each naming its source and the day it was read): the
newest file is the one in force. Prices change rarely; a new file is a new date, so an
old report can be re-priced with the figures of its time."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path

PRICES = Path(__file__).parent / "prices"
ARCHITECTURES = ("x86_64", "arm64")

# Monthly on-demand duration tiers: (GB-seconds in this tier or None for the rest, price).
Tiers = tuple[tuple[float | None, float], ...]


@dataclasses.dataclass(frozen=True, slots=True)
class PriceTable:
    region: str
    retrieved: str  # ISO date the figures were read
    source: str
    per_request: float
    duration: Mapping[str, Tiers]  # architecture -> tiers
    provisioned: Mapping[str, float]  # architecture -> per GB-second configured
    provisioned_duration: Mapping[str, float]  # architecture -> per GB-second run on it
    ephemeral: float  # per GB-second of storage configured beyond 512 MB
    snapstart_cache: float  # per GB-second cached
    snapstart_restore: float  # per GB restored
    snapstart_cache_minimum: float  # seconds billed at least per cached version
    free_requests: int  # per month
    free_gb_seconds: float  # per month

    def duration_cost(self, architecture: str, gb_seconds: float) -> float:
        """The on-demand duration price of a month's `gb_seconds`, tier by tier."""
        left, cost = gb_seconds, 0.0
        for size, price in self.duration[_known(architecture)]:
            used = left if size is None else min(left, size)
            cost += used * price
            left -= used
            if left <= 0:
                break
        return cost

    def first_tier(self, architecture: str) -> float:
        return self.duration[_known(architecture)][0][1]


def _known(architecture: str) -> str:
    return architecture if architecture in ARCHITECTURES else "x86_64"


def load(region: str = "us-east-1", folder: Path = PRICES) -> PriceTable:
    """The newest price table for `region` (its file name sorts by date)."""
    files = sorted(folder.glob(f"lambda-{region}-*.json"))
    if not files:
        raise FileNotFoundError(f"no Lambda price table for {region} in {folder}")
    doc = json.loads(files[-1].read_text())
    free = doc["free_tier_per_month"]
    return PriceTable(
        region=doc["region"],
        retrieved=doc["retrieved"],
        source=doc["source"],
        per_request=doc["requests_per_million"] / 1_000_000,
        duration={
            arch: tuple((size, price) for size, price in tiers)
            for arch, tiers in doc["duration_per_gb_second"].items()
        },
        provisioned=doc["provisioned_concurrency_per_gb_second"],
        provisioned_duration=doc["provisioned_duration_per_gb_second"],
        ephemeral=doc["ephemeral_storage_per_gb_second"],
        snapstart_cache=doc["snapstart_cache_per_gb_second"],
        snapstart_restore=doc["snapstart_restore_per_gb"],
        snapstart_cache_minimum=doc["snapstart_cache_minimum_seconds"],
        free_requests=free["requests"],
        free_gb_seconds=free["gb_seconds"],
    )
