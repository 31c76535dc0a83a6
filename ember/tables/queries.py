"""DynamoDB's Query and Scan: key conditions on the table's keys or an index's, sort-key
order either way, Limit and ExclusiveStartKey / LastEvaluatedKey paging, filters after the
limit (as DynamoDB applies them), projections, parallel scan segments."""

from __future__ import annotations

import zlib
from typing import Any, Protocol

from ember.tables.definitions import table_name
from ember.tables.errors import TableValidationError, constraint
from ember.tables.evaluation import evaluate, project
from ember.tables.expressions import Between, Compare, Condition, Const, Function, Logic, Path
from ember.tables.indexes import IndexSpec, indexed, ordering, project_item
from ember.tables.items import parser_of, projection_of
from ember.tables.service import LiveTable, Tables
from ember.tables.values import Item, check_item, equal, item_size, key_text, sort_key

Params = dict[str, Any]
MAX_PAGE_BYTES = 1024 * 1024


class KeyNames(Protocol):
    """A key schema: the table's (TableSpec) or an index's (IndexSpec)."""

    @property
    def hash_key(self) -> str: ...
    @property
    def range_key(self) -> str | None: ...
    def key_names(self) -> tuple[str, ...]: ...


def _key_conditions(keys: KeyNames, condition: Condition) -> tuple[Item, Condition | None]:
    """The partition key's value and the sort key's condition of a KeyConditionExpression
    (on the table's keys or an index's)."""
    parts: list[Condition] = []

    def flatten(node: Condition) -> None:
        if isinstance(node, Logic) and node.op == "AND":
            flatten(node.left)
            flatten(node.right)
        else:
            parts.append(node)

    flatten(condition)
    spec = keys
    partition: Item | None = None
    sort: Condition | None = None
    for part in parts:
        subject = _subject(part)
        if subject == spec.hash_key and isinstance(part, Compare) and part.op == "=" and \
                isinstance(part.right, Const):  # fmt: skip
            if partition is not None:
                raise TableValidationError(_KEY_INVALID)
            partition = {spec.hash_key: part.right.value}
        elif subject == spec.range_key and spec.range_key is not None and sort is None and \
                _sort_form(part):  # fmt: skip
            sort = part
        elif subject not in spec.key_names():
            raise TableValidationError(
                "Query condition missed key schema element: " + spec.hash_key
                if partition is None
                else f"Query condition missed key schema element: {spec.range_key}"
                if spec.range_key is not None and sort is None
                else _KEY_INVALID
            )
        else:
            raise TableValidationError(_KEY_INVALID)
    if partition is None:
        raise TableValidationError(f"Query condition missed key schema element: {spec.hash_key}")
    return partition, sort


_KEY_INVALID = "Query key condition not supported"


def _subject(part: Condition) -> str | None:
    target = None
    if isinstance(part, Compare | Between):
        target = part.left if isinstance(part, Compare) else part.subject
    elif isinstance(part, Function) and part.name == "begins_with":
        target = part.args[0]
    if isinstance(target, Path) and len(target.elements) == 1:
        return str(target.elements[0])
    return None


def _sort_form(part: Condition) -> bool:
    if isinstance(part, Compare):
        return part.op != "<>" and isinstance(part.right, Const)
    if isinstance(part, Between):
        return isinstance(part.low, Const) and isinstance(part.high, Const)
    return isinstance(part, Function) and isinstance(part.args[1], Const)


def _limit(params: Params) -> int | None:
    limit = params.get("Limit")
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise TableValidationError(
            f"1 validation error detected: Value '{limit}' at 'limit' failed to satisfy "
            "constraint: Member must have value greater than or equal to 1"
        )
    return limit


def _page(table: LiveTable, items: list[Item], params: Params, filt: Condition | None,
          paths: list[Path] | None, index: IndexSpec | None = None) -> Params:  # fmt: skip
    """Limit, ExclusiveStartKey and LastEvaluatedKey over items in their read order; the
    filter applies after the limit, as DynamoDB's does."""
    limit = _limit(params)
    start = params.get("ExclusiveStartKey")
    table_keys = table.spec.key_names()
    if start is not None:
        given = check_item(start, "ExclusiveStartKey")
        if index is None:
            start_key = table.key_of(given, whole_item=False)
        elif not all(n in given for n in (*table_keys, *index.key_names())):
            raise TableValidationError("The provided starting key is invalid")
        else:
            start_key = {n: given[n] for n in table_keys}
        texts = table.key_texts(start_key)
        for position, item in enumerate(items):
            if table.key_texts(item) == texts:
                items = items[position + 1 :]
                break
        else:
            if index is None:
                items = _after(table, items, start_key)
            else:  # the start item is gone: what sorts after it in the index
                order = ordering(index, table_keys)
                bound = order(given)
                forward = params.get("ScanIndexForward") is not False
                items = [i for i in items if (order(i) > bound) == forward]
    scanned: list[Item] = []
    size = 0
    last: Item | None = None
    for item in items:
        if (limit is not None and len(scanned) >= limit) or size > MAX_PAGE_BYTES:
            last = scanned[-1] if scanned else None
            break
        scanned.append(item)
        size += item_size(item)
    kept = [i for i in scanned if filt is None or evaluate(i, filt)]
    select = params.get("Select")
    out: Params = {"Count": len(kept), "ScannedCount": len(scanned)}
    if index is not None:
        kept = [project_item(index, table_keys, i) for i in kept]
    if select != "COUNT":
        out["Items"] = [project(i, paths) if paths is not None else i for i in kept]
    if last is not None:
        names = table_keys if index is None else (*table_keys, *index.key_names())
        out["LastEvaluatedKey"] = {n: last[n] for n in names}
    return out


def _after(table: LiveTable, items: list[Item], start: Item) -> list[Item]:
    """Items past a start key that no longer exists (by key order)."""
    spec = table.spec
    pk = key_text(start[spec.hash_key])
    if spec.range_key is None:
        return [i for i in items if key_text(i[spec.hash_key]) > pk]
    bound = sort_key(start[spec.range_key])
    return [
        i for i in items
        if key_text(i[spec.hash_key]) != pk or sort_key(i[spec.range_key]) > bound
    ]  # fmt: skip


async def query(tables: Tables, params: Params) -> Params:
    table = tables.table(table_name(params))
    index = _index_of(table, params)
    keys: KeyNames = table.spec if index is None else index
    parser = parser_of(params)
    text = params.get("KeyConditionExpression")
    if text is None:
        raise TableValidationError(
            "Either the KeyConditions or KeyConditionExpression parameter must be specified "
            "in the request."
        )
    partition, sort = _key_conditions(keys, parser.condition(text, "KeyConditionExpression"))
    filt_text = params.get("FilterExpression")
    filt = parser.condition(filt_text, "FilterExpression") if filt_text is not None else None
    paths = projection_of(parser, params)
    parser.check_all_used()
    ((name, value),) = partition.items()
    if next(iter(value)) != table.spec.attributes.get(name):
        raise TableValidationError(
            "One or more parameter values were invalid: Condition parameter type does not "
            "match schema type"
        )
    await tables.journal.settled()
    if index is None:
        items = table.partition(key_text(value))
    else:
        items = [
            i for i in indexed(index, list(table.all_items()), table.spec.key_names())
            if equal(i[name], value)
        ]  # fmt: skip
    if sort is not None:
        items = [i for i in items if evaluate(i, sort)]
    if params.get("ScanIndexForward") is False:
        items.reverse()
    return _page(table, items, params, filt, paths, index)


def _index_of(table: LiveTable, params: Params) -> IndexSpec | None:
    name = params.get("IndexName")
    if name is None:
        return None
    index = table.indexes.get(name)
    if index is None:
        raise TableValidationError(f"The table does not have the specified index: {name}")
    return index


async def scan(tables: Tables, params: Params) -> Params:
    table = tables.table(table_name(params))
    parser = parser_of(params)
    filt_text = params.get("FilterExpression")
    filt = parser.condition(filt_text, "FilterExpression") if filt_text is not None else None
    paths = projection_of(parser, params)
    parser.check_all_used()
    segment, total = _segment(params)
    index = _index_of(table, params)
    await tables.journal.settled()
    items = list(table.all_items())
    if index is not None:
        items = indexed(index, items, table.spec.key_names())
    if total > 1:  # a parallel scan: each segment takes the partitions that hash to it
        name = table.spec.hash_key
        items = [i for i in items if zlib.crc32(key_text(i[name]).encode()) % total == segment]
    return _page(table, items, params, filt, paths, index)


def _segment(params: Params) -> tuple[int, int]:
    """(Segment, TotalSegments) of a parallel scan; (0, 1) for a whole one."""
    segment, total = params.get("Segment"), params.get("TotalSegments")
    if segment is None and total is None:
        return 0, 1
    if segment is None or total is None:
        missing = "Segment" if segment is None else "TotalSegments"
        present = "TotalSegments" if segment is None else "Segment"
        raise TableValidationError(
            f"The {missing} parameter is required but was not present in the request when "
            f"parameter {present} is present"
        )
    if not isinstance(total, int) or not 1 <= total <= 1_000_000:
        raise constraint(total, "totalSegments", "Member must have value less than or equal "
                         "to 1000000")  # fmt: skip
    if not isinstance(segment, int) or not 0 <= segment < total:
        raise TableValidationError(
            f"The Segment parameter is zero-based and must be less than parameter "
            f"TotalSegments: Segment: {segment} is not less than TotalSegments: {total}"
        )
    return segment, total
