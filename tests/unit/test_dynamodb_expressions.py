"""DynamoDB's expression language: parsing with AWS's words, evaluation on items."""

from __future__ import annotations

from typing import Any

import pytest

from ember.tables.errors import TableValidationError
from ember.tables.evaluation import apply_actions, evaluate, project
from ember.tables.expressions import Parser

ITEM: dict[str, Any] = {
    "pk": {"S": "user#1"},
    "n": {"N": "5"},
    "s": {"S": "hello"},
    "tags": {"SS": ["a", "b"]},
    "m": {"M": {"x": {"L": [{"N": "1"}, {"N": "2"}]}}},
}


def cond(
    text: str, values: dict[str, Any] | None = None, names: dict[str, Any] | None = None
) -> bool:
    parser = Parser(names, values)
    return evaluate(ITEM, parser.condition(text))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("attribute_exists(pk)", True),
        ("attribute_not_exists(pk)", False),
        ("attribute_not_exists(nope)", True),
        ("n = :five", True),
        ("n <> :five", False),
        ("n < :six AND n >= :five", True),
        ("n > :six OR s = :hello", True),
        ("NOT n > :six", True),
        ("n BETWEEN :five AND :six", True),
        ("n IN (:six, :five)", True),
        ("begins_with(s, :he)", True),
        ("contains(tags, :a)", True),
        ("contains(s, :ell)", True),
        ("size(s) = :five", True),
        ("m.x[1] = :two", True),
        ("attribute_type(n, :N)", True),
        ("(n = :six OR n = :five) AND attribute_exists(s)", True),
        ("s < :five", False),  # different types never compare
    ],
)
def test_conditions(text: str, expected: bool) -> None:
    values = {
        ":five": {"N": "5.0"}, ":six": {"N": "6"}, ":two": {"N": "2"}, ":hello": {"S": "hello"},
        ":he": {"S": "he"}, ":a": {"S": "a"}, ":ell": {"S": "ell"}, ":N": {"S": "N"},
    }  # fmt: skip
    parser = Parser(None, values)
    assert evaluate(ITEM, parser.condition(text)) is expected


def test_names_resolve_and_missing_ones_are_refused() -> None:
    assert cond("#s = :v", {":v": {"S": "hello"}}, {"#s": "s"})
    with pytest.raises(TableValidationError, match="attribute name: #x"):
        Parser({"#s": "s"}, None).condition("#x = #s")
    with pytest.raises(TableValidationError, match="attribute value: :nope"):
        Parser(None, {":v": {"S": "a"}}).condition("s = :nope")


def test_syntax_errors_use_aws_wording() -> None:
    with pytest.raises(
        TableValidationError, match=r'Invalid ConditionExpression: Syntax error; token: "'
    ):
        Parser(None, {":v": {"S": "a"}}).condition("s = = :v")
    with pytest.raises(TableValidationError, match="Invalid UpdateExpression: Syntax error"):
        Parser(None, {":v": {"S": "a"}}).update("PUT s = :v")


def test_unused_values_are_refused() -> None:
    parser = Parser(None, {":v": {"S": "a"}, ":w": {"S": "b"}})
    parser.condition("s = :v")
    with pytest.raises(TableValidationError, match=r"unused in expressions: keys: \{:w\}"):
        parser.check_all_used()


def update(text: str, values: dict[str, Any] | None = None) -> dict[str, Any]:
    parser = Parser(None, values)
    return apply_actions(ITEM, parser.update(text))


def test_set_arithmetic_if_not_exists_list_append() -> None:
    new = update(
        "SET n = n + :one, c = if_not_exists(c, :zero), m.x = list_append(m.x, :more)",
        {":one": {"N": "1"}, ":zero": {"N": "0"}, ":more": {"L": [{"N": "3"}]}},
    )
    assert new["n"] == {"N": "6"}
    assert new["c"] == {"N": "0"}
    assert new["m"]["M"]["x"]["L"] == [{"N": "1"}, {"N": "2"}, {"N": "3"}]
    assert ITEM["n"] == {"N": "5"}  # the old item is untouched


def test_remove_add_delete() -> None:
    new = update("REMOVE s ADD n :two, tags :c", {":two": {"N": "-2.5"}, ":c": {"SS": ["c"]}})
    assert "s" not in new
    assert new["n"] == {"N": "2.5"}
    assert sorted(new["tags"]["SS"]) == ["a", "b", "c"]
    assert update("DELETE tags :a", {":a": {"SS": ["a"]}})["tags"] == {"SS": ["b"]}
    assert "tags" not in update("DELETE tags :ab", {":ab": {"SS": ["a", "b"]}})


def test_update_errors() -> None:
    with pytest.raises(TableValidationError, match="incorrect data type"):
        update("SET s = s + :one", {":one": {"N": "1"}})
    with pytest.raises(TableValidationError, match="does not exist in the item"):
        update("SET q = nope + :one", {":one": {"N": "1"}})
    with pytest.raises(TableValidationError, match="Two document paths overlap"):
        update("SET n = :one REMOVE n", {":one": {"N": "1"}})
    with pytest.raises(TableValidationError, match="operator: ADD, operand type: STRING"):
        update("ADD n :s", {":s": {"S": "x"}})


def test_projection() -> None:
    paths = Parser({"#m": "m"}, None).projection("pk, #m.x[0], nope")
    assert project(ITEM, paths) == {
        "pk": {"S": "user#1"},
        "m": {"M": {"x": {"M": {"0": {"N": "1"}}}}},
    }
