"""The one frozen settings object, built once from CLI flags and passed down."""

from __future__ import annotations

import dataclasses
from pathlib import Path


@dataclasses.dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 9001
    data_dir: Path = Path(".ember")
    # An environment idle this long is shut down (Lambda keeps them for minutes).
    idle_timeout: float = 600.0
    # Between SIGTERM and SIGKILL when an environment is shut down.
    shutdown_grace: float = 2.0
    # The Init phase's budget (Lambda: 10 s for on-demand environments).
    init_timeout: float = 10.0
    region: str = "us-east-1"
    account_id: str = "000000000000"
    # Extra interpreters for runtimes, e.g. {"python3.12": "/opt/py312/bin/python3.12"}.
    interpreters: tuple[tuple[str, str], ...] = ()
    # The account's concurrency limit (Lambda's default quota: 1,000).
    concurrency_limit: int = 1000
    # New environments one function may add per `scale_window` seconds (Lambda: 1,000/10 s).
    scale_limit: int = 1000
    scale_window: float = 10.0
    # Folders of function folders (each with a function.json) deployed at start-up.
    deploy_dirs: tuple[Path, ...] = ()
    # How environments are isolated: "auto" (the best the host offers), "bwrap" (namespaces
    # required) or "none" (plain processes, no limits).
    isolation: str = "auto"
    # Multiplies every asynchronous-invocation delay (retry waits, backoff, maximum event
    # age); tests run Lambda's minutes-long schedule at e.g. 0.01.
    async_delay_scale: float = 1.0
    # Asynchronous events invoked at once, across functions (the dispatcher's bound).
    async_concurrency: int = 32

    @property
    def code_dir(self) -> Path:
        return self.data_dir / "code"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def layer_dir(self) -> Path:
        return self.data_dir / "layers"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def db_path(self) -> Path:
        return self.data_dir / "ember.db"

    @property
    def queue_path(self) -> Path:
        return self.data_dir / "queue.db"

    @property
    def public_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"
