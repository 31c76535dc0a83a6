"""Replays of AWS's recorded answers for function URL configs (Create, Get, Update, Delete,
ListFunctionUrlConfigs): joined to shape_replays.REPLAYS."""

from __future__ import annotations

from typing import Any

from tests.e2e.recorded_shapes import Recorded
from tests.e2e.shape_replays import Ctx, Replay, _unplaceheld, create_like, publish_versions


def _qualifier(function_arn: str) -> str | None:
    parts = _unplaceheld(function_arn).split(":")
    return parts[7] if len(parts) > 7 else None


def _target(ctx: Ctx, configs: list[dict[str, Any]]) -> str:
    """A function with the aliases the recorded configs' FunctionArns name."""
    name, _ = create_like(ctx, {})
    aliases = {q for c in configs if (q := _qualifier(c.get("FunctionArn", ""))) is not None}
    if aliases:
        publish_versions(ctx, name, 1)
        for alias in sorted(aliases):
            ctx.lam.create_alias(FunctionName=name, Name=alias, FunctionVersion="1")
    return name


def _create(ctx: Ctx, name: str, config: dict[str, Any], **extra: Any) -> Any:
    qualifier = _qualifier(config.get("FunctionArn", ""))
    args: dict[str, Any] = {"FunctionName": name, "AuthType": config.get("AuthType", "NONE")}
    if qualifier is not None:
        args["Qualifier"] = qualifier
    args.update(extra)
    return ctx.lam.create_function_url_config(**args)


def url_config(ctx: Ctx, row: Recorded) -> Any:
    body, op = row.body, row.operation
    if op == "ListFunctionUrlConfigs":
        configs: list[dict[str, Any]] = body["FunctionUrlConfigs"]
        name = _target(ctx, configs)
        for config in configs:
            _create(ctx, name, config, InvokeMode=config["InvokeMode"])
        return ctx.lam.list_function_url_configs(FunctionName=name)
    name = _target(ctx, [body])
    qualifier = _qualifier(body.get("FunctionArn", ""))
    extra = {"Qualifier": qualifier} if qualifier else {}
    if op == "CreateFunctionUrlConfig":
        mode = {"InvokeMode": body["InvokeMode"]} if "InvokeMode" in body else {}
        return _create(ctx, name, body, **mode)
    if op == "GetFunctionUrlConfig":
        _create(ctx, name, body, InvokeMode=body["InvokeMode"])
        return ctx.lam.get_function_url_config(FunctionName=name, **extra)
    if op == "UpdateFunctionUrlConfig":
        # The recordings: AuthType changed on a config created without InvokeMode (none in
        # the answer), or InvokeMode changed on one created BUFFERED.
        if "InvokeMode" in body:
            _create(ctx, name, {**body, "AuthType": "NONE"}, InvokeMode="BUFFERED")
            return ctx.lam.update_function_url_config(
                FunctionName=name, InvokeMode=body["InvokeMode"], **extra
            )
        _create(ctx, name, {**body, "AuthType": "NONE"})
        return ctx.lam.update_function_url_config(
            FunctionName=name, AuthType=body["AuthType"], **extra
        )
    _create(ctx, name, body)
    return ctx.lam.delete_function_url_config(FunctionName=name, **extra)


URL_REPLAYS: dict[str, Replay] = dict.fromkeys(
    (
        "CreateFunctionUrlConfig",
        "GetFunctionUrlConfig",
        "UpdateFunctionUrlConfig",
        "DeleteFunctionUrlConfig",
        "ListFunctionUrlConfigs",
    ),
    url_config,
)
