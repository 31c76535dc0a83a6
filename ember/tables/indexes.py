"""Secondary indexes: global (any partition key) and local (the table's partition key,
another sort key), as CreateTable defines them and Query and Scan read them.

Ember keeps no separate index structure: an index read walks the table's items that have
the index's key attributes (DynamoDB leaves the others out of the index), ordered by the
index keys, and returns each as the index's projection shows it. Indexes are as consistent
as the table (AWS's global indexes are eventually consistent; Ember's never lag).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ember.tables.errors import TableValidationError
from ember.tables.values import INVALID, Item, item_size, key_text, sort_key

Params = dict[str, Any]
PROJECTIONS = ("ALL", "KEYS_ONLY", "INCLUDE")
MAX_GLOBAL = 20
MAX_LOCAL = 5


@dataclasses.dataclass(frozen=True, slots=True)
class IndexSpec:
    name: str
    hash_key: str
    range_key: str | None
    projection: str  # ALL | KEYS_ONLY | INCLUDE
    non_key: tuple[str, ...]  # NonKeyAttributes (INCLUDE)
    local: bool
    throughput: dict[str, int] | None = None  # a global index's ProvisionedThroughput

    def key_names(self) -> tuple[str, ...]:
        return (self.hash_key,) if self.range_key is None else (self.hash_key, self.range_key)

    def to_doc(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> IndexSpec:
        return cls(**{**doc, "non_key": tuple(doc["non_key"])})


def parse_indexes(
    params: Params, attributes: dict[str, str], hash_key: str, range_key: str | None
) -> dict[str, IndexSpec]:
    """CreateTable's GlobalSecondaryIndexes and LocalSecondaryIndexes, checked."""
    out: dict[str, IndexSpec] = {}
    for member, local in (("GlobalSecondaryIndexes", False), ("LocalSecondaryIndexes", True)):
        given = params.get(member) or []
        if len(given) > (MAX_LOCAL if local else MAX_GLOBAL):
            raise TableValidationError(
                f"{INVALID}{'Local' if local else 'Global'} Secondary Index count exceeds the "
                f"per-table limit of {MAX_LOCAL if local else MAX_GLOBAL}"
            )
        for entry in given:
            index = parse_index(entry, local, attributes)
            if index.name in out:
                raise TableValidationError(f"{INVALID}Duplicate index name: {index.name}")
            if local and (index.hash_key != hash_key or range_key is None):
                raise TableValidationError(
                    f"{INVALID}Index KeySchema does not have the same leading hash key as "
                    f"table KeySchema for index: {index.name}. index hash key: "
                    f"{index.hash_key}, table hash key: {hash_key}"
                    if range_key is not None
                    else f"{INVALID}Table KeySchema does not have a range key, which is "
                    "required when specifying a LocalSecondaryIndex"
                )
            out[index.name] = index
    return out


def parse_index(entry: Params, local: bool, attributes: dict[str, str]) -> IndexSpec:
    """One index definition (CreateTable's, or UpdateTable's Create), checked."""
    name = entry.get("IndexName")
    schema = entry.get("KeySchema") or []
    if not isinstance(name, str) or not name or not schema:
        raise TableValidationError(f"{INVALID}Index definition needs IndexName and KeySchema")
    kinds = [e.get("KeyType") for e in schema]
    names = [str(e.get("AttributeName")) for e in schema]
    if kinds[0] != "HASH" or (len(kinds) == 2 and kinds[1] != "RANGE") or len(kinds) > 2:
        raise TableValidationError(
            f"{INVALID}Invalid KeySchema: The first KeySchemaElement is not a HASH key type"
        )
    for key in names:
        if key not in attributes:
            raise TableValidationError(
                f"{INVALID}Some index key attributes are not defined in AttributeDefinitions. "
                f"Keys: [{', '.join(names)}], AttributeDefinitions: [{', '.join(attributes)}]"
            )
    projection = entry.get("Projection") or {}
    kind = projection.get("ProjectionType") or "ALL"
    if kind not in PROJECTIONS:
        raise TableValidationError(f"{INVALID}Unknown ProjectionType: {kind}")
    non_key = tuple(projection.get("NonKeyAttributes") or ())
    if non_key and kind != "INCLUDE":
        raise TableValidationError(
            f"{INVALID}ProjectionType is {kind}, but NonKeyAttributes is specified"
        )
    throughput = entry.get("ProvisionedThroughput")
    return IndexSpec(name, names[0], names[1] if len(names) == 2 else None, kind, non_key,
                     local, dict(throughput) if throughput else None)  # fmt: skip


def check_item_keys(indexes: dict[str, IndexSpec], attributes: dict[str, str], item: Item
                    ) -> None:  # fmt: skip
    """An item's index key attributes must have their defined types (absent is fine)."""
    for index in indexes.values():
        for name in index.key_names():
            value = item.get(name)
            if value is None:
                continue
            actual, expected = next(iter(value)), attributes.get(name)
            if actual != expected:
                raise TableValidationError(
                    f"{INVALID}Type mismatch for Index Key {name} Expected: {expected} "
                    f"Actual: {actual} IndexName: {index.name}"
                )


def ordering(index: IndexSpec, table_keys: tuple[str, ...]) -> Any:
    """The order an index keeps: its keys, then the table's (for a stable order)."""

    def order(item: Item) -> tuple[Any, ...]:
        parts: list[Any] = [key_text(item[index.hash_key])]
        if index.range_key is not None:
            parts.append(sort_key(item[index.range_key]))
        parts += [sort_key(item[k]) for k in table_keys]
        return tuple(parts)

    return order


def indexed(index: IndexSpec, items: list[Item], table_keys: tuple[str, ...]) -> list[Item]:
    """The items the index holds, in its order."""
    held = [i for i in items if all(k in i for k in index.key_names())]
    held.sort(key=ordering(index, table_keys))
    return held


def project_item(index: IndexSpec, table_keys: tuple[str, ...], item: Item) -> Item:
    """An item as the index projects it."""
    if index.projection == "ALL":
        return item
    keep = set(table_keys) | set(index.key_names())
    if index.projection == "INCLUDE":
        keep |= set(index.non_key)
    return {n: v for n, v in item.items() if n in keep}


def describe(indexes: dict[str, IndexSpec], table_arn: str, items: list[Item],
             table_keys: tuple[str, ...]) -> Params:  # fmt: skip
    """DescribeTable's GlobalSecondaryIndexes and LocalSecondaryIndexes members."""
    out: Params = {}
    for index in indexes.values():
        held = [i for i in items if all(k in i for k in index.key_names())]
        schema = [{"AttributeName": index.hash_key, "KeyType": "HASH"}]
        if index.range_key is not None:
            schema.append({"AttributeName": index.range_key, "KeyType": "RANGE"})
        projection: Params = {"ProjectionType": index.projection}
        if index.non_key:
            projection["NonKeyAttributes"] = list(index.non_key)
        doc: Params = {
            "IndexName": index.name,
            "KeySchema": schema,
            "Projection": projection,
            "IndexSizeBytes": sum(item_size(project_item(index, table_keys, i)) for i in held),
            "ItemCount": len(held),
            "IndexArn": f"{table_arn}/index/{index.name}",
        }
        if not index.local:
            doc["IndexStatus"] = "ACTIVE"
            throughput = index.throughput or {}
            doc["ProvisionedThroughput"] = {
                "NumberOfDecreasesToday": 0,
                "ReadCapacityUnits": throughput.get("ReadCapacityUnits", 0),
                "WriteCapacityUnits": throughput.get("WriteCapacityUnits", 0),
            }
        member = "LocalSecondaryIndexes" if index.local else "GlobalSecondaryIndexes"
        out.setdefault(member, []).append(doc)
    return out
