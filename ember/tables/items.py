"""DynamoDB's item operations in their JSON shapes: PutItem, GetItem, DeleteItem,
UpdateItem, BatchWriteItem, BatchGetItem (Query and Scan: ember.tables.queries). Every
check happens before any change, so a refused request changes nothing."""

from __future__ import annotations

from typing import Any

from ember.tables.definitions import table_name
from ember.tables.errors import ConditionalCheckFailedError, TableValidationError
from ember.tables.evaluation import apply_actions, evaluate, project
from ember.tables.expressions import (
    Condition,
    Parser,
    Path,
)
from ember.tables.service import Change, LiveTable, Tables
from ember.tables.values import (
    MAX_ITEM_BYTES,
    Item,
    check_item,
    equal,
    item_size,
)

Params = dict[str, Any]


MAX_BATCH_WRITE = 25
MAX_BATCH_GET = 100
_RETURN_VALUES = ("NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW")


def parser_of(params: Params) -> Parser:
    return Parser(params.get("ExpressionAttributeNames"), params.get("ExpressionAttributeValues"))


def projection_of(parser: Parser, params: Params) -> list[Path] | None:
    """The attributes a read returns: ProjectionExpression, or the legacy AttributesToGet
    (top-level names); None: all of them."""
    projection = params.get("ProjectionExpression")
    legacy = params.get("AttributesToGet")
    if projection is not None and legacy is not None:
        raise TableValidationError(
            "Can not use both expression and non-expression parameters in the same request: "
            "Non-expression parameters: {AttributesToGet} Expression parameters: "
            "{ProjectionExpression}"
        )
    if legacy is not None:
        return [Path((str(name),)) for name in legacy]
    return parser.projection(projection) if projection is not None else None


def check_size(item: Item) -> None:
    if item_size(item) > MAX_ITEM_BYTES:
        raise TableValidationError("Item size has exceeded the maximum allowed size")


def _return_values(params: Params, allowed: tuple[str, ...]) -> str:
    value = params.get("ReturnValues") or "NONE"
    if value not in _RETURN_VALUES:
        raise TableValidationError(
            f"1 validation error detected: Value '{value}' at 'returnValues' failed to satisfy "
            "constraint: Member must satisfy enum value set: [ALL_NEW, UPDATED_OLD, ALL_OLD, "
            "NONE, UPDATED_NEW]"
        )
    if value not in allowed:
        raise TableValidationError("Return values set to invalid value")
    return str(value)


def condition_of(parser: Parser, params: Params) -> Condition | None:
    text = params.get("ConditionExpression")
    if params.get("Expected") is not None:
        raise TableValidationError(
            "Ember supports ConditionExpression, not the legacy Expected parameter"
        )
    return parser.condition(text) if text is not None else None


def _check_condition(condition: Condition | None, old: Item | None, params: Params) -> None:
    if condition is not None and not evaluate(old or {}, condition):
        wanted = params.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD"
        raise ConditionalCheckFailedError(old if wanted and old else None)


async def put_item(tables: Tables, params: Params) -> Params:
    table = tables.table(table_name(params))
    item = check_item(params.get("Item") or {})
    key = table.key_of(item, whole_item=True)
    returns = _return_values(params, ("NONE", "ALL_OLD"))
    parser = parser_of(params)
    condition = condition_of(parser, params)
    parser.check_all_used()
    check_size(item)
    old = table.get(key)
    _check_condition(condition, old, params)
    await tables.commit_changes(table, [Change(key, old, item)])
    return {"Attributes": old} if returns == "ALL_OLD" and old else {}


async def get_item(tables: Tables, params: Params) -> Params:
    table = tables.table(table_name(params))
    key = table.key_of(check_item(params.get("Key") or {}, "Key"), whole_item=False)
    parser = parser_of(params)
    paths = projection_of(parser, params)
    parser.check_all_used()
    await tables.journal.settled()  # show only what is durable
    item = table.get(key)
    if item is None:
        return {}
    return {"Item": project(item, paths) if paths is not None else item}


async def delete_item(tables: Tables, params: Params) -> Params:
    table = tables.table(table_name(params))
    key = table.key_of(check_item(params.get("Key") or {}, "Key"), whole_item=False)
    returns = _return_values(params, ("NONE", "ALL_OLD"))
    parser = parser_of(params)
    condition = condition_of(parser, params)
    parser.check_all_used()
    old = table.get(key)
    _check_condition(condition, old, params)
    if old is not None:
        await tables.commit_changes(table, [Change(key, old, None)])
    return {"Attributes": old} if returns == "ALL_OLD" and old else {}


async def update_item(tables: Tables, params: Params) -> Params:
    table = tables.table(table_name(params))
    key = table.key_of(check_item(params.get("Key") or {}, "Key"), whole_item=False)
    returns = _return_values(params, _RETURN_VALUES)
    if params.get("AttributeUpdates") is not None:
        raise TableValidationError(
            "Ember supports UpdateExpression, not the legacy AttributeUpdates parameter"
        )
    parser = parser_of(params)
    text = params.get("UpdateExpression")
    actions = parser.update(text) if text is not None else []
    condition = condition_of(parser, params)
    parser.check_all_used()
    for action in actions:
        if action.path.elements[0] in key:
            raise TableValidationError(
                "One or more parameter values were invalid: Cannot update attribute "
                f"{action.path.elements[0]}. This attribute is part of the key"
            )
    old = table.get(key)
    _check_condition(condition, old, params)
    new = apply_actions(old if old is not None else dict(key), actions)
    check_size(new)
    await tables.commit_changes(table, [Change(key, old, new)])
    return _updated(returns, old, new, {str(a.path.elements[0]) for a in actions})


def _updated(returns: str, old: Item | None, new: Item, touched: set[str]) -> Params:
    if returns == "NONE":
        return {}
    if returns == "ALL_NEW":
        return {"Attributes": new}
    if returns == "ALL_OLD":
        return {"Attributes": old} if old else {}
    source = old if returns == "UPDATED_OLD" else new
    if not source:
        return {}
    picked = {n: v for n, v in source.items() if n in touched}
    return {"Attributes": picked} if picked else {}


# -- batches --------------------------------------------------------------------------------


async def batch_write_item(tables: Tables, params: Params) -> Params:
    requests = params.get("RequestItems")
    if not isinstance(requests, dict) or not requests:
        raise TableValidationError(
            "1 validation error detected: Value null at 'requestItems' failed to satisfy "
            "constraint: Member must not be null"
        )
    total = sum(len(v) for v in requests.values() if isinstance(v, list))
    if total > MAX_BATCH_WRITE:
        raise TableValidationError(
            "1 validation error detected: Value '{...}' at 'requestItems' failed to satisfy "
            "constraint: Map value must satisfy constraint: [Member must have length less than "
            "or equal to 25, Member must have length greater than or equal to 1]"
        )
    planned: list[tuple[LiveTable, list[tuple[Item, Item | None]]]] = []
    for name, entries in requests.items():
        table = tables.table(name)
        writes: list[tuple[Item, Item | None]] = []
        seen: set[tuple[str, str]] = set()
        for entry in entries:
            if "PutRequest" in entry:
                item = check_item(entry["PutRequest"].get("Item") or {})
                key = table.key_of(item, whole_item=True)
                check_size(item)
                writes.append((key, item))
            elif "DeleteRequest" in entry:
                key = table.key_of(check_item(entry["DeleteRequest"].get("Key") or {}, "Key"),
                                   whole_item=False)  # fmt: skip
                writes.append((key, None))
            else:
                raise TableValidationError(
                    "Supplied AttributeValue has more than one datatypes set, must contain "
                    "exactly one of the supported datatypes"
                )
            texts = table.key_texts(key)
            if texts in seen:
                raise TableValidationError("Provided list of item keys contains duplicates")
            seen.add(texts)
        planned.append((table, writes))
    groups: list[tuple[LiveTable, list[Change]]] = []
    for table, writes in planned:
        changes = []
        for key, new in writes:
            old = table.get(key)
            if old is None and new is None:
                continue
            changes.append(Change(key, old, new))
        if changes:
            groups.append((table, changes))
    if groups:
        await tables.commit_many(groups)
    return {"UnprocessedItems": {}}


async def batch_get_item(tables: Tables, params: Params) -> Params:
    requests = params.get("RequestItems")
    if not isinstance(requests, dict) or not requests:
        raise TableValidationError(
            "1 validation error detected: Value null at 'requestItems' failed to satisfy "
            "constraint: Member must not be null"
        )
    total = sum(len(v.get("Keys") or []) for v in requests.values() if isinstance(v, dict))
    if total > MAX_BATCH_GET:
        raise TableValidationError("Too many items requested for the BatchGetItem call")
    await tables.journal.settled()
    responses: dict[str, list[Item]] = {}
    for name, request in requests.items():
        table = tables.table(name)
        parser = parser_of(request)
        paths = projection_of(parser, request)
        found: list[Item] = []
        keys = [table.key_of(check_item(k, "Key"), whole_item=False) for k in request["Keys"]]
        for index, key in enumerate(keys):
            if any(all(equal(key[n], other[n]) for n in key) for other in keys[:index]):
                raise TableValidationError("Provided list of item keys contains duplicates")
            item = table.get(key)
            if item is not None:
                found.append(project(item, paths) if paths is not None else item)
        responses[name] = found
    return {"Responses": responses, "UnprocessedKeys": {}}
