"""Code-signing configurations: the signing profiles a function's code must be signed by,
and what a deployment whose signature fails the checks does (Warn or Enforce).

Lambda verifies signatures that AWS Signer put on objects in S3; a zip upload, the only
code Ember takes, carries none, so Ember can verify nothing. It stores and reports the
configurations and which functions use them, as Lambda does, and fails closed: under
Enforce every deployment of a function's code is refused (CodeVerificationFailed), under
Warn it goes ahead, as Lambda lets a failed check through. Kept in memory, written through
to the store; a function's link goes with the function.
"""

from __future__ import annotations

import asyncio
import builtins
import dataclasses
import enum
import uuid
from typing import Any

from ember.blocking import run_blocking
from ember.clock import Clock, iso_millis
from ember.config import Settings
from ember.control.functions import FunctionService
from ember.control.model import LATEST, FunctionConfig
from ember.errors import (
    CodeSigningConfigMissingError,
    CodeSigningConfigNotFoundError,
    CodeVerificationFailedError,
    ResourceConflictError,
    ResourceNotFoundError,
)
from ember.store import MetadataStore

KIND = "code-signing-config"
LINK_KIND = "function-code-signing-config"  # function name -> config ARN


class Policy(enum.StrEnum):
    """CodeSigningPolicies.UntrustedArtifactOnDeployment."""

    WARN = "Warn"
    ENFORCE = "Enforce"


@dataclasses.dataclass(frozen=True, slots=True)
class CodeSigningConfig:
    config_id: str  # csc-<17 characters>
    arn: str
    profile_arns: tuple[str, ...]  # AllowedPublishers.SigningProfileVersionArns
    policy: Policy
    last_modified: str
    description: str = ""
    tags: dict[str, str] = dataclasses.field(default_factory=dict)

    def to_doc(self) -> dict[str, Any]:
        doc = dataclasses.asdict(self)
        doc["profile_arns"] = list(self.profile_arns)
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> CodeSigningConfig:
        values = dict(doc)
        values["profile_arns"] = tuple(values["profile_arns"])
        values["policy"] = Policy(values["policy"])
        return cls(**values)


def not_found(arn: str) -> CodeSigningConfigMissingError:
    return CodeSigningConfigMissingError(
        f"The Lambda code signing configuration {arn} can not be found."
    )


class CodeSigningConfigs:
    def __init__(
        self,
        settings: Settings,
        metadata: MetadataStore,
        functions: FunctionService,
        clock: Clock,
    ) -> None:
        self._settings = settings
        self._metadata = metadata
        self._functions = functions
        self._clock = clock
        self._configs: dict[str, CodeSigningConfig] = {}  # ARN -> config
        self._links: dict[str, str] = {}  # function name -> config ARN
        self._write_lock = asyncio.Lock()
        functions.add_listener(self._on_change)
        functions.add_dependent(self._documents_of_function)

    async def load(self) -> None:
        """Read every config and function link (after functions are loaded)."""
        for doc in (await run_blocking(self._metadata.load, KIND)).values():
            config = CodeSigningConfig.from_doc(doc)
            self._configs[config.arn] = config
        stale = []
        for name, doc in (await run_blocking(self._metadata.load, LINK_KIND)).items():
            try:
                self._functions.get(name)
            except ResourceNotFoundError:
                stale.append((LINK_KIND, name))
                continue
            self._links[name] = doc["config_arn"]
        if stale:
            await run_blocking(self._metadata.write, deletes=stale)

    # -- configurations ---------------------------------------------------------------

    def get(self, arn: str) -> CodeSigningConfig:
        config = self._configs.get(arn)
        if config is None:
            raise not_found(arn)
        return config

    def list(self) -> list[CodeSigningConfig]:
        return sorted(self._configs.values(), key=lambda c: c.arn)

    async def create(
        self,
        profile_arns: builtins.list[str],
        *,
        policy: Policy = Policy.WARN,
        description: str = "",
        tags: dict[str, str] | None = None,
    ) -> CodeSigningConfig:
        config_id = "csc-" + uuid.uuid4().hex[:17]
        s = self._settings
        config = CodeSigningConfig(
            config_id=config_id,
            arn=f"arn:aws:lambda:{s.region}:{s.account_id}:code-signing-config:{config_id}",
            profile_arns=tuple(profile_arns),
            policy=policy,
            last_modified=iso_millis(self._clock.wall(), "+0000"),
            description=description,
            tags=dict(tags or {}),
        )
        await self._commit(config)
        return config

    async def update(
        self,
        arn: str,
        *,
        profile_arns: builtins.list[str] | None = None,
        policy: Policy | None = None,
        description: str | None = None,
    ) -> CodeSigningConfig:
        """Change the members given, keep the others."""
        old = self.get(arn)
        changes: dict[str, Any] = {}
        if profile_arns is not None:
            changes["profile_arns"] = tuple(profile_arns)
        if policy is not None:
            changes["policy"] = policy
        if description is not None:
            changes["description"] = description
        if not changes:
            return old
        changes["last_modified"] = iso_millis(self._clock.wall(), "+0000")
        config = dataclasses.replace(old, **changes)
        await self._commit(config)
        return config

    async def delete(self, arn: str) -> None:
        self.get(arn)
        async with self._write_lock:
            users = self.functions_using(arn)
            if users:
                raise ResourceConflictError(
                    f"The code signing configuration {arn} cannot be deleted because it is "
                    f"used by {len(users)} function(s): {', '.join(users)}"
                )
            await run_blocking(self._metadata.write, deletes=[(KIND, arn)])
            self._configs.pop(arn, None)

    # -- functions ----------------------------------------------------------------------

    def functions_using(self, arn: str) -> builtins.list[str]:
        """The (unqualified) ARNs of the functions that use the config."""
        return [self._functions.arn(n) for n, a in sorted(self._links.items()) if a == arn]

    def of_function(self, name: str) -> str | None:
        """The config ARN function `name` uses, if any (the function must exist)."""
        self._functions.get(name)
        return self._links.get(name)

    def require(self, arn: str) -> CodeSigningConfig:
        """The config a function is to use: CodeSigningConfigNotFound when it is missing."""
        config = self._configs.get(arn)
        if config is None:
            raise CodeSigningConfigNotFoundError(
                "The code signing configuration cannot be found. Check that the provided "
                f"configuration is not deleted: {arn}."
            )
        return config

    async def attach(self, name: str, arn: str) -> None:
        """PutFunctionCodeSigningConfig (the config is checked before the function, as AWS
        answers a request where both are missing)."""
        self.require(arn)
        async with self._write_lock:
            self._functions.get(name)
            self.require(arn)  # not deleted meanwhile
            doc = {"function_name": name, "config_arn": arn}
            await run_blocking(self._metadata.write, puts=[(LINK_KIND, name, doc)])
            self._links[name] = arn

    async def detach(self, name: str) -> None:
        """DeleteFunctionCodeSigningConfig: nothing to remove is not an error."""
        self._functions.get(name)
        async with self._write_lock:
            if name in self._links:
                await run_blocking(self._metadata.write, deletes=[(LINK_KIND, name)])
                self._links.pop(name, None)

    def check_deployment(self, arn: str | None) -> None:
        """Code is about to be deployed under config `arn` (None: no code signing). Nothing
        Ember receives can be verified: Enforce refuses it, Warn lets it through."""
        if arn is None:
            return
        config = self.require(arn)
        if config.policy is Policy.ENFORCE:
            raise CodeVerificationFailedError(
                "Ember cannot verify code signatures (a zip upload carries none; AWS Signer "
                f"signs objects in S3), and the code signing configuration {arn} enforces "
                "them (UntrustedArtifactOnDeployment: Enforce). Use Warn to deploy unverified "
                "code."
            )

    # -- internals ------------------------------------------------------------------------

    async def _commit(self, config: CodeSigningConfig) -> None:
        async with self._write_lock:
            await run_blocking(self._metadata.write, puts=[(KIND, config.arn, config.to_doc())])
            self._configs[config.arn] = config

    def _documents_of_function(self, name: str) -> builtins.list[tuple[str, str]]:
        return [(LINK_KIND, name)] if name in self._links else []

    def _on_change(self, old: FunctionConfig | None, new: FunctionConfig | None) -> None:
        if old is not None and new is None and old.version == LATEST:
            self._links.pop(old.name, None)
