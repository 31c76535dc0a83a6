"""DynamoDB's typed attribute values: numbers in its precision, checks with AWS's words."""

from __future__ import annotations

import pytest

from ember.tables.errors import TableValidationError
from ember.tables.values import check_item, check_value, item_size, normalize_number, sort_key


@pytest.mark.parametrize(
    ("given", "stored"),
    [("1.50", "1.5"), ("1e2", "100"), ("-0", "0"), ("007", "7"), ("0.000100", "0.0001"),
     ("12345678901234567890123456789012345678", "12345678901234567890123456789012345678"),
     ("1E-130", "0." + "0" * 129 + "1"), ("-3.25e1", "-32.5")],
)  # fmt: skip
def test_numbers_are_stored_canonical(given: str, stored: str) -> None:
    assert normalize_number(given) == stored


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("abc", "cannot be converted to a numeric value"),
        ("123456789012345678901234567890123456789", "more than 38 significant digits"),
        ("1e126", "Number overflow"),
        ("1e-131", "Number underflow"),
        ("NaN", "cannot be converted"),
    ],
)
def test_numbers_out_of_range_are_refused(given: str, message: str) -> None:
    with pytest.raises(TableValidationError, match=message):
        normalize_number(given)


def test_sets_must_be_non_empty_and_distinct() -> None:
    with pytest.raises(TableValidationError, match="An string set  may not be empty"):
        check_value({"SS": []})
    with pytest.raises(TableValidationError, match="contains duplicates"):
        check_value({"NS": ["1", "1.0"]})
    assert check_value({"NS": ["1.0", "2"]}) == {"NS": ["1", "2"]}


def test_values_need_exactly_one_type() -> None:
    with pytest.raises(TableValidationError, match="more than one datatypes"):
        check_value({"S": "a", "N": "1"})
    with pytest.raises(TableValidationError, match="Supplied AttributeValue is empty"):
        check_value({})
    with pytest.raises(TableValidationError):
        check_value({"B": "not base64!"})


def test_nested_values_are_checked() -> None:
    item = check_item({"m": {"M": {"l": {"L": [{"N": "1.10"}, {"NULL": True}]}}}})
    assert item["m"]["M"]["l"]["L"][0] == {"N": "1.1"}


def test_item_size_counts_names_and_values() -> None:
    assert item_size({"ab": {"S": "xyz"}}) == 5
    assert item_size({"b": {"BOOL": True}}) == 2


def test_sort_keys_order_numbers_by_value_and_strings_by_bytes() -> None:
    numbers = [{"N": "10"}, {"N": "9"}, {"N": "-1"}]
    assert sorted(numbers, key=sort_key) == [{"N": "-1"}, {"N": "9"}, {"N": "10"}]
    assert sort_key({"S": "B"}) < sort_key({"S": "a"})
