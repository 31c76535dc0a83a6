"""Resource-based policies of functions (AddPermission, RemovePermission, GetPolicy) and
the one question the front doors ask of them.

A policy belongs to one target: the unqualified function (`$LATEST`), one published
version, or one alias; each has its own statements and RevisionId, and goes when its
target is deleted. Kept in memory, written through to the store.

For the front doors (function URLs, API Gateway integrations):

    PolicyService.allows(function, qualifier, action, principal, *,
                         source_arn=None, source_account=None, url_auth_type=None) -> bool

`function` is a function name (not an ARN); `qualifier` None or "$LATEST" (the unqualified
function's policy), a version number or an alias name (that target's own policy: AWS
evaluates the policy of the ARN that was invoked). True when a statement of that policy
allows `action` (e.g. "lambda:InvokeFunction", "lambda:InvokeFunctionUrl"; a statement's
"lambda:*" or "*" covers every action) to `principal` and all its conditions hold:
- principal: "*" (an anonymous caller, as a NONE function URL's) is allowed only by a
  statement whose Principal is "*"; a service ("apigateway.amazonaws.com") by a statement
  naming that service or "*"; an account id or IAM ARN by the statement naming it (an
  account's root ARN covers its users and roles) or "*".
- conditions (IAM's operators StringEquals/StringNotEquals/StringLike/StringNotLike/
  ArnEquals/ArnLike/ArnNotEquals/ArnNotLike/Bool, keys case-insensitive, a list value
  meaning any of them): AWS:SourceArn against `source_arn` (ArnLike with `*`/`?` wildcards
  per ARN part, as IAM matches them: `arn:aws:execute-api:us-east-1:000000000000:abc123/*/GET/items`
  matches `.../abc123/prod/GET/items`); AWS:SourceAccount against `source_account`, or the
  account in `source_arn` when not given; lambda:FunctionUrlAuthType against
  `url_auth_type` ("NONE" | "AWS_IAM"); lambda:InvokedViaFunctionUrl is true when
  `url_auth_type` is given. A condition on a key the caller has no value for fails, as in
  IAM (so aws:PrincipalOrgID and lambda:EventSourceToken statements never allow a caller
  here: Ember knows no organisations or event source tokens).
A function or target that does not exist, or has no policy, allows nothing (False).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import logging
import re
import uuid
from typing import Any

from ember.blocking import run_blocking
from ember.config import Settings
from ember.control.aliases import AliasService
from ember.control.functions import FunctionService, not_found
from ember.control.model import LATEST, FunctionConfig
from ember.control.rules import REVISION_MISMATCH
from ember.errors import (
    InvalidParameterValueError,
    PolicyLengthExceededError,
    PreconditionFailedError,
    ResourceConflictError,
    ResourceNotFoundError,
)
from ember.store import MetadataStore

log = logging.getLogger("ember.control.policies")

KIND = "function-policy"
UNQUALIFIED = ""  # the target key of the unqualified function ($LATEST)

NO_RESOURCE = "The resource you requested does not exist."
NO_POLICY = "No policy is associated with the given resource."
POLICY_REVISION_MISMATCH = (
    "The Revision Id provided does not match the latest Revision Id. "
    "Call the GetPolicy API to retrieve the latest Revision Id"
)
POLICY_LIMIT = 20_480  # bytes of a function's resource policy (Lambda's quota)
BAD_PRINCIPAL = "The provided principal was invalid. Please check the principal and try again."
_ALIAS_NAME = re.compile(r"(?!^[0-9]+$)[a-zA-Z0-9-_]+")
_ACCOUNT = re.compile(r"\d{12}")
_IAM_ARN = re.compile(r"arn:aws[a-zA-Z-]*:iam::(\d{12}):(root|user/\S+|role/\S+|assumed-role/\S+)")
# Service principals: `s3.amazonaws.com`, `alexa-appkit.amazon.com`, `events.amazonaws.com.cn`.
_SERVICE = re.compile(r"[a-z0-9][a-z0-9.-]*\.(amazonaws\.com(\.cn)?|amazon\.com)")


@dataclasses.dataclass(frozen=True, slots=True)
class Policy:
    function_name: str
    target: str  # UNQUALIFIED, a version number or an alias name
    statements: tuple[dict[str, Any], ...]
    revision_id: str

    def document(self) -> str:
        """The policy as AWS answers GetPolicy's `Policy` (JSON text)."""
        doc = {"Version": "2012-10-17", "Id": "default", "Statement": list(self.statements)}
        return json.dumps(doc, separators=(",", ":"))

    def to_doc(self) -> dict[str, Any]:
        return {
            "function_name": self.function_name,
            "target": self.target,
            "statements": list(self.statements),
            "revision_id": self.revision_id,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Policy:
        return cls(
            doc["function_name"], doc["target"], tuple(doc["statements"]), doc["revision_id"]
        )


@dataclasses.dataclass(frozen=True, slots=True)
class Permission:
    """AddPermission's request, in control's words."""

    statement_id: str
    action: str
    principal: str
    source_arn: str | None = None
    source_account: str | None = None
    principal_org_id: str | None = None
    event_source_token: str | None = None
    function_url_auth_type: str | None = None
    invoked_via_function_url: bool | None = None


def _key(name: str, target: str) -> str:
    return f"{name}:{target}"


class PolicyService:
    def __init__(
        self,
        settings: Settings,
        metadata: MetadataStore,
        functions: FunctionService,
        aliases: AliasService,
    ) -> None:
        self._settings = settings
        self._metadata = metadata
        self._functions = functions
        self._aliases = aliases
        self._policies: dict[str, Policy] = {}  # "name:target" -> policy
        self._lock = asyncio.Lock()  # one read-modify-write of a policy at a time
        functions.add_listener(self._on_function_change)
        functions.add_dependent(self._documents_of_function)
        functions.add_version_dependent(self._documents_of_version)
        aliases.add_dependent(self._documents_of_alias, self._on_alias_deleted)

    async def load(self) -> None:
        """Read every policy (after functions and aliases); drop those of deleted targets."""
        stale = []
        for key, doc in (await run_blocking(self._metadata.load, KIND)).items():
            policy = Policy.from_doc(doc)
            if self._target_exists(policy.function_name, policy.target):
                self._policies[key] = policy
            else:
                stale.append((KIND, key))
        if stale:
            log.info("removing %d resource policies of deleted functions", len(stale))
            await run_blocking(self._metadata.write, deletes=stale)

    # -- the API --------------------------------------------------------------------

    async def add(
        self, name: str, qualifier: str | None, permission: Permission, revision_id: str | None
    ) -> dict[str, Any]:
        """AddPermission: the statement added."""
        if qualifier == LATEST:
            raise InvalidParameterValueError(
                "We currently do not support adding policies for $LATEST."
            )
        async with self._lock:
            target, resource, target_revision = self._resolve(name, qualifier)
            policy = self._policies.get(_key(name, target))
            if revision_id is not None:
                if policy is None and revision_id != target_revision:
                    raise PreconditionFailedError(POLICY_REVISION_MISMATCH)
                if policy is not None and revision_id != policy.revision_id:
                    raise PreconditionFailedError(REVISION_MISMATCH)
            sid = permission.statement_id
            if policy is not None and any(s["Sid"] == sid for s in policy.statements):
                raise ResourceConflictError(
                    f"The statement id ({sid}) provided already exists. Please provide a new "
                    "statement id, or remove the existing statement."
                )
            statement = build_statement(permission, resource)
            statements = (*policy.statements, statement) if policy is not None else (statement,)
            updated = Policy(name, target, statements, str(uuid.uuid4()))
            size = len(updated.document().encode())
            if size > POLICY_LIMIT:
                raise PolicyLengthExceededError(
                    f"The final policy size ({size}) is bigger than the limit ({POLICY_LIMIT})."
                )
            await self._save(updated)
        return statement

    async def remove(
        self, name: str, qualifier: str | None, statement_id: str, revision_id: str | None
    ) -> None:
        """RemovePermission; the policy goes with its last statement."""
        if not self._function_exists(name):
            suffix = f":{qualifier}" if qualifier else ""
            raise ResourceNotFoundError(f"No policy found for: {self._functions.arn(name)}{suffix}")
        async with self._lock:
            target, _, _ = self._resolve(name, qualifier)
            policy = self._policies.get(_key(name, target))
            if policy is None:
                raise ResourceNotFoundError(NO_POLICY)
            if revision_id is not None and revision_id != policy.revision_id:
                raise PreconditionFailedError(REVISION_MISMATCH)
            kept = tuple(s for s in policy.statements if s["Sid"] != statement_id)
            if len(kept) == len(policy.statements):
                raise ResourceNotFoundError(
                    f"Statement {statement_id} is not found in resource policy."
                )
            if kept:
                await self._save(dataclasses.replace(policy, statements=kept,
                                                     revision_id=str(uuid.uuid4())))  # fmt: skip
            else:
                key = _key(name, target)
                await run_blocking(self._metadata.write, deletes=[(KIND, key)])
                del self._policies[key]

    def get(self, name: str, qualifier: str | None) -> Policy:
        """GetPolicy: the target's policy (one AWS message for every kind of absence)."""
        try:
            target, _, _ = self._resolve(name, qualifier)
        except ResourceNotFoundError:
            raise ResourceNotFoundError(NO_RESOURCE) from None
        policy = self._policies.get(_key(name, target))
        if policy is None:
            raise ResourceNotFoundError(NO_RESOURCE)
        return policy

    # -- the front doors' question ----------------------------------------------------

    def allows(
        self,
        function: str,
        qualifier: str | None,
        action: str,
        principal: str,
        *,
        source_arn: str | None = None,
        source_account: str | None = None,
        url_auth_type: str | None = None,
    ) -> bool:
        """Whether the policy of `function` (at `qualifier`) lets `principal` do `action`:
        see the module docstring."""
        target = UNQUALIFIED if qualifier in (None, LATEST) else qualifier
        policy = self._policies.get(_key(function, target))
        if policy is None:
            return False
        return statements_allow(
            policy.statements,
            action,
            principal,
            source_arn=source_arn,
            source_account=source_account,
            url_auth_type=url_auth_type,
        )

    # -- internals --------------------------------------------------------------------

    def _function_exists(self, name: str) -> bool:
        try:
            self._functions.get(name)
        except ResourceNotFoundError:
            return False
        return True

    def _resolve(self, name: str, qualifier: str | None) -> tuple[str, str, str]:
        """(target key, the Resource ARN statements name, the target's RevisionId); raises
        AWS's not-found answers for the function, a version or an alias."""
        latest = self._functions.get(name)
        if qualifier is None or qualifier == LATEST:
            return UNQUALIFIED, latest.arn, latest.revision_id
        if qualifier.isdigit():
            version: FunctionConfig = self._functions.get(name, qualifier)
            return qualifier, version.qualified_arn, version.revision_id
        if _ALIAS_NAME.fullmatch(qualifier):
            alias = self._aliases.get(name, qualifier)
            return qualifier, alias.arn, alias.revision_id
        raise not_found(f"{latest.arn}:{qualifier}")

    def _target_exists(self, name: str, target: str) -> bool:
        try:
            self._resolve(name, target or None)
        except ResourceNotFoundError:
            return False
        return True

    async def _save(self, policy: Policy) -> None:
        key = _key(policy.function_name, policy.target)
        await run_blocking(self._metadata.write, puts=[(KIND, key, policy.to_doc())])
        if not self._target_exists(policy.function_name, policy.target):
            # Deleted while the write was under way (its delete could not see this policy).
            await run_blocking(self._metadata.write, deletes=[(KIND, key)])
            raise ResourceNotFoundError(NO_RESOURCE)
        self._policies[key] = policy

    def _documents_of_function(self, name: str) -> list[tuple[str, str]]:
        return [(KIND, k) for k, p in self._policies.items() if p.function_name == name]

    def _documents_of_version(self, name: str, version: str) -> list[tuple[str, str]]:
        key = _key(name, version)
        return [(KIND, key)] if key in self._policies else []

    def _documents_of_alias(self, name: str, alias: str) -> list[tuple[str, str]]:
        key = _key(name, alias)
        return [(KIND, key)] if key in self._policies else []

    def _on_alias_deleted(self, name: str, alias: str) -> None:
        self._policies.pop(_key(name, alias), None)

    def _on_function_change(self, old: FunctionConfig | None, new: FunctionConfig | None) -> None:
        if old is None or new is not None:
            return
        if old.version != LATEST:  # one published version went, its policy with it
            self._policies.pop(_key(old.name, old.version), None)
            return
        for key in [k for k, p in self._policies.items() if p.function_name == old.name]:
            del self._policies[key]


# -- statements ----------------------------------------------------------------------------


def principal_document(principal: str) -> str | dict[str, str]:
    """A Principal as AWS writes it in a statement: `*`, {"Service": …} or {"AWS": ARN}."""
    if principal == "*":
        return "*"
    if _ACCOUNT.fullmatch(principal):
        return {"AWS": f"arn:aws:iam::{principal}:root"}
    if _IAM_ARN.fullmatch(principal):
        return {"AWS": principal}
    if _SERVICE.fullmatch(principal):
        return {"Service": principal}
    raise InvalidParameterValueError(BAD_PRINCIPAL)


def build_statement(permission: Permission, resource: str) -> dict[str, Any]:
    """The statement AddPermission adds, members and conditions in AWS's order."""
    if (
        permission.function_url_auth_type is not None
        and permission.action.lower() != "lambda:invokefunctionurl"
    ):
        raise InvalidParameterValueError(
            "FunctionUrlAuthType is only supported for lambda:InvokeFunctionUrl action"
        )
    statement: dict[str, Any] = {
        "Sid": permission.statement_id,
        "Effect": "Allow",
        "Principal": principal_document(permission.principal),
        "Action": permission.action,
        "Resource": resource,
    }
    equals: dict[str, str] = {}
    if permission.source_account is not None:
        equals["AWS:SourceAccount"] = permission.source_account
    if permission.function_url_auth_type is not None:
        equals["lambda:FunctionUrlAuthType"] = permission.function_url_auth_type
    if permission.principal_org_id is not None:
        equals["aws:PrincipalOrgID"] = permission.principal_org_id
    if permission.event_source_token is not None:
        equals["lambda:EventSourceToken"] = permission.event_source_token
    condition: dict[str, dict[str, str]] = {}
    if equals:
        condition["StringEquals"] = equals
    if permission.source_arn is not None:
        condition["ArnLike"] = {"AWS:SourceArn": permission.source_arn}
    if permission.invoked_via_function_url:
        condition["Bool"] = {"lambda:InvokedViaFunctionUrl": "true"}
    if condition:
        statement["Condition"] = condition
    return statement


# -- evaluation ----------------------------------------------------------------------------


def statements_allow(
    statements: tuple[dict[str, Any], ...],
    action: str,
    principal: str,
    *,
    source_arn: str | None = None,
    source_account: str | None = None,
    url_auth_type: str | None = None,
) -> bool:
    """Whether one of `statements` allows the request (PolicyService.allows' rules)."""
    if source_account is None and source_arn is not None:
        parts = source_arn.split(":", 5)
        source_account = parts[4] if len(parts) == 6 and parts[4] else None
    context = {
        "aws:sourcearn": source_arn,
        "aws:sourceaccount": source_account,
        "lambda:functionurlauthtype": url_auth_type,
        "lambda:invokedviafunctionurl": None if url_auth_type is None else "true",
    }
    return any(
        s.get("Effect") == "Allow"
        and _action_matches(s.get("Action"), action)
        and _principal_matches(s.get("Principal"), principal)
        and _conditions_hold(s.get("Condition", {}), context)
        for s in statements
    )


def _action_matches(granted: Any, action: str) -> bool:
    actions = granted if isinstance(granted, list) else [granted]
    wanted = action.lower()
    return any(
        isinstance(a, str) and (a == "*" or a.lower() in (wanted, "lambda:*")) for a in actions
    )


def _principal_matches(granted: Any, principal: str) -> bool:
    if granted == "*":
        return True
    if principal == "*" or not isinstance(granted, dict):
        return False  # an anonymous caller needs a statement for everyone
    for kind, value in granted.items():
        values = value if isinstance(value, list) else [value]
        for item in values:
            if kind == "Service" and item == principal:
                return True
            if kind == "AWS" and (item == principal or _same_account(item, principal)):
                return True
    return False


def _same_account(granted: str, principal: str) -> bool:
    """An account's root ARN covers the account id and every IAM ARN of that account."""
    root = re.fullmatch(r"arn:aws[a-zA-Z-]*:iam::(\d{12}):root", granted)
    if root is None:
        return False
    account = root.group(1)
    found = _IAM_ARN.fullmatch(principal)
    return principal == account or (found is not None and found.group(1) == account)


def _conditions_hold(condition: dict[str, Any], context: dict[str, str | None]) -> bool:
    for operator, tests in condition.items():
        for key, expected in tests.items():
            actual = context.get(key.lower())
            wanted = expected if isinstance(expected, list) else [expected]
            if actual is None:
                return False  # IAM: a condition on a key the request lacks does not hold
            if not _operator_holds(operator, [str(w) for w in wanted], actual):
                return False
    return True


def _operator_holds(operator: str, wanted: list[str], actual: str) -> bool:
    if operator == "StringEquals":
        return actual in wanted
    if operator == "StringNotEquals":
        return actual not in wanted
    if operator == "StringEqualsIgnoreCase":
        return actual.lower() in (w.lower() for w in wanted)
    if operator == "StringLike":
        return any(_wildcard(w).fullmatch(actual) for w in wanted)
    if operator == "StringNotLike":
        return not any(_wildcard(w).fullmatch(actual) for w in wanted)
    if operator in ("ArnLike", "ArnEquals"):
        return any(arn_like(w, actual) for w in wanted)
    if operator in ("ArnNotLike", "ArnNotEquals"):
        return not any(arn_like(w, actual) for w in wanted)
    if operator == "Bool":
        return actual.lower() in (w.lower() for w in wanted)
    return False  # an operator Ember does not evaluate allows nothing


def arn_like(pattern: str, arn: str) -> bool:
    """IAM's ArnLike: the six colon-separated parts compared one by one, each with `*`
    (any run of characters) and `?` (one character) wildcards."""
    wanted = pattern.split(":", 5)
    parts = arn.split(":", 5)
    if len(wanted) != 6 or len(parts) != 6:
        return False
    return all(_wildcard(w).fullmatch(p) is not None for w, p in zip(wanted, parts, strict=True))


@functools.lru_cache(maxsize=1024)
def _wildcard(pattern: str) -> re.Pattern[str]:
    text = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(text, re.DOTALL)
