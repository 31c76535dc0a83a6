import pytest

from ember.control.names import parse_function_name
from ember.errors import InvalidParameterValueError, ResourceNotFoundError, ValidationError

REGION = "us-east-1"


@pytest.mark.parametrize(
    ("value", "name", "qualifier"),
    [
        ("my-fn", "my-fn", None),
        ("my-fn:live", "my-fn", "live"),
        ("my-fn:$LATEST", "my-fn", "$LATEST"),
        ("123456789012:function:my-fn", "my-fn", None),
        ("arn:aws:lambda:us-east-1:123456789012:function:my-fn", "my-fn", None),
        ("arn:aws:lambda:us-east-1:123456789012:function:my-fn:7", "my-fn", "7"),
    ],
)
def test_every_name_form_parses(value: str, name: str, qualifier: str | None) -> None:
    ref = parse_function_name(value, REGION)
    assert (ref.name, ref.qualifier) == (name, qualifier)


def test_malformed_name_is_a_validation_error_quoting_the_pattern() -> None:
    with pytest.raises(ValidationError) as info:
        parse_function_name("invalid:function:name", REGION)
    assert info.value.message.startswith(
        "1 validation error detected: Value 'invalid:function:name' at 'functionName' "
        "failed to satisfy constraint: Member must satisfy regular expression pattern: "
    )


def test_name_over_64_characters_is_invalid_parameter() -> None:
    with pytest.raises(InvalidParameterValueError, match="less than or equal to 64"):
        parse_function_name("a" * 65, REGION)


def test_other_region_is_not_reachable() -> None:
    with pytest.raises(ResourceNotFoundError) as info:
        parse_function_name("arn:aws:lambda:eu-west-1:123456789012:function:f", REGION)
    assert info.value.message == (
        "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')"
    )


def test_qualifier_in_name_and_parameter_must_agree() -> None:
    assert parse_function_name("f:1", REGION, qualifier="1").qualifier == "1"
    with pytest.raises(InvalidParameterValueError, match="derived qualifier"):
        parse_function_name("f:1", REGION, qualifier="2")
