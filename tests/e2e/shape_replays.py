"""Replays of AWS's recorded successful answers: from what one answer shows (the function's
configuration, an alias, a config, a layer…) build the same resources on Ember and make
the same call; the replay returns Ember's answer as the recording shows answers.

The recordings come from LocalStack's test scenarios, whose calls are not in the data; a
replay reaches the recorded state by the shortest road and says so where it differs."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import ClientError

from tests.e2e.apicalls import ACCOUNT, HANDLER_CODE, REGION, RUNTIME, unique, wait_settled
from tests.e2e.harness import ROLE, Server, make_zip, wait_until
from tests.e2e.mapping_shapes import MAPPING_REPLAYS
from tests.e2e.oci_images import small_image
from tests.e2e.recorded_shapes import Recorded, is_placeholder

_PLACEHOLDER = re.compile(r"<<[^<>]+>:\d+>|<[^<>]+>")
RAISING_CODE = "def handler(event, context):\n    raise RuntimeError('recorded failure')\n"
FAILING_INIT = "raise RuntimeError('init fails')\ndef handler(event, context):\n    return 1\n"
# Configuration members a replay passes to CreateFunction as the recording shows them.
_CREATE_MEMBERS = ("Description", "Timeout", "MemorySize", "Handler")


@dataclasses.dataclass(frozen=True)
class Ctx:
    server: Server
    lam: Any
    lax: Any  # without botocore's client-side checks
    installed: frozenset[str]  # the runtimes this server runs


# Returns boto3's answer to the replayed call (ResponseMetadata included).
Replay = Callable[[Ctx, Recorded], Any]


def configuration(row: Recorded) -> dict[str, Any]:
    """The function configuration a function-shaped answer shows."""
    body = row.body
    if "Configuration" in body:
        return dict(body["Configuration"])
    for listed in ("Versions", "Functions"):
        if body.get(listed):
            return dict(body[listed][0])
    return dict(body)


def runtime_for(ctx: Ctx, config: dict[str, Any]) -> str:
    """The recorded runtime when this server runs it, else its own Python."""
    runtime = config.get("Runtime")
    return runtime if runtime in ctx.installed else RUNTIME


def _many_files() -> dict[str, str | bytes]:
    """A package whose unpacking is slow enough for a call to find it still in progress."""
    files: dict[str, str | bytes] = {f"pkg/m{i}.py": "x = 1\n" for i in range(2000)}
    files["index.py"] = HANDLER_CODE
    return files


def create_like(
    ctx: Ctx,
    config: dict[str, Any],
    *,
    name: str | None = None,
    files: Mapping[str, str | bytes] | None = None,
    wait: bool = True,
    **extra: Any,
) -> tuple[str, dict[str, Any]]:
    """A function configured as `config` shows (what Ember can take of it)."""
    name = name or unique("shape")
    args: dict[str, Any] = {
        "FunctionName": name,
        "Role": ROLE,
        "Runtime": runtime_for(ctx, config),
        "Handler": "index.handler",
        "Code": {"ZipFile": make_zip(files or {"index.py": HANDLER_CODE})},
    }
    image = config.get("PackageType") == "Image"
    if image:  # a container image function: a small OCI image built by the tests
        del args["Runtime"], args["Handler"]
        args.update(PackageType="Image", Code={"ImageUri": small_image()})
        if config.get("ImageConfigResponse"):
            args["ImageConfig"] = config["ImageConfigResponse"]["ImageConfig"]
    for member in _CREATE_MEMBERS:
        if image and member == "Handler":
            continue
        if member in config and not is_placeholder(config[member]):
            args[member] = config[member]
    if "Environment" in config:
        variables = config["Environment"].get("Variables", {})
        args["Environment"] = {"Variables": {k: _unplaceheld(v) for k, v in variables.items()}}
    if "EphemeralStorage" in config:
        args["EphemeralStorage"] = config["EphemeralStorage"]
    if config.get("Architectures"):
        args["Architectures"] = config["Architectures"]
    if "TracingConfig" in config:
        args["TracingConfig"] = config["TracingConfig"]
    if "LoggingConfig" in config:
        logging = dict(config["LoggingConfig"])
        if is_placeholder(logging.get("LogGroup", "")) or "<" in logging.get("LogGroup", ""):
            logging.pop("LogGroup")  # the function's own group, under its name
        args["LoggingConfig"] = logging
    if config.get("Layers"):
        args["Layers"] = [publish_layer(ctx)["LayerVersionArn"] for _ in config["Layers"]]
    dead_letter = config.get("DeadLetterConfig", {}).get("TargetArn", "")
    if ":sqs:" in dead_letter or ":sns:" in dead_letter:  # taken unseen, as on AWS
        args["DeadLetterConfig"] = {"TargetArn": _concrete(dead_letter)}
    args.update(extra)
    created: dict[str, Any] = ctx.lam.create_function(**args)
    if wait:
        wait_settled(ctx.lam, name)
    return name, created


def publish_layer(ctx: Ctx, name: str | None = None, **kwargs: Any) -> dict[str, Any]:
    content = make_zip({"python/shape_layer.py": "X = 1\n"})
    layer: dict[str, Any] = ctx.lam.publish_layer_version(
        LayerName=name or unique("shape-layer"), Content={"ZipFile": content}, **kwargs
    )
    return layer


def publish_versions(ctx: Ctx, name: str, count: int) -> None:
    """Versions 1..count, each from a changed $LATEST."""
    for number in range(1, count + 1):
        if number > 1:
            ctx.lam.update_function_configuration(FunctionName=name, Description=f"v{number}")
            wait_settled(ctx.lam, name)
        ctx.lam.publish_version(FunctionName=name)


# -- functions and versions -------------------------------------------------------------


def create_function(ctx: Ctx, row: Recorded) -> Any:
    config = configuration(row)
    publish = config.get("Version", "$LATEST") != "$LATEST"
    _, created = create_like(ctx, config, wait=False, Publish=publish)
    return created


def get_function(ctx: Ctx, row: Recorded) -> Any:
    config = configuration(row)
    state = config.get("State")
    call = (
        ctx.lam.get_function
        if row.operation == "GetFunction"
        else ctx.lam.get_function_configuration
    )
    version = config.get("Version", "$LATEST")
    if state == "Pending" and version != "$LATEST":
        # A version Publish=True made, read at once: Ember publishes it once the update has
        # settled (DIFFERENCES), so it is read then.
        name, _ = create_like(ctx, config)
        publish_versions(ctx, name, int(version) - 1)
        code = make_zip({"index.py": HANDLER_CODE + "# changed\n"})
        ctx.lam.update_function_code(FunctionName=name, ZipFile=code, Publish=True)
        wait_settled(ctx.lam, name)
        return call(FunctionName=name, Qualifier=version)
    if state == "Pending":
        # Caught before it settles: a slow package, read at once.
        for _ in range(5):
            name, _ = create_like(ctx, config, files=_many_files(), wait=False)
            answer = call(FunctionName=name)
            if _config_of(answer).get("State") == "Pending":
                return answer
        raise AssertionError("the function was Active before it could be read Pending")
    extra: dict[str, Any] = {}
    if row.body.get("Tags"):
        extra["Tags"] = {k: _unplaceheld(v) for k, v in row.body["Tags"].items()}
    name, _ = create_like(ctx, config, **extra)
    reserved = row.body.get("Concurrency", {}).get("ReservedConcurrentExecutions")
    if reserved is not None:
        ctx.lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=reserved)
    if config.get("LastUpdateStatus") == "InProgress":
        for attempt in range(5):
            files = {**_many_files(), "index.py": HANDLER_CODE + f"# {attempt}\n"}
            ctx.lam.update_function_code(FunctionName=name, ZipFile=make_zip(files))
            qualifier = _qualifier(config)
            answer = call(FunctionName=name, **({"Qualifier": qualifier} if qualifier else {}))
            if _config_of(answer).get("LastUpdateStatus") == "InProgress":
                return answer
            wait_settled(ctx.lam, name)
        raise AssertionError("the update settled before it could be read InProgress")
    qualifier = _qualifier(config)
    if qualifier is None:
        return call(FunctionName=name)
    if version != "$LATEST":
        publish_versions(ctx, name, int(version))
    if qualifier not in (version, "$LATEST"):
        ctx.lam.create_alias(FunctionName=name, Name=qualifier, FunctionVersion=version)
    return call(FunctionName=name, Qualifier=qualifier)


def _qualifier(config: dict[str, Any]) -> str | None:
    """What the recorded call named after the function (its FunctionArn's last part)."""
    parts = _unplaceheld(config.get("FunctionArn", "")).split(":")
    return parts[7] if len(parts) > 7 else None


def _concrete(arn: str) -> str:
    """A recorded ARN made one of ours: our partition, region and account."""
    arn = arn.replace("<partition>", "aws").replace("<region>", REGION)
    return _unplaceheld(arn.replace("111111111111", ACCOUNT))


def _unplaceheld(text: str) -> str:
    """`text` with each recorded placeholder made a plain token (`<custom-tag>` ->
    `custom-tag`), so that it splits and validates like a value (any value matches it)."""
    return _PLACEHOLDER.sub(lambda m: re.sub(r"[^A-Za-z0-9_-]", "-", m.group(0).strip("<>")), text)


def _config_of(answer: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = answer.get("Configuration", answer)
    return config


def update_function_configuration(ctx: Ctx, row: Recorded) -> Any:
    config = configuration(row)
    name, _ = create_like(ctx, {k: v for k, v in config.items() if k != "Environment"})
    changes: dict[str, Any] = {
        m: config[m] for m in ("Description", "Timeout", "MemorySize") if m in config
    }
    if "Environment" in config:
        changes["Environment"] = {"Variables": dict(config["Environment"].get("Variables", {}))}
    if config.get("PackageType") == "Image":  # the recorded ImageConfig ({} removes it)
        changes["ImageConfig"] = config.get("ImageConfigResponse", {}).get("ImageConfig", {})
    answer = ctx.lam.update_function_configuration(FunctionName=name, **changes)
    return answer


def update_function_code(ctx: Ctx, row: Recorded) -> Any:
    config = configuration(row)
    name, _ = create_like(ctx, config)
    version = config.get("Version", "$LATEST")
    publish = version != "$LATEST"
    if publish:
        publish_versions(ctx, name, int(version) - 1)
        if int(version) > 1:
            ctx.lam.update_function_configuration(FunctionName=name, Description="changed")
            wait_settled(ctx.lam, name)
            ctx.lam.update_function_configuration(
                FunctionName=name, Description=config.get("Description", "")
            )
            wait_settled(ctx.lam, name)
    code = make_zip({"index.py": HANDLER_CODE + "# changed\n"})
    new: dict[str, Any] = {"ZipFile": code}
    if config.get("PackageType") == "Image":
        new = {"ImageUri": small_image("b")}
    answer: dict[str, Any] = ctx.lam.update_function_code(FunctionName=name, Publish=publish, **new)
    return answer


def publish_version(ctx: Ctx, row: Recorded) -> Any:
    config = configuration(row)
    name, _ = create_like(ctx, config)
    number = int(config["Version"])
    publish_versions(ctx, name, number - 1)
    if number > 1:
        ctx.lam.update_function_configuration(FunctionName=name, Description="changed")
        wait_settled(ctx.lam, name)
    description = config.get("Description")
    kwargs = {} if description is None else {"Description": description}
    return ctx.lam.publish_version(FunctionName=name, **kwargs)


def list_versions_by_function(ctx: Ctx, row: Recorded) -> Any:
    versions = row.body["Versions"]
    name, _ = create_like(ctx, versions[0])
    numbered = {int(v["Version"]): v for v in versions[1:]}
    for number in range(1, max(numbered, default=0) + 1):
        ctx.lam.update_function_configuration(FunctionName=name, Description=f"v{number}")
        wait_settled(ctx.lam, name)
        description = numbered.get(number, {}).get("Description", "")
        ctx.lam.publish_version(FunctionName=name, Description=description)
        if number not in numbered:  # deleted in the recording
            ctx.lam.delete_function(FunctionName=name, Qualifier=str(number))
    ctx.lam.update_function_configuration(
        FunctionName=name, Description=versions[0].get("Description", "")
    )
    wait_settled(ctx.lam, name)
    answer: dict[str, Any] = ctx.lam.list_versions_by_function(FunctionName=name)
    return answer


def list_functions(ctx: Ctx, row: Recorded) -> Any:
    # Names that sort as the recording lists them; only ours are kept from the listing.
    stem = unique("listed")
    names: dict[str, str] = {}  # recorded name -> ours
    for config in row.body["Functions"]:
        recorded = config["FunctionName"]
        if recorded not in names:
            names[recorded] = create_like(ctx, config, name=f"{stem}-{len(names):02d}")[0]
        elif config["Version"] != "$LATEST":
            publish_versions(ctx, names[recorded], int(config["Version"]))
    every = any(f["FunctionArn"].endswith(":$LATEST") for f in row.body["Functions"])
    kwargs = {"FunctionVersion": "ALL"} if every else {}
    pages = ctx.lam.get_paginator("list_functions").paginate(**kwargs)
    ours = set(names.values())
    found = [f for page in pages for f in page["Functions"] if f["FunctionName"] in ours]
    return {"Functions": found}


def delete_function(ctx: Ctx, row: Recorded) -> Any:
    name, _ = create_like(ctx, {})
    return ctx.lam.delete_function(FunctionName=name)


# -- aliases ----------------------------------------------------------------------------


def _alias_args(alias: dict[str, Any]) -> dict[str, Any]:
    args: dict[str, Any] = {"Name": alias["Name"], "FunctionVersion": alias["FunctionVersion"]}
    if "Description" in alias:
        args["Description"] = alias["Description"]
    if "RoutingConfig" in alias:
        args["RoutingConfig"] = alias["RoutingConfig"]
    return args


def _function_for_aliases(ctx: Ctx, aliases: list[dict[str, Any]]) -> str:
    numbers = [1]
    for alias in aliases:
        if alias["FunctionVersion"].isdigit():
            numbers.append(int(alias["FunctionVersion"]))
        weights = alias.get("RoutingConfig", {}).get("AdditionalVersionWeights", {})
        numbers += [int(v) for v in weights]
    name, _ = create_like(ctx, {})
    publish_versions(ctx, name, max(numbers))
    return name


def alias_operation(ctx: Ctx, row: Recorded) -> Any:
    if row.operation == "ListAliases":
        aliases = list(row.body["Aliases"])
        name = _function_for_aliases(ctx, aliases)
        for alias in aliases:
            ctx.lam.create_alias(FunctionName=name, **_alias_args(alias))
        return ctx.lam.list_aliases(FunctionName=name)
    if row.operation == "DeleteAlias":
        name = _function_for_aliases(ctx, [])
        ctx.lam.create_alias(FunctionName=name, Name="doomed", FunctionVersion="1")
        return ctx.lam.delete_alias(FunctionName=name, Name="doomed")
    alias = dict(row.body)
    if is_placeholder(alias["Name"]):
        alias["Name"] = unique("alias")
    name = _function_for_aliases(ctx, [alias])
    args = _alias_args(alias)
    if row.operation == "CreateAlias":
        return ctx.lam.create_alias(FunctionName=name, **args)
    if row.operation == "GetAlias":
        ctx.lam.create_alias(FunctionName=name, **args)
        return ctx.lam.get_alias(FunctionName=name, Name=alias["Name"])
    ctx.lam.create_alias(FunctionName=name, Name=alias["Name"], FunctionVersion="1")
    return ctx.lam.update_alias(FunctionName=name, **args)


# -- concurrency ------------------------------------------------------------------------


def reserved_concurrency(ctx: Ctx, row: Recorded) -> Any:
    name, _ = create_like(ctx, {})
    value = row.body.get("ReservedConcurrentExecutions")
    if row.operation == "PutFunctionConcurrency":
        answer = ctx.lam.put_function_concurrency(
            FunctionName=name, ReservedConcurrentExecutions=value
        )
    elif row.operation == "GetFunctionConcurrency":
        if value is not None:
            ctx.lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=value)
        answer = ctx.lam.get_function_concurrency(FunctionName=name)
    else:
        ctx.lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
        answer = ctx.lam.delete_function_concurrency(FunctionName=name)
    return answer


def provisioned_concurrency(ctx: Ctx, row: Recorded) -> Any:
    failing = row.body.get("Status") == "FAILED"
    files = {"index.py": FAILING_INIT if failing else HANDLER_CODE}
    name, _ = create_like(ctx, {}, files=files)
    ctx.lam.publish_version(FunctionName=name)
    try:
        return _provisioned_call(ctx, row, name)
    finally:
        ctx.lam.delete_function(FunctionName=name)  # releases its environments


def _provisioned_call(ctx: Ctx, row: Recorded, name: str) -> Any:
    lam = ctx.lam
    if row.operation == "ListProvisionedConcurrencyConfigs":
        answer: dict[str, Any] = lam.list_provisioned_concurrency_configs(FunctionName=name)
        return answer
    if row.operation == "DeleteProvisionedConcurrencyConfig":
        answer = lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier="1")
        return answer
    put = lam.put_provisioned_concurrency_config(
        FunctionName=name,
        Qualifier="1",
        ProvisionedConcurrentExecutions=row.body["RequestedProvisionedConcurrentExecutions"],
    )
    if row.operation == "PutProvisionedConcurrencyConfig":
        return dict(put)
    status = row.body["Status"]

    def reached() -> dict[str, Any] | None:
        got: dict[str, Any] = lam.get_provisioned_concurrency_config(
            FunctionName=name, Qualifier="1"
        )
        return got if status == "IN_PROGRESS" or got["Status"] == status else None

    found: dict[str, Any] = wait_until(reached, limit=60)
    return found


# -- event invoke configs ---------------------------------------------------------------


def _eic_args(ctx: Ctx, doc: dict[str, Any]) -> dict[str, Any]:
    args: dict[str, Any] = {
        m: doc[m] for m in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds") if m in doc
    }
    destinations: dict[str, Any] = {}
    for side, target in doc.get("DestinationConfig", {}).items():
        arn = target.get("Destination")
        if arn is not None and (":sqs:" in arn or ":sns:" in arn):
            destinations[side] = {"Destination": _concrete(arn)}  # taken unseen, as on AWS
        elif arn is None or ":function:" not in arn:
            destinations[side] = {}  # none, or one Ember cannot deliver to (DIFFERENCES)
        else:
            # A function of ours stands for the recorded one.
            other, _ = create_like(ctx, {})
            config = ctx.lam.get_function_configuration(FunctionName=other)
            destinations[side] = {"Destination": config["FunctionArn"]}
    if destinations:
        args["DestinationConfig"] = destinations
    return args


def _qualified(ctx: Ctx, name: str, function_arn: str) -> str:
    """The qualifier the recorded FunctionArn ends with, made to exist on `name`."""
    qualifier = function_arn.rsplit(":", 1)[-1]
    if qualifier != "$LATEST":
        ctx.lam.publish_version(FunctionName=name)
        if not qualifier.isdigit():
            ctx.lam.create_alias(FunctionName=name, Name=qualifier, FunctionVersion="1")
    return qualifier


def event_invoke_config(ctx: Ctx, row: Recorded) -> Any:
    lam = ctx.lam
    name, _ = create_like(ctx, {})
    if row.operation == "ListFunctionEventInvokeConfigs":
        for doc in row.body["FunctionEventInvokeConfigs"]:
            qualifier = _qualified(ctx, name, doc["FunctionArn"])
            lam.put_function_event_invoke_config(
                FunctionName=name, Qualifier=qualifier, **_eic_args(ctx, doc)
            )
        return lam.list_function_event_invoke_configs(FunctionName=name)
    if row.operation == "DeleteFunctionEventInvokeConfig":
        lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1)
        return lam.delete_function_event_invoke_config(FunctionName=name)
    qualifier = _qualified(ctx, name, row.body["FunctionArn"])
    args = _eic_args(ctx, row.body)
    if row.operation == "PutFunctionEventInvokeConfig":
        answer = lam.put_function_event_invoke_config(
            FunctionName=name, Qualifier=qualifier, **args
        )
    elif row.operation == "UpdateFunctionEventInvokeConfig":
        lam.put_function_event_invoke_config(FunctionName=name, Qualifier=qualifier, **args)
        answer = lam.update_function_event_invoke_config(
            FunctionName=name, Qualifier=qualifier, **args
        )
    else:
        lam.put_function_event_invoke_config(FunctionName=name, Qualifier=qualifier, **args)
        answer = lam.get_function_event_invoke_config(FunctionName=name, Qualifier=qualifier)
    return answer


# -- layers -----------------------------------------------------------------------------


def _layer_args(doc: dict[str, Any]) -> dict[str, Any]:
    args: dict[str, Any] = {}
    for member in ("CompatibleRuntimes", "CompatibleArchitectures", "Description", "LicenseInfo"):
        if member in doc:
            args[member] = doc[member]
    return args


def layer_operation(ctx: Ctx, row: Recorded) -> Any:
    lam, op, body = ctx.lam, row.operation, row.body
    layer = unique("shape-layer")
    if op in ("PublishLayerVersion", "GetLayerVersion", "GetLayerVersionByArn"):
        published = [publish_layer(ctx, layer, **_layer_args(body)) for _ in range(body["Version"])]
        if op == "PublishLayerVersion":
            return published[-1]
        if op == "GetLayerVersionByArn":
            return lam.get_layer_version_by_arn(Arn=published[-1]["LayerVersionArn"])
        return lam.get_layer_version(LayerName=layer, VersionNumber=body["Version"])
    if op == "ListLayerVersions":
        listed = body["LayerVersions"]
        if listed:
            for number in range(1, max(v["Version"] for v in listed) + 1):
                doc = next((v for v in listed if v["Version"] == number), listed[-1])
                publish_layer(ctx, layer, **_layer_args(doc))
        return lam.list_layer_versions(LayerName=layer)
    if op == "DeleteLayerVersion":
        publish_layer(ctx, layer)
        return lam.delete_layer_version(LayerName=layer, VersionNumber=1)
    publish_layer(ctx, layer)
    if op == "GetLayerVersionPolicy":
        statements = body["Policy"]["Statement"]
    else:
        statements = [body.get("Statement") or {"Sid": "s1", "Principal": "*"}]
    added = None
    for statement in statements:
        added = lam.add_layer_version_permission(
            LayerName=layer,
            VersionNumber=1,
            StatementId=statement["Sid"],
            Action="lambda:GetLayerVersion",
            Principal=statement["Principal"],
        )
    if op == "AddLayerVersionPermission":
        assert added is not None
        return added
    if op == "GetLayerVersionPolicy":
        return lam.get_layer_version_policy(LayerName=layer, VersionNumber=1)
    answer = lam.remove_layer_version_permission(LayerName=layer, VersionNumber=1, StatementId="s1")
    return answer


# -- invoke -----------------------------------------------------------------------------


_INVOKE_TARGETS: dict[tuple[int, bool, int], str] = {}  # (server port, failing, versions)


def _invoke_target(ctx: Ctx, failing: bool, versions: int) -> str:
    """One function per kind of invoke the recordings make, shared by their rows."""
    key = (ctx.server.port, failing, versions)
    if key not in _INVOKE_TARGETS:
        files: dict[str, str | bytes] = {"index.py": RAISING_CODE if failing else HANDLER_CODE}
        name, _ = create_like(ctx, {}, files=files)
        publish_versions(ctx, name, versions)
        _INVOKE_TARGETS[key] = name
    return _INVOKE_TARGETS[key]


def invoke(ctx: Ctx, row: Recorded) -> Any:
    body = row.body
    status = body.get("StatusCode", 200)
    version = body.get("ExecutedVersion", "$LATEST")
    versions = int(version) if version.isdigit() else 0
    name = _invoke_target(ctx, "FunctionError" in body, versions)
    kwargs: dict[str, Any] = {"FunctionName": name, "Payload": b"{}"}
    kwargs["InvocationType"] = {202: "Event", 204: "DryRun"}.get(status, "RequestResponse")
    if "LogResult" in body:
        kwargs["LogType"] = "Tail"
    if versions:
        kwargs["Qualifier"] = version
    try:
        return ctx.lam.invoke(**kwargs)
    except ClientError as exc:  # pragma: no cover - reported by the comparison
        raise AssertionError(f"the invoke failed: {exc}") from exc


# -- code signing -----------------------------------------------------------------------


def _csc_args(doc: dict[str, Any]) -> dict[str, Any]:
    profiles = doc.get("AllowedPublishers", {}).get("SigningProfileVersionArns", [])
    arns = [_concrete(arn) for arn in profiles]
    args: dict[str, Any] = {"AllowedPublishers": {"SigningProfileVersionArns": arns}}
    if "CodeSigningPolicies" in doc:
        args["CodeSigningPolicies"] = doc["CodeSigningPolicies"]
    if "Description" in doc:
        args["Description"] = doc["Description"]
    return args


_CSC = {
    "AllowedPublishers": {
        "SigningProfileVersionArns": ["arn:aws:signer:us-east-1:000000000000:/signing-profiles/t"]
    }
}


def code_signing(ctx: Ctx, row: Recorded) -> Any:
    lam, op, body = ctx.lam, row.operation, row.body
    doc = body.get("CodeSigningConfig", {})
    if op == "CreateCodeSigningConfig":
        return lam.create_code_signing_config(**_csc_args(doc))
    arn = lam.create_code_signing_config(**(_csc_args(doc) if doc else _CSC))["CodeSigningConfig"][
        "CodeSigningConfigArn"
    ]
    if op == "UpdateCodeSigningConfig":
        return lam.update_code_signing_config(CodeSigningConfigArn=arn, **_csc_args(doc))
    if op == "GetCodeSigningConfig":
        return lam.get_code_signing_config(CodeSigningConfigArn=arn)
    if op == "DeleteCodeSigningConfig":
        return lam.delete_code_signing_config(CodeSigningConfigArn=arn)
    name, _ = create_like(ctx, {})
    attached = bool(body.get("CodeSigningConfigArn") or body.get("FunctionArns"))
    if op == "PutFunctionCodeSigningConfig":
        return lam.put_function_code_signing_config(CodeSigningConfigArn=arn, FunctionName=name)
    if attached or (op == "DeleteFunctionCodeSigningConfig" and "nothing" not in row.key):
        lam.put_function_code_signing_config(CodeSigningConfigArn=arn, FunctionName=name)
    if op == "GetFunctionCodeSigningConfig":
        return lam.get_function_code_signing_config(FunctionName=name)
    if op == "ListFunctionsByCodeSigningConfig":
        return lam.list_functions_by_code_signing_config(CodeSigningConfigArn=arn)
    return lam.delete_function_code_signing_config(FunctionName=name)


REPLAYS: dict[str, Replay] = {
    "CreateFunction": create_function,
    "GetFunction": get_function,
    "GetFunctionConfiguration": get_function,
    "UpdateFunctionConfiguration": update_function_configuration,
    "UpdateFunctionCode": update_function_code,
    "PublishVersion": publish_version,
    "ListVersionsByFunction": list_versions_by_function,
    "ListFunctions": list_functions,
    "DeleteFunction": delete_function,
    **dict.fromkeys(
        ("CreateAlias", "GetAlias", "UpdateAlias", "DeleteAlias", "ListAliases"), alias_operation
    ),
    **dict.fromkeys(
        ("PutFunctionConcurrency", "GetFunctionConcurrency", "DeleteFunctionConcurrency"),
        reserved_concurrency,
    ),
    **dict.fromkeys(
        (
            "PutProvisionedConcurrencyConfig",
            "GetProvisionedConcurrencyConfig",
            "ListProvisionedConcurrencyConfigs",
            "DeleteProvisionedConcurrencyConfig",
        ),
        provisioned_concurrency,
    ),
    **dict.fromkeys(
        (
            "PutFunctionEventInvokeConfig",
            "GetFunctionEventInvokeConfig",
            "UpdateFunctionEventInvokeConfig",
            "ListFunctionEventInvokeConfigs",
            "DeleteFunctionEventInvokeConfig",
        ),
        event_invoke_config,
    ),
    **dict.fromkeys(
        (
            "PublishLayerVersion",
            "GetLayerVersion",
            "GetLayerVersionByArn",
            "ListLayerVersions",
            "DeleteLayerVersion",
            "AddLayerVersionPermission",
            "GetLayerVersionPolicy",
            "RemoveLayerVersionPermission",
        ),
        layer_operation,
    ),
    "Invoke": invoke,
    **MAPPING_REPLAYS,
    **dict.fromkeys(
        (
            "CreateCodeSigningConfig",
            "GetCodeSigningConfig",
            "UpdateCodeSigningConfig",
            "DeleteCodeSigningConfig",
            "PutFunctionCodeSigningConfig",
            "GetFunctionCodeSigningConfig",
            "DeleteFunctionCodeSigningConfig",
            "ListFunctionsByCodeSigningConfig",
        ),
        code_signing,
    ),
}

# Resource policies, tags and recursion configs (tests/e2e/policy_replays.py).
from tests.e2e.policy_replays import POLICY_REPLAYS  # noqa: E402 - it imports this module

REPLAYS.update(POLICY_REPLAYS)

# Function URL configs (tests/e2e/url_replays.py).
from tests.e2e.url_replays import URL_REPLAYS  # noqa: E402 - it imports this module

REPLAYS.update(URL_REPLAYS)
