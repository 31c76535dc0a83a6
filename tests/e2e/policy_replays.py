"""Replays of AWS's recorded answers for resource policies, tags and recursion configs
(AddPermission, GetPolicy, TagResource, UntagResource, ListTags,
Put/GetFunctionRecursionConfig): joined to shape_replays.REPLAYS."""

from __future__ import annotations

from typing import Any

from tests.e2e.apicalls import ACCOUNT
from tests.e2e.recorded_shapes import Recorded, is_placeholder
from tests.e2e.shape_replays import (
    Ctx,
    Replay,
    _concrete,
    _unplaceheld,
    create_like,
    publish_versions,
)

_EQUALS = {
    "AWS:SourceAccount": "SourceAccount",
    "lambda:FunctionUrlAuthType": "FunctionUrlAuthType",
    "aws:PrincipalOrgID": "PrincipalOrgID",
    "lambda:EventSourceToken": "EventSourceToken",
}


def _principal(principal: Any) -> str:
    if principal == "*":
        return "*"
    if "Service" in principal:
        return str(principal["Service"])
    arn = str(principal["AWS"])
    if arn.startswith("arn:") and not arn.endswith(":<resource:2>"):
        return _concrete(arn)
    if is_placeholder(arn) and not arn.startswith("arn:"):
        return f"arn:aws:iam::{ACCOUNT}:user/replay"  # a caller's own ARN, recorded masked
    return ACCOUNT  # the account's root, as AWS writes an account principal


def _permission_args(statement: dict[str, Any]) -> dict[str, Any]:
    args: dict[str, Any] = {
        "StatementId": _unplaceheld(statement["Sid"]),
        "Action": statement["Action"],
        "Principal": _principal(statement["Principal"]),
    }
    condition = statement.get("Condition", {})
    for key, value in condition.get("StringEquals", {}).items():
        args[_EQUALS[key]] = ACCOUNT if key == "AWS:SourceAccount" else value
    if "AWS:SourceArn" in condition.get("ArnLike", {}):
        args["SourceArn"] = _concrete(condition["ArnLike"]["AWS:SourceArn"])
    return args


def _target(ctx: Ctx, statement: dict[str, Any]) -> tuple[str, str | None]:
    """A function (and the version or alias the statement's Resource names)."""
    name, _ = create_like(ctx, {})
    parts = _unplaceheld(statement["Resource"]).split(":")
    qualifier = parts[7] if len(parts) > 7 else None
    if qualifier is not None:
        publish_versions(ctx, name, int(qualifier) if qualifier.isdigit() else 1)
        if not qualifier.isdigit():
            ctx.lam.create_alias(FunctionName=name, Name=qualifier, FunctionVersion="1")
    return name, qualifier


def permissions(ctx: Ctx, row: Recorded) -> Any:
    statements = (
        row.body["Policy"]["Statement"] if row.operation == "GetPolicy" else [row.body["Statement"]]
    )
    name, qualifier = _target(ctx, statements[0])
    extra = {"Qualifier": qualifier} if qualifier else {}
    answer = None
    for statement in statements:
        answer = ctx.lam.add_permission(FunctionName=name, **_permission_args(statement), **extra)
    if row.operation == "AddPermission":
        return answer
    return ctx.lam.get_policy(FunctionName=name, **extra)


def tags(ctx: Ctx, row: Recorded) -> Any:
    # Keys starting with aws: are AWS's own (CloudFormation's): refused to users (DIFFERENCES).
    recorded = {k: v for k, v in row.body.get("Tags", {}).items() if not k.startswith("aws:")}
    _, created = create_like(ctx, {}, Tags={k: _unplaceheld(v) for k, v in recorded.items()})
    arn = created["FunctionArn"]
    if row.operation == "TagResource":
        return ctx.lam.tag_resource(Resource=arn, Tags={"A": "tag-a"})
    if row.operation == "UntagResource":
        ctx.lam.tag_resource(Resource=arn, Tags={"A": "tag-a"})
        return ctx.lam.untag_resource(Resource=arn, TagKeys=["A", "F"])
    return ctx.lam.list_tags(Resource=arn)


def recursion(ctx: Ctx, row: Recorded) -> Any:
    name, _ = create_like(ctx, {})
    loop = row.body["RecursiveLoop"]
    if row.operation == "PutFunctionRecursionConfig":
        return ctx.lam.put_function_recursion_config(FunctionName=name, RecursiveLoop=loop)
    if loop != "Terminate":
        ctx.lam.put_function_recursion_config(FunctionName=name, RecursiveLoop=loop)
    return ctx.lam.get_function_recursion_config(FunctionName=name)


POLICY_REPLAYS: dict[str, Replay] = {
    "AddPermission": permissions,
    "GetPolicy": permissions,
    "TagResource": tags,
    "UntagResource": tags,
    "ListTags": tags,
    "PutFunctionRecursionConfig": recursion,
    "GetFunctionRecursionConfig": recursion,
}
