"""The one frozen settings object, built once from CLI flags and passed down."""

from __future__ import annotations

import dataclasses
import ipaddress
from pathlib import Path


@dataclasses.dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 9001
    data_dir: Path = Path(".ember")  # what is inside: ember/store/layout.py
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
    # Extra node binaries for nodejs runtimes, as (major, path): (("22", "/opt/node22/bin/node"),).
    node_binaries: tuple[tuple[str, str], ...] = ()
    # Extra `java` binaries for java runtimes, as (major, path): (("21", "/opt/jdk21/bin/java"),).
    jdks: tuple[tuple[str, str], ...] = ()
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
    # Multiplies EventBridge rate(...) schedule periods; tests fire rate(1 minute) at e.g.
    # 0.02 (every 1.2 s). cron(...) schedules keep their wall-clock times.
    schedule_scale: float = 1.0
    # Asynchronous events invoked at once, across functions (the dispatcher's bound).
    async_concurrency: int = 32
    # Log bytes kept per log group (per function): past it the oldest events go.
    function_log_limit: int = 64 << 20
    # Seconds one-minute metric points are kept (CloudWatch keeps them 15 days).
    metrics_retention: float = 15 * 86400.0
    # Who may call the API: "sigv4" (requests signed with a key from `ember keys`) or
    # "none" (open). Environments' own credentials are checked either way.
    auth: str = "none"
    # Host loopback ports that sandboxed functions reach as host.ember.internal:PORT
    # (their own network namespace has no other way out to the host).
    host_access: tuple[int, ...] = ()
    # Every port listening on the host's loopback when an environment starts, but Ember's.
    host_access_all: bool = False
    # Sandboxed functions reach the outside through NAT (see ember/sandbox/outbound.py).
    network_outbound: bool = True
    # Processes and threads of all environments together (pids.max of the cgroup above
    # theirs); None: 3/4 of the host's pid_max less what runs now (see sandbox/cgroups.py).
    pids_total: int | None = None
    # Sandboxes kept started per Python runtime for cold starts (scheduler/prestart.py).
    prestart: int = 0
    # The domain under which function URLs (<id>.lambda-url.<region>.<domain>) and HTTP APIs
    # (<id>.execute-api.<domain>) are named: `localhost` resolves to loopback in browsers and
    # curl; a real wildcard domain (its DNS pointing at this host) serves a network.
    domain: str = "localhost"
    # OTLP/HTTP collector (e.g. http://127.0.0.1:4318) that sampled invocations' spans go to;
    # "" sends none (and the OpenTelemetry SDK is never imported).
    otlp_endpoint: str = ""
    # Ember's own log on stderr (telemetry/oplog.py): its level, and text or JSON lines.
    log_level: str = "warning"
    log_format: str = "text"

    @property
    def on_loopback(self) -> bool:
        """Whether the API listens on this machine's loopback only (no one else reaches it)."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:  # a host name: it may resolve to anything
            return False

    @property
    def public_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"
