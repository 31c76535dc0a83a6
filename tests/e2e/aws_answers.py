"""AWS's recorded answers (tests/conformance/lambda-aws-expectations.tsv) looked up by test
and snapshot key, for tests that compare Ember's errors with them one by one."""

from __future__ import annotations

import csv
from pathlib import Path

TSV = Path(__file__).resolve().parents[1] / "conformance" / "lambda-aws-expectations.tsv"


def aws_row(test: str, key: str) -> tuple[str, int, str]:
    """(code, status, message) AWS answered, with the recording's placeholders as ours."""
    with TSV.open(newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if row["test"] == test and row["snapshot_key"] == key:
                message = (
                    row["message_or_payload"]
                    .replace("<partition>", "aws")
                    .replace("<region>", "us-east-1")
                    .replace("111111111111", "000000000000")
                )
                return row["error_code_or_INVOKE"], int(row["http_status"]), message
    raise KeyError(f"{test}/{key} is not in the table")
