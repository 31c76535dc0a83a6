"""Where everything lives in the data dir: the one place that knows its layout.

    <data dir>/
    ├── ember.db           metadata documents (SQLite: functions, aliases, configs, keys…)
    ├── queue.db           accepted asynchronous events (SQLite, its own file)
    ├── queues.db          SQS-compatible queues and their messages (SQLite, ember.queues)
    ├── streams.db         Kinesis-compatible streams, their records, consumers' checkpoints
    ├── metrics.db         one-minute metric points (SQLite, telemetry; bounded retention)
    ├── blobs/<digest>     uploaded zips, content-addressed
    ├── code/<digest>/     functions' code, unpacked (mounted at /var/task)
    ├── layers/<digest>/   layer versions' content, unpacked
    ├── images/<digest>/   container images' root file systems, by manifest digest (read-only
    │                      in environments; images/.sources/ holds fetched archives)
    ├── logs/              log groups' segment files (telemetry)
    ├── opt/               merged /opt folders of layer lists (a cache, emptied at start-up)
    ├── bin/               `python3` links put first on environments' PATH
    └── sandbox/           the sandbox's generated files (identity files, /tmp filesystems)

The names are the ones existing data dirs already use. Components are handed the paths
they need by the composition root; those below `store` get plain `Path`s.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path


@dataclasses.dataclass(frozen=True, slots=True)
class DataLayout:
    root: Path
    metadata: Path
    queue: Path
    queues: Path
    streams: Path
    metrics: Path
    blobs: Path
    code: Path
    layers: Path
    images: Path
    logs: Path
    opt: Path
    bin: Path
    sandbox: Path

    @classmethod
    def at(cls, root: Path) -> DataLayout:
        """The layout of the data dir `root` (nothing is created)."""
        return cls(
            root=root,
            metadata=root / "ember.db",
            queue=root / "queue.db",
            queues=root / "queues.db",
            streams=root / "streams.db",
            metrics=root / "metrics.db",
            blobs=root / "blobs",
            code=root / "code",
            layers=root / "layers",
            images=root / "images",
            logs=root / "logs",
            opt=root / "opt",
            bin=root / "bin",
            sandbox=root / "sandbox",
        )

    def code_of(self, digest: str) -> Path:
        """The unpacked code of the zip with this digest."""
        return self.code / digest

    def layer_of(self, digest: str) -> Path:
        """The unpacked content of the layer zip with this digest."""
        return self.layers / digest

    def image_of(self, digest: str) -> Path:
        """The root file system of the container image whose manifest has this hex digest."""
        return self.images / digest
