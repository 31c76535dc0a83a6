"""DynamoDB's transactions: TransactWriteItems (ConditionCheck, Put, Update, Delete on up to
100 items, all or nothing: one commit, stream records included) and TransactGetItems.

Every entry is checked and every condition evaluated before anything changes; one failed
condition cancels the whole transaction with AWS's CancellationReasons, one per entry.
ClientRequestToken is accepted; Ember does not replay answers by token.
"""

from __future__ import annotations

from typing import Any

from ember.tables.definitions import table_name
from ember.tables.errors import TableValidationError, TransactionCanceledError, constraint
from ember.tables.evaluation import apply_actions, evaluate, project
from ember.tables.items import check_size, condition_of, parser_of, projection_of
from ember.tables.service import Change, LiveTable, Tables
from ember.tables.values import Item, check_item

Params = dict[str, Any]
MAX_ITEMS = 100
_WRITE_KINDS = ("ConditionCheck", "Put", "Delete", "Update")
_NO_REASON = {"Code": "None"}


def _entries(params: Params, kinds: tuple[str, ...]) -> list[tuple[str, Params]]:
    given = params.get("TransactItems")
    if not isinstance(given, list) or not given:
        raise TableValidationError(
            "1 validation error detected: Value null at 'transactItems' failed to satisfy "
            "constraint: Member must not be null"
        )
    if len(given) > MAX_ITEMS:
        raise constraint(
            "[...]", "transactItems", "Member must have length less than or equal to 100"
        )
    out = []
    for entry in given:
        present = [k for k in kinds if isinstance(entry, dict) and k in entry]
        if len(present) != 1:
            raise TableValidationError(
                "TransactItems can only contain one of Check, Put, Update or Delete"
            )
        out.append((present[0], entry[present[0]]))
    return out


async def transact_write_items(tables: Tables, params: Params) -> Params:
    entries = _entries(params, _WRITE_KINDS)
    planned: list[tuple[LiveTable, Change | None]] = []
    reasons: list[dict[str, Any]] = []
    seen: set[tuple[str, str, str]] = set()
    for kind, request in entries:
        table = tables.table(table_name(request))
        if kind == "Put":
            new: Item | None = check_item(request.get("Item") or {})
            assert new is not None
            key = table.key_of(new, whole_item=True)
        else:
            key = table.key_of(check_item(request.get("Key") or {}, "Key"), whole_item=False)
        identity = (table.spec.name, *table.key_texts(key))
        if identity in seen:
            raise TableValidationError(
                "Transaction request cannot include multiple operations on one item"
            )
        seen.add(identity)
        parser = parser_of(request)
        actions = parser.update(request["UpdateExpression"]) if kind == "Update" else []
        if kind == "ConditionCheck" and request.get("ConditionExpression") is None:
            raise TableValidationError(
                "The ConditionExpression parameter is required for ConditionCheck"
            )
        condition = condition_of(parser, request)
        parser.check_all_used()
        old = table.get(key)
        if condition is not None and not evaluate(old or {}, condition):
            reason: dict[str, Any] = {
                "Code": "ConditionalCheckFailed",
                "Message": "The conditional request failed",
            }
            if request.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and old:
                reason["Item"] = old
            reasons.append(reason)
            planned.append((table, None))
            continue
        reasons.append(_NO_REASON)
        if kind == "ConditionCheck":
            planned.append((table, None))
            continue
        if kind == "Delete":
            new = None
        elif kind == "Update":
            new = apply_actions(old if old is not None else dict(key), actions)
        if new is not None:
            check_size(new)
        planned.append((table, Change(key, old, new) if (old or new) else None))
    if any(r is not _NO_REASON for r in reasons):
        raise TransactionCanceledError(reasons)
    groups: dict[str, tuple[LiveTable, list[Change]]] = {}
    for table, change in planned:
        if change is not None:
            groups.setdefault(table.spec.name, (table, []))[1].append(change)
    if groups:
        await tables.commit_many(list(groups.values()))
    return {}


async def transact_get_items(tables: Tables, params: Params) -> Params:
    entries = _entries(params, ("Get",))
    reads = []
    for _, request in entries:
        table = tables.table(table_name(request))
        key = table.key_of(check_item(request.get("Key") or {}, "Key"), whole_item=False)
        parser = parser_of(request)
        paths = projection_of(parser, request)
        parser.check_all_used()
        reads.append((table, key, paths))
    await tables.journal.settled()
    responses: list[Params] = []
    for table, key, paths in reads:
        item = table.get(key)
        if item is None:
            responses.append({})
        else:
            responses.append({"Item": project(item, paths) if paths is not None else item})
    return {"Responses": responses}
