"""EventBridge's operations in its wire shapes (JSON 1.1, PascalCase): each parses its
request, calls one `Rules` method and renders the answer."""

from __future__ import annotations

import base64
import re
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from ember.errors import ValidationError
from ember.patterns import InvalidEventPatternError
from ember.rules import transform
from ember.rules.events import Entry, EntryResult
from ember.rules.model import Rule, Target
from ember.rules.service import FailedEntry, Rules

Params = dict[str, Any]
Operation = Callable[[Rules, Params], Awaitable[Params]]
_NAME = re.compile(r"[\.\-_A-Za-z0-9]+")
_NAME_PATTERN = r"[\.\-_A-Za-z0-9]+"
_STATES = ("ENABLED", "DISABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS")
_TARGET_FIELDS = {"Id", "Arn", "Input", "InputPath", "InputTransformer"}


def _invalid(value: object, where: str, constraint: str) -> ValidationError:
    return ValidationError(
        f"1 validation error detected: Value '{value}' at '{where}' failed to satisfy "
        f"constraint: {constraint}"
    )


def _name(params: Params, key: str = "Name", where: str = "name") -> str:
    value = params.get(key)
    if not isinstance(value, str):
        raise _invalid(None, where, "Member must not be null")
    if not 1 <= len(value) <= 64:
        raise _invalid(value, where, "Member must have length less than or equal to 64")
    if not _NAME.fullmatch(value):
        raise _invalid(
            value, where, f"Member must satisfy regular expression pattern: {_NAME_PATTERN}"
        )
    return value


def _optional_str(params: Params, key: str) -> str | None:
    value = params.get(key)
    return value if isinstance(value, str) else None


def _rule_shape(rule: Rule) -> Params:
    shape: Params = {"Name": rule.name, "Arn": rule.arn}
    if rule.event_pattern is not None:
        shape["EventPattern"] = rule.event_pattern
    if rule.schedule_expression is not None:
        shape["ScheduleExpression"] = rule.schedule_expression
    shape["State"] = rule.state
    if rule.description is not None:
        shape["Description"] = rule.description
    if rule.role_arn is not None:
        shape["RoleArn"] = rule.role_arn
    shape["EventBusName"] = "default"
    return shape


def _page(params: Params, items: list[Params]) -> tuple[list[Params], str | None]:
    """Limit / NextToken (an opaque offset)."""
    limit = params.get("Limit") or 100
    if not isinstance(limit, int) or not 1 <= limit <= 100:
        raise _invalid(limit, "limit", "Member must have value less than or equal to 100")
    token = params.get("NextToken")
    start = 0
    if token is not None:
        try:
            start = int(base64.urlsafe_b64decode(str(token)).decode())
        except ValueError:
            raise ValidationError("The NextToken provided is invalid.") from None
    page = items[start : start + limit]
    more = start + limit < len(items)
    return page, base64.urlsafe_b64encode(str(start + limit).encode()).decode() if more else None


async def put_rule(rules: Rules, params: Params) -> Params:
    name = _name(params)
    rules.check_bus(_optional_str(params, "EventBusName"))
    state = params.get("State")
    if state is not None and state not in _STATES:
        raise _invalid(
            state, "state", f"Member must satisfy enum value set: [{', '.join(_STATES)}]"
        )
    pattern = _optional_str(params, "EventPattern")
    if pattern is not None and len(pattern) > 4096:
        raise _invalid(
            pattern, "eventPattern", "Member must have length less than or equal to 4096"
        )
    rule = await rules.put_rule(
        name,
        schedule_expression=_optional_str(params, "ScheduleExpression"),
        event_pattern=pattern,
        state=state,
        description=_optional_str(params, "Description"),
        role_arn=_optional_str(params, "RoleArn"),
    )
    return {"RuleArn": rule.arn}


async def describe_rule(rules: Rules, params: Params) -> Params:
    rules.check_bus(_optional_str(params, "EventBusName"))
    rule = rules.get(_name(params))
    return {**_rule_shape(rule), "CreatedBy": rules.account}


async def list_rules(rules: Rules, params: Params) -> Params:
    rules.check_bus(_optional_str(params, "EventBusName"))
    prefix = _name(params, "NamePrefix", "namePrefix") if "NamePrefix" in params else None
    page, token = _page(params, [_rule_shape(r) for r in rules.by_prefix(prefix)])
    answer: Params = {"Rules": page}
    if token:
        answer["NextToken"] = token
    return answer


async def enable_rule(rules: Rules, params: Params) -> Params:
    rules.check_bus(_optional_str(params, "EventBusName"))
    await rules.set_state(_name(params), enabled=True)
    return {}


async def disable_rule(rules: Rules, params: Params) -> Params:
    rules.check_bus(_optional_str(params, "EventBusName"))
    await rules.set_state(_name(params), enabled=False)
    return {}


async def delete_rule(rules: Rules, params: Params) -> Params:
    rules.check_bus(_optional_str(params, "EventBusName"))
    await rules.delete(_name(params), force=bool(params.get("Force")))
    return {}


def _target(shape: Any) -> Target:
    if not isinstance(shape, dict):
        raise ValidationError("A target must be an object.")
    target_id = _name(shape, "Id", "targets.member.id")
    arn = shape.get("Arn")
    if not isinstance(arn, str) or not arn:
        raise _invalid(arn, "targets.member.arn", "Member must not be null")
    given = [k for k in ("Input", "InputPath", "InputTransformer") if shape.get(k) is not None]
    if len(given) > 1:
        raise ValidationError("Only one of Input, InputPath, or InputTransformer must be provided.")
    text = shape.get("Input")
    if text is not None:
        try:
            orjson.loads(text)
        except (orjson.JSONDecodeError, TypeError):
            raise ValidationError("Input is not valid JSON text.") from None
    path = shape.get("InputPath")
    if path is not None:
        transform.check_path(str(path), "InputPath")
    paths_map = template = None
    transformer = shape.get("InputTransformer")
    if transformer is not None:
        template = transformer.get("InputTemplate")
        if not isinstance(template, str) or not template:
            raise _invalid(template, "inputTransformer.inputTemplate", "Member must not be null")
        paths_map = dict(transformer.get("InputPathsMap") or {})
        for variable, value in paths_map.items():
            transform.check_path(str(value), f"InputPathsMap[{variable}]")
    return Target(
        id=target_id,
        arn=arn,
        input=text,
        input_path=path,
        paths_map=paths_map,
        template=template,
        extra={k: v for k, v in shape.items() if k not in _TARGET_FIELDS},
    )


def _target_shape(target: Target) -> Params:
    shape: Params = {"Id": target.id, "Arn": target.arn, **target.extra}
    if target.input is not None:
        shape["Input"] = target.input
    if target.input_path is not None:
        shape["InputPath"] = target.input_path
    if target.template is not None:
        transformer: Params = {"InputTemplate": target.template}
        if target.paths_map:
            transformer["InputPathsMap"] = target.paths_map
        shape["InputTransformer"] = transformer
    return shape


def _failures(failed: list[FailedEntry]) -> Params:
    return {
        "FailedEntryCount": len(failed),
        "FailedEntries": [
            {"TargetId": f.target_id, "ErrorCode": f.code, "ErrorMessage": f.message}
            for f in failed
        ],
    }


async def put_targets(rules: Rules, params: Params) -> Params:
    rules.check_bus(_optional_str(params, "EventBusName"))
    name = _name(params, "Rule", "rule")
    shapes = params.get("Targets")
    if not isinstance(shapes, list) or not 1 <= len(shapes) <= 100:
        raise _invalid(shapes, "targets", "Member must have length greater than or equal to 1")
    targets = [_target(s) for s in shapes]
    return _failures(await rules.put_targets(name, targets))


async def remove_targets(rules: Rules, params: Params) -> Params:
    rules.check_bus(_optional_str(params, "EventBusName"))
    name = _name(params, "Rule", "rule")
    ids = params.get("Ids")
    if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
        raise _invalid(ids, "ids", "Member must have length greater than or equal to 1")
    return _failures(await rules.remove_targets(name, [str(i) for i in ids]))


async def list_targets_by_rule(rules: Rules, params: Params) -> Params:
    rules.check_bus(_optional_str(params, "EventBusName"))
    rule = rules.get(_name(params, "Rule", "rule"))
    page, token = _page(params, [_target_shape(t) for t in rule.targets])
    answer: Params = {"Targets": page}
    if token:
        answer["NextToken"] = token
    return answer


def _entry(shape: Any) -> Entry:
    if not isinstance(shape, dict):
        raise ValidationError("An entry must be an object.")
    when = shape.get("Time")
    resources = shape.get("Resources") or []
    return Entry(
        source=_optional_str(shape, "Source"),
        detail_type=_optional_str(shape, "DetailType"),
        detail=_optional_str(shape, "Detail"),
        resources=[str(r) for r in resources] if isinstance(resources, list) else [],
        time=float(when) if isinstance(when, int | float) else None,
        bus=_optional_str(shape, "EventBusName"),
    )


def _result_shape(result: EntryResult) -> Params:
    if result.event_id is not None:
        return {"EventId": result.event_id}
    return {"ErrorCode": result.error_code, "ErrorMessage": result.error_message}


async def put_events(rules: Rules, params: Params) -> Params:
    shapes = params.get("Entries")
    if not isinstance(shapes, list) or not shapes:
        raise _invalid(shapes, "entries", "Member must have length greater than or equal to 1")
    if len(shapes) > 10:
        raise _invalid("[…]", "entries", "Member must have length less than or equal to 10")
    results = await rules.put_events([_entry(s) for s in shapes])
    return {
        "FailedEntryCount": sum(1 for r in results if r.event_id is None),
        "Entries": [_result_shape(r) for r in results],
    }


async def test_event_pattern(rules: Rules, params: Params) -> Params:
    pattern = _optional_str(params, "EventPattern")
    text = _optional_str(params, "Event")
    if pattern is None or text is None:
        raise ValidationError("EventPattern and Event are required.")
    try:
        event = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise ValidationError("Parameter Event is not valid.") from None
    if not isinstance(event, dict):
        raise ValidationError("Parameter Event is not valid.")
    try:
        return {"Result": rules.test_pattern(pattern, event)}
    except InvalidEventPatternError:
        raise


async def list_rule_names_by_target(rules: Rules, params: Params) -> Params:
    rules.check_bus(_optional_str(params, "EventBusName"))
    arn = params.get("TargetArn")
    if not isinstance(arn, str) or not arn:
        raise _invalid(arn, "targetArn", "Member must not be null")
    names = [r.name for r in rules.by_prefix() if any(t.arn == arn for t in r.targets)]
    page, token = _page(params, [{"Name": n} for n in names])
    answer: Params = {"RuleNames": [p["Name"] for p in page]}
    if token:
        answer["NextToken"] = token
    return answer


OPERATIONS: dict[str, Operation] = {
    "PutRule": put_rule,
    "DescribeRule": describe_rule,
    "ListRules": list_rules,
    "EnableRule": enable_rule,
    "DisableRule": disable_rule,
    "DeleteRule": delete_rule,
    "PutTargets": put_targets,
    "RemoveTargets": remove_targets,
    "ListTargetsByRule": list_targets_by_rule,
    "PutEvents": put_events,
    "TestEventPattern": test_event_pattern,
    "ListRuleNamesByTarget": list_rule_names_by_target,
}
