import pytest

from ember.api.validation import parse_input, validate
from ember.errors import ValidationError


def test_role_pattern_error_matches_aws() -> None:
    with pytest.raises(ValidationError) as info:
        validate("CreateFunction", {"FunctionName": "f", "Role": "r1", "Code": {}})
    assert info.value.message == (
        "1 validation error detected: Value 'r1' at 'role' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: "
        r"arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+"
    )


def test_list_item_errors_fold_like_aws() -> None:
    with pytest.raises(ValidationError) as info:
        validate(
            "CreateFunction",
            {
                "FunctionName": "f",
                "Role": "arn:aws:iam::123456789012:role/r",
                "Code": {},
                "Architectures": ["X86_64"],
            },
        )
    assert info.value.message == (
        "1 validation error detected: Value '[X86_64]' at 'architectures' failed to satisfy "
        "constraint: Member must satisfy constraint: [Member must satisfy enum value set: "
        "[x86_64, arm64], Member must not be null]"
    )


def test_missing_required_members_are_counted() -> None:
    with pytest.raises(ValidationError) as info:
        validate("CreateFunction", {"FunctionName": "f"})
    assert info.value.message.startswith("2 validation errors detected: ")
    assert "Value null at 'role' failed to satisfy constraint: Member must not be null" in (
        info.value.message
    )


def test_query_values_are_converted_and_checked() -> None:
    values = parse_input(
        "ListFunctions", {}, {"MaxItems": "0", "FunctionVersion": "invalid"}, {}, None
    )
    assert values["MaxItems"] == 0
    with pytest.raises(ValidationError) as info:
        validate("ListFunctions", values)
    assert (
        "Value 'invalid' at 'functionVersion' failed to satisfy constraint: Member must satisfy "
        "enum value set: [ALL]"
    ) in info.value.message


def test_wrong_json_type_is_reported() -> None:
    with pytest.raises(ValidationError, match="memorySize"):
        validate("UpdateFunctionConfiguration", {"FunctionName": "f", "MemorySize": "lots"})
