"""DynamoDB-compatible tables, driven by boto3's `dynamodb` client and resource API and the
AWS CLI against a real `ember serve`: tables, items, expressions, Query, batches, AWS's
errors (nothing changed after a refusal), and durability across a SIGKILL."""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from tests.e2e.harness import Server, aws_cli, create_key, run_server, wait_until

pytestmark = pytest.mark.e2e

KEYS = {
    "KeySchema": [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ],
    "AttributeDefinitions": [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "N"},
    ],
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with run_server(tmp_path_factory.mktemp("tables") / "data", "--isolation", "none") as srv:
        yield srv


@pytest.fixture(scope="module")
def ddb(server: Server) -> Any:
    return server.client("dynamodb")


def resource(server: Server) -> Any:
    return boto3.resource(
        "dynamodb",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def make_table(ddb: Any, name: str, **extra: Any) -> dict[str, Any]:
    answer = ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST", **KEYS, **extra)
    ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1})
    return answer["TableDescription"]  # type: ignore[no-any-return]


def error(call: Any, **kwargs: Any) -> dict[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response["Error"]  # type: ignore[no-any-return]


def test_table_lifecycle(ddb: Any) -> None:
    created = make_table(ddb, "lifecycle")
    assert created["TableStatus"] == "CREATING"
    assert created["TableArn"] == "arn:aws:dynamodb:us-east-1:000000000000:table/lifecycle"
    described = ddb.describe_table(TableName="lifecycle")["Table"]
    assert described["TableStatus"] == "ACTIVE"
    assert described["KeySchema"] == KEYS["KeySchema"]
    assert described["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert "lifecycle" in ddb.list_tables()["TableNames"]
    again = error(ddb.create_table, TableName="lifecycle", BillingMode="PAY_PER_REQUEST", **KEYS)
    assert again == {"Code": "ResourceInUseException", "Message": "Table already exists: lifecycle"}
    ddb.delete_table(TableName="lifecycle")
    gone = error(ddb.describe_table, TableName="lifecycle")
    assert gone["Code"] == "ResourceNotFoundException"
    assert gone["Message"] == "Requested resource not found: Table: lifecycle not found"


def test_list_tables_pages(ddb: Any) -> None:
    for i in range(3):
        ddb.create_table(TableName=f"page-{i}", BillingMode="PAY_PER_REQUEST", **KEYS)
    first = ddb.list_tables(ExclusiveStartTableName="page-", Limit=2)
    assert first["TableNames"] == ["page-0", "page-1"]
    assert first["LastEvaluatedTableName"] == "page-1"
    names = [
        n
        for page in ddb.get_paginator("list_tables").paginate(PaginationConfig={"PageSize": 1})
        for n in page["TableNames"]
    ]
    assert {"page-0", "page-1", "page-2"} <= set(names)


def test_items_with_the_client(ddb: Any) -> None:
    make_table(ddb, "items")
    item = {
        "pk": {"S": "a"},
        "sk": {"N": "1"},
        "price": {"N": "1.50"},
        "tags": {"SS": ["x"]},
        "doc": {"M": {"l": {"L": [{"BOOL": True}, {"NULL": True}, {"B": b"\x00\x01"}]}}},
    }
    assert "Attributes" not in ddb.put_item(TableName="items", Item=item)
    got = ddb.get_item(
        TableName="items", Key={"pk": {"S": "a"}, "sk": {"N": "1"}}, ConsistentRead=True
    )["Item"]
    assert got["price"] == {"N": "1.5"}  # stored canonical, as DynamoDB does
    assert got["doc"]["M"]["l"]["L"][2] == {"B": b"\x00\x01"}
    projected = ddb.get_item(
        TableName="items",
        Key={"pk": {"S": "a"}, "sk": {"N": "1"}},
        ProjectionExpression="#p",
        ExpressionAttributeNames={"#p": "price"},
    )
    assert projected["Item"] == {"price": {"N": "1.5"}}
    updated = ddb.update_item(
        TableName="items",
        Key={"pk": {"S": "a"}, "sk": {"N": "1"}},
        UpdateExpression="SET price = price + :d, hits = if_not_exists(hits, :z) + :one, "
        "log = list_append(if_not_exists(log, :empty), :entry) REMOVE doc ADD tags :y",
        ConditionExpression="attribute_exists(pk) AND price BETWEEN :lo AND :hi",
        ExpressionAttributeValues={
            ":d": {"N": "0.25"},
            ":z": {"N": "0"},
            ":one": {"N": "1"},
            ":empty": {"L": []},
            ":entry": {"L": [{"S": "e1"}]},
            ":y": {"SS": ["y"]},
            ":lo": {"N": "1"},
            ":hi": {"N": "2"},
        },
        ReturnValues="UPDATED_NEW",
    )["Attributes"]
    assert updated["price"] == {"N": "1.75"}
    assert updated["hits"] == {"N": "1"}
    assert updated["log"] == {"L": [{"S": "e1"}]}
    assert sorted(updated["tags"]["SS"]) == ["x", "y"]
    assert "doc" not in updated
    old = ddb.delete_item(
        TableName="items", Key={"pk": {"S": "a"}, "sk": {"N": "1"}}, ReturnValues="ALL_OLD"
    )["Attributes"]
    assert old["price"] == {"N": "1.75"}
    assert "Item" not in ddb.get_item(TableName="items", Key={"pk": {"S": "a"}, "sk": {"N": "1"}})


def test_refusals_change_nothing(ddb: Any) -> None:
    make_table(ddb, "refusals")
    key = {"pk": {"S": "k"}, "sk": {"N": "1"}}
    ddb.put_item(TableName="refusals", Item={**key, "v": {"N": "1"}})
    failed = error(
        ddb.put_item,
        TableName="refusals",
        Item={**key, "v": {"N": "2"}},
        ConditionExpression="attribute_not_exists(pk)",
    )
    assert failed == {
        "Code": "ConditionalCheckFailedException",
        "Message": "The conditional request failed",
    }
    failed_update = error(
        ddb.update_item,
        TableName="refusals",
        Key=key,
        UpdateExpression="SET v = :two",
        ConditionExpression="v > :five",
        ExpressionAttributeValues={":two": {"N": "2"}, ":five": {"N": "5"}},
    )
    assert failed_update["Code"] == "ConditionalCheckFailedException"
    mismatch = error(ddb.get_item, TableName="refusals", Key={"pk": {"S": "k"}})
    assert mismatch == {
        "Code": "ValidationException",
        "Message": "The provided key element does not match the schema",
    }
    empty = error(ddb.put_item, TableName="refusals", Item={"pk": {"S": ""}, "sk": {"N": "1"}})
    assert empty["Message"] == (
        "One or more parameter values are not valid. The AttributeValue for a key attribute "
        "cannot contain an empty string value. Key: pk"
    )
    wrong_type = error(
        ddb.put_item, TableName="refusals", Item={"pk": {"S": "k"}, "sk": {"S": "1"}}
    )
    assert wrong_type["Message"] == (
        "One or more parameter values were invalid: Type mismatch for key sk expected: N actual: S"
    )
    bad_expr = error(
        ddb.update_item,
        TableName="refusals",
        Key=key,
        UpdateExpression="SET v = = :x",
        ExpressionAttributeValues={":x": {"N": "1"}},
    )
    assert bad_expr["Code"] == "ValidationException"
    assert bad_expr["Message"].startswith("Invalid UpdateExpression: Syntax error; token:")
    key_update = error(
        ddb.update_item,
        TableName="refusals",
        Key=key,
        UpdateExpression="SET pk = :x",
        ExpressionAttributeValues={":x": {"S": "z"}},
    )
    assert "This attribute is part of the key" in key_update["Message"]
    too_big = error(
        ddb.put_item, TableName="refusals", Item={**key, "blob": {"S": "x" * (400 * 1024)}}
    )
    assert too_big["Message"] == "Item size has exceeded the maximum allowed size"
    long_key = error(
        ddb.put_item, TableName="refusals", Item={"pk": {"S": "k" * 2049}, "sk": {"N": "1"}}
    )
    assert (
        "Size of hashkey has exceeded the maximum size limit of 2048 bytes" in long_key["Message"]
    )
    missing = error(ddb.put_item, TableName="nope-table", Item=key)
    assert missing["Code"] == "ResourceNotFoundException"
    assert ddb.get_item(TableName="refusals", Key=key)["Item"]["v"] == {"N": "1"}


def test_query_scan_and_batches(ddb: Any) -> None:
    make_table(ddb, "query")
    writes = [
        {
            "PutRequest": {
                "Item": {"pk": {"S": "p"}, "sk": {"N": str(i)}, "even": {"BOOL": i % 2 == 0}}
            }
        }
        for i in range(20)
    ]
    ddb.batch_write_item(RequestItems={"query": writes[:10]})
    ddb.batch_write_item(RequestItems={"query": writes[10:]})
    over = error(ddb.batch_write_item, RequestItems={"query": writes + writes[:6]})
    assert over["Code"] == "ValidationException"
    found = ddb.query(
        TableName="query",
        KeyConditionExpression="pk = :p AND sk BETWEEN :a AND :b",
        ExpressionAttributeValues={":p": {"S": "p"}, ":a": {"N": "5"}, ":b": {"N": "12"}},
        ScanIndexForward=False,
    )
    assert [i["sk"]["N"] for i in found["Items"]] == [str(i) for i in range(12, 4, -1)]
    seen, start = [], None
    while True:
        extra: dict[str, Any] = {"ExclusiveStartKey": start} if start else {}
        page = ddb.query(
            TableName="query",
            KeyConditionExpression="pk = :p AND sk >= :a",
            ExpressionAttributeValues={":p": {"S": "p"}, ":a": {"N": "10"}},
            Limit=4,
            **extra,
        )
        seen += [int(i["sk"]["N"]) for i in page["Items"]]
        start = page.get("LastEvaluatedKey")
        if not start:
            break
    assert seen == list(range(10, 20))
    filtered = ddb.query(
        TableName="query",
        KeyConditionExpression="pk = :p",
        FilterExpression="even = :t",
        ExpressionAttributeValues={":p": {"S": "p"}, ":t": {"BOOL": True}},
    )
    assert filtered["Count"] == 10
    assert filtered["ScannedCount"] == 20
    scanned = ddb.scan(
        TableName="query",
        FilterExpression="sk < :three",
        ExpressionAttributeValues={":three": {"N": "3"}},
    )
    assert sorted(int(i["sk"]["N"]) for i in scanned["Items"]) == [0, 1, 2]
    got = ddb.batch_get_item(
        RequestItems={
            "query": {
                "Keys": [
                    {"pk": {"S": "p"}, "sk": {"N": "1"}},
                    {"pk": {"S": "p"}, "sk": {"N": "99"}},
                ]
            }
        }
    )
    assert [i["sk"]["N"] for i in got["Responses"]["query"]] == ["1"]
    begins = error(
        ddb.query,
        TableName="query",
        KeyConditionExpression="sk = :a",
        ExpressionAttributeValues={":a": {"N": "1"}},
    )
    assert begins["Message"] == "Query condition missed key schema element: pk"


def test_parallel_scan_segments_cover_the_table_once(ddb: Any) -> None:
    make_table(ddb, "segments")
    with_keys = [
        {"PutRequest": {"Item": {"pk": {"S": f"p{i}"}, "sk": {"N": "0"}}}} for i in range(25)
    ]
    ddb.batch_write_item(RequestItems={"segments": with_keys})
    seen: list[str] = []
    for segment in range(4):
        for page in ddb.get_paginator("scan").paginate(
            TableName="segments", Segment=segment, TotalSegments=4, PaginationConfig={"PageSize": 3}
        ):
            seen += [i["pk"]["S"] for i in page["Items"]]
    assert sorted(seen) == sorted(f"p{i}" for i in range(25))
    bad = error(ddb.scan, TableName="segments", Segment=4, TotalSegments=4)
    assert bad["Code"] == "ValidationException"


def test_secondary_indexes(ddb: Any) -> None:
    ddb.create_table(
        TableName="indexed",
        BillingMode="PAY_PER_REQUEST",
        KeySchema=KEYS["KeySchema"],
        AttributeDefinitions=[
            *KEYS["AttributeDefinitions"],
            {"AttributeName": "status", "AttributeType": "S"},
            {"AttributeName": "at", "AttributeType": "N"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-status",
                "KeySchema": [
                    {"AttributeName": "status", "KeyType": "HASH"},
                    {"AttributeName": "at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
        LocalSecondaryIndexes=[
            {
                "IndexName": "by-at",
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["note"]},
            }
        ],
    )
    rows = [("u1", 1, "open", 30), ("u1", 2, "done", 10), ("u2", 1, "open", 20), ("u2", 2, None, 5)]
    for pk, sk, status, at in rows:
        item = {
            "pk": {"S": pk},
            "sk": {"N": str(sk)},
            "at": {"N": str(at)},
            "note": {"S": "n"},
            "extra": {"S": "x"},
        }
        if status:
            item["status"] = {"S": status}
        ddb.put_item(TableName="indexed", Item=item)
    described = ddb.describe_table(TableName="indexed")["Table"]
    assert described["GlobalSecondaryIndexes"][0]["IndexStatus"] == "ACTIVE"
    assert described["GlobalSecondaryIndexes"][0]["ItemCount"] == 3  # one has no status
    assert described["LocalSecondaryIndexes"][0]["IndexName"] == "by-at"
    open_items = ddb.query(
        TableName="indexed",
        IndexName="by-status",
        KeyConditionExpression="#s = :open",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":open": {"S": "open"}},
    )["Items"]
    assert [(i["pk"]["S"], i["at"]["N"]) for i in open_items] == [("u2", "20"), ("u1", "30")]
    assert "note" not in open_items[0]  # KEYS_ONLY
    pages, start = [], None
    while True:
        extra: dict[str, Any] = {"ExclusiveStartKey": start} if start else {}
        page = ddb.query(
            TableName="indexed",
            IndexName="by-at",
            Limit=1,
            KeyConditionExpression="pk = :u AND #a > :zero",
            ExpressionAttributeNames={"#a": "at"},
            ExpressionAttributeValues={":u": {"S": "u1"}, ":zero": {"N": "0"}},
            ScanIndexForward=False,
            **extra,
        )
        pages += page["Items"]
        start = page.get("LastEvaluatedKey")
        if not start:
            break
    assert [i["at"]["N"] for i in pages] == ["30", "10"]
    assert set(pages[0]) == {"pk", "sk", "at", "note"}  # INCLUDE note
    scanned = ddb.scan(TableName="indexed", IndexName="by-status")["Items"]
    assert len(scanned) == 3
    mismatch = error(
        ddb.put_item,
        TableName="indexed",
        Item={"pk": {"S": "u3"}, "sk": {"N": "1"}, "status": {"N": "1"}},
    )
    assert "Type mismatch for Index Key status Expected: S Actual: N" in mismatch["Message"]
    missing = error(
        ddb.query,
        TableName="indexed",
        IndexName="nope",
        KeyConditionExpression="pk = :u",
        ExpressionAttributeValues={":u": {"S": "u"}},
    )
    assert missing["Message"] == "The table does not have the specified index: nope"
    ddb.update_table(
        TableName="indexed",
        AttributeDefinitions=[{"AttributeName": "note", "AttributeType": "S"}],
        GlobalSecondaryIndexUpdates=[
            {
                "Create": {
                    "IndexName": "by-note",
                    "Projection": {"ProjectionType": "ALL"},
                    "KeySchema": [{"AttributeName": "note", "KeyType": "HASH"}],
                }
            },
            {"Delete": {"IndexName": "by-status"}},
        ],
    )
    table = ddb.describe_table(TableName="indexed")["Table"]
    assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == ["by-note"]
    assert table["GlobalSecondaryIndexes"][0]["ItemCount"] == 4
    gone = error(
        ddb.query,
        TableName="indexed",
        IndexName="by-status",
        KeyConditionExpression="#s = :o",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":o": {"S": "open"}},
    )
    assert gone["Code"] == "ValidationException"


def test_resource_api(server: Server, ddb: Any) -> None:
    make_table(ddb, "resource")
    table = resource(server).Table("resource")
    table.put_item(
        Item={
            "pk": "u1",
            "sk": 1,
            "name": "Ada",
            "score": Decimal("9.5"),
            "nested": {"list": [1, "two"], "set": {"a", "b"}},
        }
    )
    table.put_item(Item={"pk": "u1", "sk": 2, "name": "Bob"})
    item = table.get_item(Key={"pk": "u1", "sk": 1})["Item"]
    assert item["name"] == "Ada"
    assert item["score"] == Decimal("9.5")
    assert item["nested"]["set"] == {"a", "b"}
    answer = table.query(KeyConditionExpression=Key("pk").eq("u1") & Key("sk").gt(1))
    assert [i["name"] for i in answer["Items"]] == ["Bob"]
    table.update_item(
        Key={"pk": "u1", "sk": 2},
        UpdateExpression="ADD visits :one",
        ExpressionAttributeValues={":one": 1},
    )
    scan = table.scan(FilterExpression=Attr("visits").exists())
    assert [i["sk"] for i in scan["Items"]] == [2]
    with table.batch_writer() as batch:
        for i in range(30):
            batch.put_item(Item={"pk": "many", "sk": i})
    assert table.query(KeyConditionExpression=Key("pk").eq("many"), Select="COUNT")["Count"] == 30


def test_aws_cli(server: Server, ddb: Any) -> None:
    make_table(ddb, "cli")
    aws_cli(
        server.endpoint,
        "dynamodb",
        "put-item",
        "--table-name",
        "cli",
        "--item",
        json.dumps({"pk": {"S": "c"}, "sk": {"N": "7"}, "v": {"S": "cli"}}),
    )
    out = aws_cli(
        server.endpoint,
        "dynamodb",
        "get-item",
        "--table-name",
        "cli",
        "--key",
        json.dumps({"pk": {"S": "c"}, "sk": {"N": "7"}}),
    )
    assert json.loads(out.stdout)["Item"]["v"] == {"S": "cli"}
    refused = aws_cli(
        server.endpoint, "dynamodb", "describe-table", "--table-name", "none-such", check=False
    )
    assert refused.returncode != 0
    assert "ResourceNotFoundException" in refused.stderr


def test_concurrent_conditional_writes_admit_one(ddb: Any) -> None:
    make_table(ddb, "race")
    wins: list[int] = []
    refusals: list[str] = []

    def claim(worker: int) -> None:
        try:
            ddb.put_item(
                TableName="race",
                Item={"pk": {"S": "lock"}, "sk": {"N": "0"}, "owner": {"N": str(worker)}},
                ConditionExpression="attribute_not_exists(pk)",
            )
            wins.append(worker)
        except ClientError as exc:
            refusals.append(exc.response["Error"]["Code"])

    threads = [threading.Thread(target=claim, args=(w,)) for w in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1
    assert refusals == ["ConditionalCheckFailedException"] * 15


def test_items_survive_sigkill(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with run_server(data, "--isolation", "none") as srv:
        ddb = srv.client("dynamodb")
        make_table(
            ddb,
            "durable",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        )
        for i in range(50):
            ddb.put_item(TableName="durable", Item={"pk": {"S": "d"}, "sk": {"N": str(i)}})
        ddb.update_item(
            TableName="durable",
            Key={"pk": {"S": "d"}, "sk": {"N": "0"}},
            UpdateExpression="SET v = :v",
            ExpressionAttributeValues={":v": {"S": "x"}},
        )
        srv.process.send_signal(signal.SIGKILL)
        srv.process.wait()
    with run_server(data, "--isolation", "none") as srv:
        ddb = srv.client("dynamodb")
        items = ddb.query(
            TableName="durable",
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": "d"}},
        )["Items"]
        assert len(items) == 50
        assert items[0]["v"] == {"S": "x"}
        assert ddb.describe_table(TableName="durable")["Table"]["ItemCount"] == 50
        streams = srv.client("dynamodbstreams")
        arn = ddb.describe_table(TableName="durable")["Table"]["LatestStreamArn"]
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records = streams.get_records(ShardIterator=iterator)["Records"]
        assert [r["eventName"] for r in records] == ["INSERT"] * 50 + ["MODIFY"]


def test_concurrent_writes_killed_midway_keep_item_and_record_together(tmp_path: Path) -> None:
    """Writers in 8 threads; SIGKILL while they write. After the restart every acknowledged
    item is there, and the stream holds exactly one INSERT per stored item: no change
    without its record, no record without its change."""
    data = tmp_path / "data"
    acknowledged: list[str] = []
    lock = threading.Lock()
    with run_server(data, "--isolation", "none") as srv:
        ddb = srv.client("dynamodb")
        make_table(
            ddb,
            "killed",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
        )
        stop = threading.Event()

        def writer(worker: int) -> None:
            client = srv.client("dynamodb")
            for i in range(100_000):
                if stop.is_set():
                    return
                key = f"w{worker}-{i}"
                try:
                    client.put_item(TableName="killed", Item={"pk": {"S": key}, "sk": {"N": "0"}})
                except Exception:
                    return  # the server is gone
                with lock:
                    acknowledged.append(key)

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
        for t in threads:
            t.start()
        wait_until(lambda: len(acknowledged) >= 400, limit=60)
        srv.process.send_signal(signal.SIGKILL)
        srv.process.wait()
        stop.set()
        for t in threads:
            t.join()
    with run_server(data, "--isolation", "none") as srv:
        ddb = srv.client("dynamodb")
        stored: set[str] = set()
        for page in ddb.get_paginator("scan").paginate(TableName="killed"):
            stored |= {i["pk"]["S"] for i in page["Items"]}
        assert set(acknowledged) <= stored
        streams = srv.client("dynamodbstreams")
        arn = ddb.describe_table(TableName="killed")["Table"]["LatestStreamArn"]
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        keys: list[str] = []
        while True:
            page = streams.get_records(ShardIterator=iterator, Limit=1000)
            keys += [r["dynamodb"]["Keys"]["pk"]["S"] for r in page["Records"]]
            if not page["Records"]:
                break
            iterator = page["NextShardIterator"]
        assert sorted(keys) == sorted(stored)


def test_transactions_are_all_or_nothing(ddb: Any) -> None:
    make_table(
        ddb, "accounts", StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    )
    for name, balance in (("alice", "100"), ("bob", "0")):
        ddb.put_item(
            TableName="accounts",
            Item={"pk": {"S": name}, "sk": {"N": "0"}, "balance": {"N": balance}},
        )

    def transfer(amount: str) -> dict[str, Any]:
        return {
            "TransactItems": [
                {
                    "Update": {
                        "TableName": "accounts",
                        "Key": {"pk": {"S": "alice"}, "sk": {"N": "0"}},
                        "UpdateExpression": "SET balance = balance - :a",
                        "ConditionExpression": "balance >= :a",
                        "ExpressionAttributeValues": {":a": {"N": amount}},
                    }
                },
                {
                    "Update": {
                        "TableName": "accounts",
                        "Key": {"pk": {"S": "bob"}, "sk": {"N": "0"}},
                        "UpdateExpression": "SET balance = balance + :a",
                        "ExpressionAttributeValues": {":a": {"N": amount}},
                    }
                },
            ]
        }

    ddb.transact_write_items(**transfer("60"))
    with pytest.raises(ClientError) as refused:
        ddb.transact_write_items(**transfer("60"))
    response = refused.value.response
    assert response["Error"]["Code"] == "TransactionCanceledException"
    assert response["CancellationReasons"] == [
        {"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"},
        {"Code": "None"},
    ]
    got = ddb.transact_get_items(
        TransactItems=[
            {"Get": {"TableName": "accounts", "Key": {"pk": {"S": n}, "sk": {"N": "0"}}}}
            for n in ("alice", "bob", "carol")
        ]
    )["Responses"]
    assert [r.get("Item", {}).get("balance") for r in got] == [{"N": "40"}, {"N": "60"}, None]
    twice = error(
        ddb.transact_write_items,
        TransactItems=[
            {
                "ConditionCheck": {
                    "TableName": "accounts",
                    "Key": {"pk": {"S": "bob"}, "sk": {"N": "0"}},
                    "ConditionExpression": "attribute_exists(pk)",
                }
            },
            {"Delete": {"TableName": "accounts", "Key": {"pk": {"S": "bob"}, "sk": {"N": "0"}}}},
        ],
    )
    assert twice["Message"] == "Transaction request cannot include multiple operations on one item"


def test_signed_requests_under_sigv4_auth(tmp_path: Path) -> None:
    data = tmp_path / "data"
    key, secret = create_key(data)
    with run_server(data, "--auth", "sigv4", "--isolation", "none") as srv:
        ddb = srv.client("dynamodb", access_key=key, secret_key=secret)
        make_table(ddb, "signed")
        ddb.put_item(TableName="signed", Item={"pk": {"S": "a"}, "sk": {"N": "1"}})
        stranger = srv.client("dynamodb", access_key="AKIDUNKNOWN", secret_key="nope")
        refused = error(
            stranger.get_item, TableName="signed", Key={"pk": {"S": "a"}, "sk": {"N": "1"}}
        )
        assert refused["Code"] in ("UnrecognizedClientException", "InvalidSignatureException")
