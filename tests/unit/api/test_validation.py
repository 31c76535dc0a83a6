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


def test_every_violation_is_reported_at_once_in_model_order() -> None:
    """Lambda's own bounds (memory 128-10240 MB, timeout 1-900 s) join the model's checks
    in the one ValidationException, in the order of the request's members."""
    with pytest.raises(ValidationError) as info:
        validate(
            "CreateFunction",
            {"FunctionName": "f", "Role": "r1", "Code": {}, "Timeout": 0, "MemorySize": 20000},
        )
    message = info.value.message
    assert message.startswith("3 validation errors detected: Value 'r1' at 'role' failed")
    assert message.endswith(
        "; Value '0' at 'timeout' failed to satisfy constraint: Member must have value greater "
        "than or equal to 1; Value '20000' at 'memorySize' failed to satisfy constraint: "
        "Member must have value less than or equal to 10240"
    )
