"""Reading a function's answer to a batch: Lambda's ReportBatchItemFailures rules."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import orjson

from ember.sources.source import Record

ALL_FAILED = None  # the whole batch counts as failed


def failed_items(payload: bytes, item_ids: Collection[str]) -> set[str] | None:
    """The item ids the function reports as failed, or ALL_FAILED.

    Lambda: success for an empty or null response and an empty or null
    `batchItemFailures`; the whole batch failed for invalid JSON, or an entry whose
    `itemIdentifier` is missing, null, empty, misnamed or not one of the batch's."""
    if not payload.strip():
        return set()
    try:
        response = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return ALL_FAILED
    if not isinstance(response, dict):
        return set()
    failures = response.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        return ALL_FAILED
    failed: set[str] = set()
    for entry in failures:
        if not isinstance(entry, dict):
            return ALL_FAILED
        item = entry.get("itemIdentifier")
        if not isinstance(item, str) or not item or item not in item_ids:
            return ALL_FAILED
        failed.add(item)
    return failed


def split_batch(
    records: Sequence[Record], failed: set[str] | None, *, ordered: bool
) -> tuple[list[Record], list[Record]]:
    """(done, to retry). In an ordered source a group's records after its first failure
    are retried too, so that the group's order holds."""
    if failed is ALL_FAILED:
        return [], list(records)
    done: list[Record] = []
    retry: list[Record] = []
    stopped: set[str | None] = set()
    for record in records:
        if record.item_id in failed or (ordered and record.group in stopped):
            retry.append(record)
            if ordered:
                stopped.add(record.group)
        else:
            done.append(record)
    return done, retry
