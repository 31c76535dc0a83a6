"""What a stream event source mapping (Kinesis) adds to a mapping: where reading starts, how
failures are retried, split, aged out and reported, and Lambda's checks of those settings."""

from __future__ import annotations

import dataclasses
from typing import Any

from ember.errors import InvalidParameterValueError

DEFAULT_BATCH = 100  # Lambda's default BatchSize for Kinesis
USER_ACTION = "User action"  # StateTransitionReason of stream mappings
NO_RECORDS = "No records processed"  # their LastProcessingResult before any batch


@dataclasses.dataclass(frozen=True, slots=True)
class StreamOptions:
    """The stream members a Create or Update request gave (None: not given)."""

    starting_timestamp: float | None = None  # StartingPositionTimestamp, epoch seconds
    parallelization: int | None = None
    bisect: bool | None = None
    maximum_retries: int | None = None
    maximum_record_age: int | None = None
    on_failure: str | None = None  # DestinationConfig.OnFailure.Destination ("" clears it)
    tumbling_window: int | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class StreamConfig:
    starting_position: str  # TRIM_HORIZON | LATEST | AT_TIMESTAMP
    starting_timestamp: float | None = None
    parallelization: int = 1  # ParallelizationFactor: concurrent batches per shard
    bisect: bool = False  # BisectBatchOnFunctionError
    maximum_retries: int = -1  # MaximumRetryAttempts (-1: until the records expire)
    maximum_record_age: int = -1  # MaximumRecordAgeInSeconds (-1: the stream's retention)
    on_failure: str | None = None  # an SQS queue or SNS topic ARN
    tumbling_window: int = 0  # TumblingWindowInSeconds

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> StreamConfig:
        return cls(**doc)


def stream_config(
    options: StreamOptions, old: StreamConfig | None, starting_position: str | None
) -> StreamConfig:
    """The mapping's stream settings after a Create (old None) or an Update, checked."""
    base = old or StreamConfig(starting_position or "LATEST")
    if starting_position == "AT_TIMESTAMP" and options.starting_timestamp is None and old is None:
        raise InvalidParameterValueError(
            "StartingPositionTimestamp must be specified when StartingPosition is AT_TIMESTAMP."
        )
    age = options.maximum_record_age
    if age is not None and age != -1 and not 60 <= age <= 604800:
        raise InvalidParameterValueError(
            "MaximumRecordAgeInSeconds must be either -1 (forever) or between 60 and 604800 "
            "(inclusive)"
        )
    destination = options.on_failure
    if destination:
        service = destination.split(":")[2] if destination.count(":") >= 5 else ""
        if service not in ("sqs", "sns"):
            raise InvalidParameterValueError(
                f"The provided destination config DestinationConfig(onSuccess=null, "
                f"onFailure=OnFailure(destination={destination})) is invalid."
            )

    def pick(value: Any, current: Any) -> Any:
        return current if value is None else value

    return dataclasses.replace(
        base,
        starting_timestamp=pick(options.starting_timestamp, base.starting_timestamp),
        parallelization=pick(options.parallelization, base.parallelization),
        bisect=pick(options.bisect, base.bisect),
        maximum_retries=pick(options.maximum_retries, base.maximum_retries),
        maximum_record_age=pick(age, base.maximum_record_age),
        on_failure=(base.on_failure if destination is None else destination or None),
        tumbling_window=pick(options.tumbling_window, base.tumbling_window),
    )
