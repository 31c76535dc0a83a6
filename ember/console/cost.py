"""Usage priced as AWS Lambda would bill it: requests, on-demand duration (GB-seconds of
billed milliseconds by architecture, in the month's tiers), provisioned concurrency,
ephemeral storage beyond 512 MB and SnapStart's cache; the free tier is shown apart, as a
credit on the total, never mixed into the lines."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from ember.clock import iso_millis
from ember.console.pricing import PriceTable
from ember.console.usage import Usage

MB_PER_GB = 1024
MONTH = 30 * 86400.0
FREE_STORAGE_MB = 512


@dataclasses.dataclass(frozen=True, slots=True)
class Line:
    function: str
    item: str  # what is charged, e.g. "Duration arm64 1024 MB"
    quantity: float
    unit: str  # "requests", "GB-s", "GB"
    cost: float  # USD


@dataclasses.dataclass(frozen=True, slots=True)
class FreeTier:
    requests: int  # used by the period, up to the allowance
    requests_allowance: int
    gb_seconds: float
    gb_seconds_allowance: float
    credit: float  # USD the free tier takes off


@dataclasses.dataclass(frozen=True, slots=True)
class CostReport:
    since: float
    until: float
    prices: PriceTable
    lines: tuple[Line, ...]
    free_tier: FreeTier

    @property
    def total(self) -> float:
        return sum(line.cost for line in self.lines)

    @property
    def total_after_free_tier(self) -> float:
        return max(0.0, self.total - self.free_tier.credit)

    @property
    def requests(self) -> int:
        return int(sum(line.quantity for line in self.lines if line.unit == "requests"))

    @property
    def gb_seconds(self) -> float:
        return sum(line.quantity for line in self.lines if line.item.startswith("Duration"))

    def functions(self) -> list[str]:
        return sorted({line.function for line in self.lines})

    def to_doc(self) -> dict[str, Any]:
        """The /_ember/cost answer."""
        by_function: dict[str, list[Line]] = {}
        for line in self.lines:
            by_function.setdefault(line.function, []).append(line)
        free = self.free_tier
        return {
            "Since": iso_millis(self.since),
            "Until": iso_millis(self.until),
            "Currency": "USD",
            "Prices": {
                "Region": self.prices.region,
                "Retrieved": self.prices.retrieved,
                "Source": self.prices.source,
            },
            "Functions": [
                {
                    "FunctionName": name,
                    "Requests": int(sum(x.quantity for x in lines if x.unit == "requests")),
                    "GBSeconds": sum(x.quantity for x in lines if x.item.startswith("Duration")),
                    "Cost": sum(x.cost for x in lines),
                    "Lines": [
                        {"Item": x.item, "Quantity": x.quantity, "Unit": x.unit, "Cost": x.cost}
                        for x in lines
                    ],
                }
                for name, lines in sorted(by_function.items())
            ],
            "Requests": self.requests,
            "GBSeconds": self.gb_seconds,
            "Total": self.total,
            "FreeTier": {
                "Requests": free.requests,
                "RequestsAllowance": free.requests_allowance,
                "GBSeconds": free.gb_seconds,
                "GBSecondsAllowance": free.gb_seconds_allowance,
                "Credit": free.credit,
            },
            "TotalAfterFreeTier": self.total_after_free_tier,
        }


def price(usage: Usage, prices: PriceTable) -> CostReport:
    lines: list[Line] = []
    # GB-seconds by architecture: the tiers apply to each architecture's monthly total.
    gb_seconds: dict[str, float] = {}
    requests: dict[str, int] = {}  # function -> requests, whatever version and memory
    for use in usage.invocations:
        requests[use.function] = requests.get(use.function, 0) + use.requests
    for function, count in requests.items():
        lines.append(Line(function, "Requests", count, "requests", count * prices.per_request))
    for use in usage.invocations:
        seconds = use.billed_ms / 1000
        gbs = seconds * use.memory_mb / MB_PER_GB
        gb_seconds[use.architecture] = gb_seconds.get(use.architecture, 0.0) + gbs
        label = f"Duration {use.architecture} {use.memory_mb} MB (version {use.version})"
        lines.append(
            Line(use.function, label, gbs, "GB-s", gbs * prices.first_tier(use.architecture))
        )
        extra = use.ephemeral_mb - FREE_STORAGE_MB
        if extra > 0:
            storage = seconds * extra / MB_PER_GB
            lines.append(
                Line(use.function, f"Ephemeral storage {use.ephemeral_mb} MB", storage, "GB-s",
                     storage * prices.ephemeral)
            )  # fmt: skip
    lines = _tiered(lines, gb_seconds, prices)
    for pc in usage.provisioned:
        gbs = pc.environment_seconds * pc.memory_mb / MB_PER_GB
        cost = gbs * prices.provisioned.get(pc.architecture, prices.provisioned["x86_64"])
        label = f"Provisioned concurrency {pc.architecture} {pc.memory_mb} MB ({pc.qualifier})"
        lines.append(Line(pc.function, label, gbs, "GB-s", cost))
    for cached in usage.cached:
        seconds = max(cached.seconds, prices.snapstart_cache_minimum)
        gbs = seconds * cached.memory_mb / MB_PER_GB
        label = f"SnapStart cache {cached.memory_mb} MB (version {cached.version})"
        lines.append(Line(cached.function, label, gbs, "GB-s", gbs * prices.snapstart_cache))
    for restored in usage.restored:
        gb = restored.restores * restored.memory_mb / MB_PER_GB
        label = f"SnapStart restore {restored.memory_mb} MB (version {restored.version})"
        lines.append(Line(restored.function, label, gb, "GB", gb * prices.snapstart_restore))
    lines.sort(key=lambda line: line.function)  # stable: each function's items in order
    return CostReport(
        usage.since, usage.until, prices, tuple(lines), _free_tier(lines, usage, prices)
    )


def _tiered(lines: list[Line], gb_seconds: dict[str, float], prices: PriceTable) -> list[Line]:
    """Past the first tier (billions of GB-seconds a month), scale each architecture's
    duration lines so that their sum is the tiered price."""
    scale = {}
    for arch, total in gb_seconds.items():
        flat = total * prices.first_tier(arch)
        scale[arch] = prices.duration_cost(arch, total) / flat if flat else 1.0
    if all(math.isclose(s, 1.0) for s in scale.values()):
        return lines
    return [
        dataclasses.replace(line, cost=line.cost * scale[arch])
        if line.item.startswith("Duration ") and (arch := line.item.split()[1]) in scale
        else line
        for line in lines
    ]


def _free_tier(lines: list[Line], usage: Usage, prices: PriceTable) -> FreeTier:
    """Lambda's monthly free tier (1M requests, 400,000 GB-seconds of duration), once for
    each started 30 days of the period."""
    months = max(1, math.ceil((usage.until - usage.since) / MONTH))
    requests_allowance = prices.free_requests * months
    gbs_allowance = prices.free_gb_seconds * months
    requests = min(sum(int(x.quantity) for x in lines if x.unit == "requests"), requests_allowance)
    credit = requests * prices.per_request
    left = gbs_allowance
    used = 0.0
    for line in lines:  # duration lines in order, at their own architecture's rate
        if left <= 0 or not line.item.startswith("Duration "):
            continue
        free = min(left, line.quantity)
        credit += line.cost * (free / line.quantity) if line.quantity else 0.0
        left -= free
        used += free
    return FreeTier(requests, requests_allowance, used, gbs_allowance, credit)
