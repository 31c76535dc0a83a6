"""The table service on a manual clock (no sockets: the in-process API and the operation
handlers): a change and its stream record commit together, records become readable only
then, a restart reads both back, retention trims records, and the table stream looks to
the shard poller like a one-shard stream with durable checkpoints."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from ember.clock import ManualClock
from ember.sources.dynamodb import TableShards, dynamodb_record, failure_record, source_facts
from ember.tables import Tables
from ember.tables.definitions import create_table, update_table, update_time_to_live
from ember.tables.errors import ConditionalCheckFailedError
from ember.tables.items import get_item, put_item, update_item
from ember.tables.streams import RETENTION

TABLE = {
    "TableName": "orders",
    "BillingMode": "PAY_PER_REQUEST",
    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
    "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
}


@asynccontextmanager
async def running(path: Path, clock: ManualClock) -> AsyncIterator[Tables]:
    tables = Tables(path, clock, region="us-east-1", account="000000000000")
    task = asyncio.create_task(tables.journal.run())
    try:
        yield tables
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        tables.close()


def run(check: Callable[[Tables, ManualClock], Awaitable[None]], path: Path) -> None:
    async def main() -> None:
        clock = ManualClock()
        async with running(path, clock) as tables:
            await check(tables, clock)

    asyncio.run(main())


def put(pk: str, **extra: Any) -> dict[str, Any]:
    return {"TableName": "orders", "Item": {"pk": {"S": pk}, "n": {"N": "1"}}, **extra}


def test_records_are_readable_once_committed_and_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "tables.db"
    arns: list[str] = []

    async def first(tables: Tables, clock: ManualClock) -> None:
        arn = (await create_table(tables, TABLE))["TableDescription"]["LatestStreamArn"]
        arns.append(arn)
        stream = tables.stream(arn)
        assert stream is not None
        pending = asyncio.create_task(put_item(tables, put("a")))
        await asyncio.sleep(0)  # applied in memory, not yet committed
        assert tables.table("orders").get({"pk": {"S": "a"}}) is not None
        assert stream.records == []
        await pending
        assert [r.doc["eventName"] for r in stream.records] == ["INSERT"]
        with pytest.raises(ConditionalCheckFailedError):
            await put_item(tables, put("a", ConditionExpression="attribute_not_exists(pk)"))
        await update_item(
            tables,
            {
                "TableName": "orders",
                "Key": {"pk": {"S": "a"}},
                "UpdateExpression": "SET n = n + :one",
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            },
        )
        assert [r.doc["eventName"] for r in stream.records] == ["INSERT", "MODIFY"]

    async def second(tables: Tables, clock: ManualClock) -> None:
        stream = tables.stream(arns[0])
        assert stream is not None
        assert [r.doc["eventName"] for r in stream.records] == ["INSERT", "MODIFY"]
        assert tables.table("orders").get({"pk": {"S": "a"}}) == {"pk": {"S": "a"}, "n": {"N": "2"}}
        await put_item(tables, put("b"))
        seqs = [r.seq for r in stream.records]
        assert seqs == sorted(seqs)
        assert len(set(seqs)) == 3

    run(first, path)
    run(second, path)


def test_retention_trims_old_records(tmp_path: Path) -> None:
    async def check(tables: Tables, clock: ManualClock) -> None:
        arn = (await create_table(tables, TABLE))["TableDescription"]["LatestStreamArn"]
        await put_item(tables, put("old"))
        clock.advance(RETENTION + 1)
        await put_item(tables, put("new"))
        await tables.sweep()
        stream = tables.stream(arn)
        assert stream is not None
        assert [r.doc["dynamodb"]["Keys"]["pk"]["S"] for r in stream.records] == ["new"]
        assert stream.horizon() == stream.records[0].seq - 1

    run(check, tmp_path / "tables.db")


def test_the_table_stream_as_the_shard_poller_reads_it(tmp_path: Path) -> None:
    async def check(tables: Tables, clock: ManualClock) -> None:
        arn = (await create_table(tables, TABLE))["TableDescription"]["LatestStreamArn"]
        assert source_facts(tables, arn) is not None
        assert source_facts(tables, arn + "x") is None
        shards = TableShards(tables, clock)
        state = shards.find(arn)
        assert state is not None
        assert [s.index for s in state.shards] == [0]
        start = state.shards[0].last_position()
        for pk in ("a", "b", "a"):
            await put_item(tables, put(pk))
        assert len(shards.read(state, 0, start, 10)) == 2  # a put that changes nothing: none
        await put_item(tables, {"TableName": "orders", "Item": {"pk": {"S": "a"}}})
        records = shards.read(state, 0, start, 10)
        assert len(records) == 3
        assert records[0].key == records[2].key != records[1].key  # one lane per item key
        event = shards.event(state, 0, records[0], role="", region="us-east-1")
        assert event == dynamodb_record(arn, records[0].doc)
        assert event["eventSourceARN"] == arn
        assert shards.checkpoints("mapping-1", state) == {}
        await shards.save_checkpoint("mapping-1", state, 0, records[1].position)
        assert shards.checkpoints("mapping-1", state) == {0: records[1].position}
        assert [r.position for r in shards.read(state, 0, records[1].position, 10)] == [
            records[2].position
        ]
        failure = failure_record(
            state,
            records[:2],
            condition="RetryAttemptsExhausted",
            request_id="r",
            function_arn="f",
            invocations=3,
            response=(200, "$LATEST", "Unhandled"),
            now=clock.wall(),
        )
        info = failure["DDBStreamBatchInfo"]
        assert info["batchSize"] == 2
        assert info["streamArn"] == arn
        assert info["shardId"] == state.shards[0].id
        await update_table(
            tables, {"TableName": "orders", "StreamSpecification": {"StreamEnabled": False}}
        )
        assert source_facts(tables, arn) is None  # a disabled stream takes no new mapping

    run(check, tmp_path / "tables.db")


def test_reads_wait_for_writes_in_flight_to_be_durable(tmp_path: Path) -> None:
    async def check(tables: Tables, clock: ManualClock) -> None:
        await create_table(tables, TABLE)
        commits = tables.journal.commits
        writing = asyncio.create_task(put_item(tables, put("a")))
        await asyncio.sleep(0)  # in memory now, its commit not yet over
        found = await get_item(tables, {"TableName": "orders", "Key": {"pk": {"S": "a"}}})
        assert found["Item"]["pk"] == {"S": "a"}
        assert tables.journal.commits > commits  # the read waited for the commit
        await writing

    run(check, tmp_path / "tables.db")


def test_time_to_live_deletes_expired_items_with_a_service_record(tmp_path: Path) -> None:
    async def check(tables: Tables, clock: ManualClock) -> None:
        arn = (await create_table(tables, TABLE))["TableDescription"]["LatestStreamArn"]
        await update_time_to_live(
            tables,
            {
                "TableName": "orders",
                "TimeToLiveSpecification": {"Enabled": True, "AttributeName": "expires"},
            },
        )
        now = clock.wall()
        for pk, expires in (
            ("old", now - 10),
            ("new", now + 3600),
            ("ancient", now - 6 * 365 * 86400),
        ):
            await put_item(
                tables,
                {
                    "TableName": "orders",
                    "Item": {"pk": {"S": pk}, "expires": {"N": str(int(expires))}},
                },
            )
        await put_item(tables, {"TableName": "orders", "Item": {"pk": {"S": "none"}}})
        await tables.expire()
        left = {i["pk"]["S"] for i in tables.table("orders").all_items()}
        assert left == {"new", "ancient", "none"}
        stream = tables.stream(arn)
        assert stream is not None
        removed = stream.records[-1].doc
        assert removed["eventName"] == "REMOVE"
        assert removed["userIdentity"] == {
            "PrincipalId": "dynamodb.amazonaws.com",
            "Type": "Service",
        }
        event = dynamodb_record(arn, removed)  # Lambda's event spells it in lower case
        assert event["userIdentity"] == {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
        assert "userIdentity" not in stream.records[0].doc

    run(check, tmp_path / "tables.db")
