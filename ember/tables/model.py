"""A table's definition (key schema, attribute definitions, billing, stream) and a stream's
identity, with the documents they are stored as and DescribeTable's shape."""

from __future__ import annotations

import dataclasses
from typing import Any

from ember.clock import iso_millis

VIEW_TYPES = ("KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES")


@dataclasses.dataclass(frozen=True, slots=True)
class StreamInfo:
    """One stream of a table: a new one each time the table's stream is enabled."""

    arn: str
    label: str  # StreamLabel: the ISO time of its creation
    table: str
    view_type: str
    created: float  # epoch seconds
    shard: str  # its one shard's id
    enabled: bool = True
    disabled_at: float | None = None

    def to_doc(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> StreamInfo:
        return cls(**doc)


@dataclasses.dataclass(frozen=True, slots=True)
class TableSpec:
    name: str
    arn: str
    table_id: str
    hash_key: str
    range_key: str | None
    attributes: dict[str, str]  # AttributeDefinitions: name -> S | N | B
    billing_mode: str  # PROVISIONED | PAY_PER_REQUEST
    read_capacity: int
    write_capacity: int
    created: float
    stream_arn: str | None = None  # the latest stream (enabled or not)
    stream_enabled: bool = False
    view_type: str | None = None
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)  # SSE, class… echoed
    indexes: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)  # IndexSpec docs
    ttl_attribute: str | None = None  # Time to Live: the attribute holding expiry times

    def key_names(self) -> tuple[str, ...]:
        return (self.hash_key,) if self.range_key is None else (self.hash_key, self.range_key)

    def to_doc(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> TableSpec:
        return cls(**doc)

    def describe(self, status: str, item_count: int, size: int, stream: StreamInfo | None,
                 ) -> dict[str, Any]:  # fmt: skip
        schema = [{"AttributeName": self.hash_key, "KeyType": "HASH"}]
        if self.range_key is not None:
            schema.append({"AttributeName": self.range_key, "KeyType": "RANGE"})
        out: dict[str, Any] = {
            "AttributeDefinitions": [
                {"AttributeName": n, "AttributeType": t} for n, t in self.attributes.items()
            ],
            "TableName": self.name,
            "KeySchema": schema,
            "TableStatus": status,
            "CreationDateTime": self.created,
            "ProvisionedThroughput": {
                "NumberOfDecreasesToday": 0,
                "ReadCapacityUnits": self.read_capacity,
                "WriteCapacityUnits": self.write_capacity,
            },
            "TableSizeBytes": size,
            "ItemCount": item_count,
            "TableArn": self.arn,
            "TableId": self.table_id,
            "DeletionProtectionEnabled": False,
        }
        if self.billing_mode == "PAY_PER_REQUEST":
            out["BillingModeSummary"] = {
                "BillingMode": "PAY_PER_REQUEST",
                "LastUpdateToPayPerRequestDateTime": self.created,
            }
        if stream is not None:
            out["LatestStreamArn"] = stream.arn
            out["LatestStreamLabel"] = stream.label
        if self.stream_enabled and self.view_type is not None:
            out["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": self.view_type}
        out.update(self.extra)
        return out


def stream_label(created: float) -> str:
    """AWS's StreamLabel: the creation time, ISO 8601 with milliseconds, no zone."""
    return iso_millis(created, zone="")
