"""One HTTP API's resources as one durable document: the API itself, its routes,
integrations, authorizers, stages and deployments (each deployment keeps the routes,
integrations and authorizers it froze, which is what its stages serve)."""

from __future__ import annotations

import copy
import dataclasses
import secrets
import string
from collections.abc import Sequence
from typing import Any, Protocol

Doc = dict[str, Any]
KIND = "http-api"
_ALPHABET = string.ascii_lowercase + string.digits


class Documents(Protocol):
    """Where APIs are kept (the server's MetadataStore): blocking, call off the loop."""

    def write(
        self,
        puts: Sequence[tuple[str, str, dict[str, Any]]] = (),
        deletes: Sequence[tuple[str, str]] = (),
    ) -> None: ...

    def load(self, kind: str) -> dict[str, dict[str, Any]]: ...


def new_id(length: int) -> str:
    """Identifiers as AWS makes them: lowercase letters and digits (an API's 10, a route's,
    integration's or authorizer's 7, a deployment's 6)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


@dataclasses.dataclass(slots=True)
class ApiState:
    api: Doc
    routes: dict[str, Doc] = dataclasses.field(default_factory=dict)  # route id -> Route
    integrations: dict[str, Doc] = dataclasses.field(default_factory=dict)
    authorizers: dict[str, Doc] = dataclasses.field(default_factory=dict)
    stages: dict[str, Doc] = dataclasses.field(default_factory=dict)  # stage name -> Stage
    deployments: dict[str, Doc] = dataclasses.field(default_factory=dict)
    # deployment id -> {"routes", "integrations", "authorizers"} as they were deployed
    snapshots: dict[str, Doc] = dataclasses.field(default_factory=dict)

    @property
    def api_id(self) -> str:
        return str(self.api["ApiId"])

    def copy(self) -> ApiState:
        return copy.deepcopy(self)

    def snapshot(self) -> Doc:
        """What a deployment made now would serve."""
        return copy.deepcopy(
            {
                "routes": self.routes,
                "integrations": self.integrations,
                "authorizers": self.authorizers,
            }
        )

    def fresh_id(self, length: int, taken: dict[str, Doc]) -> str:
        while True:
            ident = new_id(length)
            if ident not in taken:
                return ident

    def to_doc(self) -> Doc:
        return dataclasses.asdict(self)

    @classmethod
    def from_doc(cls, doc: Doc) -> ApiState:
        return cls(**doc)
