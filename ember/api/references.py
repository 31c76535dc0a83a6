"""Turning a request's FunctionName (+ Qualifier) into the function version it means."""

from __future__ import annotations

from typing import Any

from ember.api.model import function_name_rule
from ember.config import Settings
from ember.control import FunctionConfig, FunctionService
from ember.control.aliases import AliasService
from ember.control.functions import not_found
from ember.control.model import LATEST
from ember.control.names import parse_function_name


class References:
    def __init__(self, settings: Settings, functions: FunctionService, aliases: AliasService):
        self._settings = settings
        self._functions = functions
        self._aliases = aliases

    def parse(self, values: dict[str, Any], op_name: str) -> tuple[str, str | None]:
        """(name, qualifier) from FunctionName and Qualifier, checked as AWS checks them."""
        pattern, max_length = function_name_rule(op_name)
        ref = parse_function_name(
            values["FunctionName"],
            self._settings.region,
            qualifier=values.get("Qualifier"),
            max_length=max_length,
            pattern=pattern,
            account=self._settings.account_id,
        )
        return ref.name, ref.qualifier

    def version(self, name: str, qualifier: str | None) -> FunctionConfig:
        """The version a qualifier names: $LATEST, a number, or an alias's target."""
        if qualifier is None or qualifier == LATEST or qualifier.isdigit():
            return self._functions.get(name, qualifier)
        self._functions.get(name)
        alias = self._aliases.find(name, qualifier)
        if alias is None:
            raise not_found(f"{self._functions.arn(name)}:{qualifier}")
        return self._functions.get(name, alias.function_version)
