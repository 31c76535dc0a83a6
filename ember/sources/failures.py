"""What Lambda sends an OnFailure destination for a stream batch it gives up on (Kinesis
and DynamoDB table streams alike; only the batch-info member's name and sequence numbers
differ)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ember.clock import iso_millis
from ember.sources.stream import RecordView


def failure_record(
    batch_info: str,  # KinesisBatchInfo | DDBStreamBatchInfo
    stream_arn: str,
    shard_id: str,
    sequences: tuple[str, str],  # the first record's SequenceNumber, the last one's
    records: Sequence[RecordView],
    *,
    condition: str,  # RetryAttemptsExhausted | RecordAgeExceeded
    request_id: str,
    function_arn: str,
    invocations: int,
    response: tuple[int, str, str] | None,  # (statusCode, executedVersion, functionError)
    now: float,
) -> dict[str, Any]:
    status, version, error = response or (0, "", "")
    return {
        "requestContext": {
            "requestId": request_id,
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": invocations,
        },
        "responseContext": {
            "statusCode": status,
            "executedVersion": version,
            "functionError": error,
        },
        "version": "1.0",
        "timestamp": iso_millis(now),
        batch_info: {
            "shardId": shard_id,
            "startSequenceNumber": sequences[0],
            "endSequenceNumber": sequences[1],
            "approximateArrivalOfFirstRecord": iso_millis(records[0].arrival),
            "approximateArrivalOfLastRecord": iso_millis(records[-1].arrival),
            "batchSize": len(records),
            "streamArn": stream_arn,
        },
    }
