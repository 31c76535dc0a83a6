import pytest

from ember.control import rules
from ember.errors import InvalidParameterValueError, ValidationError
from ember.runtimes import RuntimeCatalog


def catalog() -> RuntimeCatalog:
    return RuntimeCatalog({"3.11": "/usr/bin/python3.11"})


def test_deprecated_runtime_uses_aws_message() -> None:
    with pytest.raises(InvalidParameterValueError, match=r"python3\.7 is no longer supported"):
        rules.check_runtime("python3.7", catalog())


def test_unknown_runtime_quotes_the_enum() -> None:
    with pytest.raises(InvalidParameterValueError) as info:
        rules.check_runtime("PYTHON3.9", catalog())
    assert info.value.message.startswith(
        "Value PYTHON3.9 at 'runtime' failed to satisfy constraint: Member must satisfy enum"
    )


def test_missing_interpreter_names_what_is_installed() -> None:
    with pytest.raises(InvalidParameterValueError) as info:
        rules.check_runtime("python3.13", catalog())
    assert "python3.11 (/usr/bin/python3.11)" in info.value.message
    rules.check_runtime("python3.11", catalog())
    rules.check_runtime("provided.al2023", catalog())


def test_reserved_environment_keys_are_refused() -> None:
    with pytest.raises(
        InvalidParameterValueError, match="Reserved keys used in this request: AWS_REGION"
    ):
        rules.check_environment({"AWS_REGION": "x", "OK": "y"})
    rules.check_environment({"TZ": "Europe/Paris"})  # not reserved on Lambda


def test_environment_over_4kb_is_refused() -> None:
    with pytest.raises(InvalidParameterValueError, match="exceeded the 4KB limit"):
        rules.check_environment({"LARGE_VAR": "x" * 4096})


def test_ranges_use_validation_wording() -> None:
    with pytest.raises(ValidationError) as info:
        rules.check_range(64, "memorySize", 128, 10240)
    assert info.value.message == (
        "1 validation error detected: Value '64' at 'memorySize' failed to satisfy "
        "constraint: Member must have value greater than or equal to 128"
    )
