"""DynamoDB's table operations (CreateTable, DescribeTable, ListTables, UpdateTable,
DeleteTable) in their JSON shapes, checked with AWS's words."""

from __future__ import annotations

import re
import uuid
from typing import Any

from ember.tables.errors import (
    TableInUseError,
    TableNotFoundError,
    TableValidationError,
    constraint,
)
from ember.tables.indexes import parse_index, parse_indexes
from ember.tables.model import VIEW_TYPES, StreamInfo, TableSpec, stream_label
from ember.tables.service import Tables
from ember.tables.streams import shard_id

Params = dict[str, Any]
_NAME = re.compile(r"[a-zA-Z0-9_.-]{3,255}")
_ECHOED = ("SSESpecification", "TableClass")


def table_name(params: Params, member: str = "TableName") -> str:
    name = params.get(member)
    if not isinstance(name, str) or not name:
        raise TableValidationError(
            "1 validation error detected: Value null at 'tableName' failed to satisfy "
            "constraint: Member must not be null"
        )
    if not _NAME.fullmatch(name):
        if len(name) < 3 or len(name) > 255:
            raise constraint(name, "tableName",
                             "Member must have length greater than or equal to 3"
                             if len(name) < 3 else
                             "Member must have length less than or equal to 255")  # fmt: skip
        raise constraint(name, "tableName", "Member must satisfy regular expression pattern: "
                         "[a-zA-Z0-9_.-]+")  # fmt: skip
    return name


def _key_schema(params: Params, attributes: dict[str, str]) -> tuple[str, str | None]:
    schema = params.get("KeySchema")
    if not isinstance(schema, list) or not 1 <= len(schema) <= 2:
        raise TableValidationError(
            "1 validation error detected: Value null at 'keySchema' failed to satisfy "
            "constraint: Member must not be null"
            if not schema
            else "1 validation error detected: Value at 'keySchema' failed to satisfy "
            "constraint: Member must have length less than or equal to 2"
        )
    kinds = [e.get("KeyType") for e in schema if isinstance(e, dict)]
    names = [e.get("AttributeName") for e in schema if isinstance(e, dict)]
    if kinds[0] != "HASH" or (len(kinds) == 2 and kinds[1] != "RANGE"):
        raise TableValidationError(
            "Invalid KeySchema: The first KeySchemaElement is not a HASH key type"
            if kinds[0] != "HASH"
            else "Invalid KeySchema: The second KeySchemaElement is not a RANGE key type"
        )
    if len(names) == 2 and names[0] == names[1]:
        raise TableValidationError(
            "Both the Hash Key and the Range Key element in the KeySchema have the same name"
        )
    for name in names:
        if name not in attributes:
            raise TableValidationError(
                "One or more parameter values were invalid: Some index key attributes are not "
                "defined in AttributeDefinitions. Keys: "
                f"[{', '.join(str(n) for n in names)}], AttributeDefinitions: "
                f"[{', '.join(attributes)}]"
            )
    return str(names[0]), (str(names[1]) if len(names) == 2 else None)


def _attributes(params: Params) -> dict[str, str]:
    given = params.get("AttributeDefinitions")
    if not isinstance(given, list) or not given:
        raise TableValidationError(
            "1 validation error detected: Value null at 'attributeDefinitions' failed to "
            "satisfy constraint: Member must not be null"
        )
    out: dict[str, str] = {}
    for entry in given:
        name, kind = entry.get("AttributeName"), entry.get("AttributeType")
        if kind not in ("S", "N", "B"):
            raise constraint(kind, "attributeDefinitions.1.member.attributeType",
                             "Member must satisfy enum value set: [B, N, S]")  # fmt: skip
        if name in out:
            raise TableValidationError(
                f"Cannot have two attributes with the same name, attribute name: {name}"
            )
        out[str(name)] = kind
    return out


def _stream_spec(params: Params) -> tuple[bool, str | None]:
    spec = params.get("StreamSpecification")
    if spec is None:
        return False, None
    enabled = spec.get("StreamEnabled")
    view = spec.get("StreamViewType")
    if enabled and view not in VIEW_TYPES:
        raise TableValidationError(
            "1 validation error detected: Value null at 'streamSpecification.streamViewType' "
            "failed to satisfy constraint: Member must not be null"
            if view is None
            else "1 validation error detected: Value '" + str(view) + "' at "
            "'streamSpecification.streamViewType' failed to satisfy constraint: Member must "
            "satisfy enum value set: [NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES, KEYS_ONLY]"
        )
    if not enabled and view is not None:
        raise TableValidationError(
            "One or more parameter values were invalid: StreamViewType can only be specified "
            "when StreamEnabled is true"
        )
    return bool(enabled), view


def _new_stream(tables: Tables, name: str, view: str) -> StreamInfo:
    now = tables.clock.wall()
    label = stream_label(now)
    arn = f"arn:aws:dynamodb:{tables.region}:{tables.account}:table/{name}/stream/{label}"
    while arn in tables.streams:  # two streams of a table in one millisecond
        now += 0.001
        label = stream_label(now)
        arn = f"arn:aws:dynamodb:{tables.region}:{tables.account}:table/{name}/stream/{label}"
    return StreamInfo(arn=arn, label=label, table=name, view_type=view, created=now,
                      shard=shard_id(now, arn))  # fmt: skip


async def create_table(tables: Tables, params: Params) -> Params:
    name = table_name(params)
    attributes = _attributes(params)
    hash_key, range_key = _key_schema(params, attributes)
    indexes = parse_indexes(params, attributes, hash_key, range_key)
    billing = params.get("BillingMode") or "PROVISIONED"
    if billing not in ("PROVISIONED", "PAY_PER_REQUEST"):
        raise constraint(
            billing,
            "billingMode",
            "Member must satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]",
        )
    throughput = params.get("ProvisionedThroughput")
    if billing == "PROVISIONED" and not throughput:
        raise TableValidationError(
            "One or more parameter values were invalid: ReadCapacityUnits and "
            "WriteCapacityUnits must both be specified when BillingMode is PROVISIONED"
        )
    if billing == "PAY_PER_REQUEST" and throughput:
        raise TableValidationError(
            "One or more parameter values were invalid: Neither ReadCapacityUnits nor "
            "WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST"
        )
    enabled, view = _stream_spec(params)
    if name in tables.tables:
        raise TableInUseError(f"Table already exists: {name}")
    now = tables.clock.wall()
    stream = _new_stream(tables, name, view) if enabled and view else None
    spec = TableSpec(
        name=name,
        arn=f"arn:aws:dynamodb:{tables.region}:{tables.account}:table/{name}",
        table_id=str(uuid.uuid4()),
        hash_key=hash_key,
        range_key=range_key,
        attributes=attributes,
        billing_mode=billing,
        read_capacity=int((throughput or {}).get("ReadCapacityUnits", 0)),
        write_capacity=int((throughput or {}).get("WriteCapacityUnits", 0)),
        created=now,
        stream_arn=stream.arn if stream else None,
        stream_enabled=stream is not None,
        view_type=view if stream else None,
        extra={k: params[k] for k in _ECHOED if k in params},
        indexes={name: index.to_doc() for name, index in indexes.items()},
    )
    table = await tables.add_table(spec, stream)
    described = tables.describe(table, "CREATING")
    table.described = True
    return {"TableDescription": described}


async def describe_table(tables: Tables, params: Params) -> Params:
    table = tables.table(table_name(params), control=True)
    return {"Table": tables.describe(table)}


async def list_tables(tables: Tables, params: Params) -> Params:
    limit = params.get("Limit", 100)
    if not isinstance(limit, int) or not 1 <= limit <= 100:
        raise constraint(limit, "limit", "Member must have value less than or equal to 100"
                         if isinstance(limit, int) and limit > 100 else
                         "Member must have value greater than or equal to 1")  # fmt: skip
    start = params.get("ExclusiveStartTableName")
    names = sorted(n for n in tables.tables if start is None or n > start)
    page = names[:limit]
    out: Params = {"TableNames": page}
    if len(names) > limit:
        out["LastEvaluatedTableName"] = page[-1]
    return out


async def delete_table(tables: Tables, params: Params) -> Params:
    table = tables.table(table_name(params), control=True)
    described = tables.describe(table, "DELETING")
    spec = table.spec
    stream = None
    if spec.stream_enabled and spec.stream_arn in tables.streams:
        live = tables.streams[spec.stream_arn]
        stream = _disabled(live.info, tables.clock.wall())
    await tables.remove_table(spec.name, stream)
    return {"TableDescription": described}


def _disabled(info: StreamInfo, now: float) -> StreamInfo:
    return StreamInfo(**{**info.to_doc(), "enabled": False, "disabled_at": now})


async def update_table(tables: Tables, params: Params) -> Params:
    table = tables.table(table_name(params), control=True)
    spec = table.spec
    changes: dict[str, Any] = {}
    streams: list[StreamInfo] = []
    if "StreamSpecification" in params:
        enabled, view = _stream_spec(params)
        if enabled and spec.stream_enabled:
            raise TableValidationError(f"Table already has an enabled stream: {spec.arn}")
        if not enabled and not spec.stream_enabled:
            raise TableValidationError(f"Table already has no enabled stream: {spec.arn}")
        if enabled and view:
            stream = _new_stream(tables, spec.name, view)
            streams.append(stream)
            changes.update(stream_arn=stream.arn, stream_enabled=True, view_type=view)
        else:
            live = tables.streams.get(spec.stream_arn or "")
            if live is not None:
                streams.append(_disabled(live.info, tables.clock.wall()))
            changes.update(stream_enabled=False, view_type=None)
    if "BillingMode" in params:
        changes["billing_mode"] = params["BillingMode"]
    throughput = params.get("ProvisionedThroughput")
    if throughput:
        changes["read_capacity"] = int(throughput.get("ReadCapacityUnits", 0))
        changes["write_capacity"] = int(throughput.get("WriteCapacityUnits", 0))
    if "AttributeDefinitions" in params:
        changes["attributes"] = {**spec.attributes, **_attributes(params)}
    if params.get("GlobalSecondaryIndexUpdates"):
        changes["indexes"] = _index_updates(
            params["GlobalSecondaryIndexUpdates"], spec, changes.get("attributes", spec.attributes)
        )
    new = TableSpec(**{**spec.to_doc(), **changes})
    await tables.replace_spec(new, streams)
    return {"TableDescription": tables.describe(table, "UPDATING" if changes else "ACTIVE")}


async def update_time_to_live(tables: Tables, params: Params) -> Params:
    table = tables.table(table_name(params), control=True)
    spec = params.get("TimeToLiveSpecification") or {}
    enabled, attribute = spec.get("Enabled"), spec.get("AttributeName")
    if not isinstance(enabled, bool) or not isinstance(attribute, str) or not attribute:
        raise TableValidationError(
            "1 validation error detected: Value null at 'timeToLiveSpecification' failed to "
            "satisfy constraint: Member must not be null"
        )
    current = table.spec.ttl_attribute
    if enabled and current is not None:
        raise TableValidationError("TimeToLive is already enabled")
    if not enabled and current is None:
        raise TableValidationError("TimeToLive is already disabled")
    if not enabled and attribute != current:
        raise TableValidationError(
            f"TimeToLive is active on a different AttributeName: current AttributeName is {current}"
        )
    new = TableSpec(**{**table.spec.to_doc(), "ttl_attribute": attribute if enabled else None})
    await tables.replace_spec(new, [])
    return {"TimeToLiveSpecification": {"Enabled": enabled, "AttributeName": attribute}}


async def describe_time_to_live(tables: Tables, params: Params) -> Params:
    table = tables.table(table_name(params), control=True)
    attribute = table.spec.ttl_attribute
    if attribute is None:
        return {"TimeToLiveDescription": {"TimeToLiveStatus": "DISABLED"}}
    return {"TimeToLiveDescription": {"TimeToLiveStatus": "ENABLED", "AttributeName": attribute}}


def _index_updates(
    updates: list[Params], spec: TableSpec, attributes: dict[str, str]
) -> dict[str, dict[str, Any]]:
    """UpdateTable's GlobalSecondaryIndexUpdates: Create, Delete, Update (throughput)."""
    docs = dict(spec.indexes)
    for update in updates:
        if "Create" in update:
            index = parse_index(update["Create"], False, attributes)
            if index.name in docs:
                raise TableValidationError(
                    "One or more parameter values were invalid: Attempting to create an index "
                    f"which already exists. IndexName: {index.name}"
                )
            docs[index.name] = index.to_doc()
        elif "Delete" in update or "Update" in update:
            name = (update.get("Delete") or update.get("Update") or {}).get("IndexName")
            if name not in docs or docs[name]["local"]:
                raise TableNotFoundError(f"Requested resource not found: Index: {name} not found")
            if "Delete" in update:
                del docs[name]
            else:
                throughput = update["Update"].get("ProvisionedThroughput")
                docs[name] = {**docs[name], "throughput": dict(throughput or {})}
    return docs
