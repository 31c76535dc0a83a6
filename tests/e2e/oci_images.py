"""Small container images built without Docker, for the image tests and bench/images.py.

`python_image(folder)` writes an OCI image layout (index.json, blobs/sha256/…, gzip layer
tars) holding this machine's Python (the interpreter the tests run on, its standard library
without site-packages and tests, the shared libraries it and its extension modules load)
at /var/lang, awslambdaric installed from the wheel `make install` downloads (its C
extension is built for this Python), and a handler at /var/task/app.py. Its config:
ENTRYPOINT python3 -m awslambdaric, CMD app.handler, WORKDIR /var/task, ENV with PATH and
GREETING. A file the second layer adds is removed by the third (`.wh.`), so a handler can
show that whiteouts were applied.
"""

from __future__ import annotations

import atexit
import functools
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
WHEELS = REPO / ".venv" / "share" / "ember" / "test-wheels"
LANG = "/var/lang"
LIBDIR = "/lib/x86_64-linux-gnu"
HANDLER = """import os, sys

def handler(event, context):
    if event.get("fail"):
        raise ValueError("image says no")
    return {
        "greeting": os.environ.get("GREETING"),
        "cwd": os.getcwd(),
        "argv": sys.argv,
        "handler_env": os.environ.get("_HANDLER"),
        "runtime_api": bool(os.environ.get("AWS_LAMBDA_RUNTIME_API")),
        "task_root": os.environ.get("LAMBDA_TASK_ROOT"),
        "uid": os.getuid(),
        "removed_exists": os.path.exists("/var/task/removed.txt"),
        "root_writable": os.access("/", os.W_OK),
        "tmp_writable": os.access("/tmp", os.W_OK),
        "host_home": os.path.exists("/root/.pyenv"),
        "event": event,
    }

def other(event, context):
    return {"other": True, "cwd": os.getcwd()}
"""
ENTRYPOINT = [f"{LANG}/bin/python3", "-m", "awslambdaric"]
# Standard library parts the runtime never needs (the image stays small and quick to gzip).
_SKIP = re.compile(
    r"^(site-packages|test|tests|idlelib|tkinter|turtledemo|ensurepip|lib2to3|"
    r"pydoc_data|config-3\.\d+.*|__phello__|unittest/test)(/|$)"
)

Entry = tuple[str, bytes | None, int, str | None]  # (path, data or None for a folder, mode, link)


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _blob(layout: Path, data: bytes) -> dict[str, Any]:
    digest = _digest(data)
    path = layout / "blobs" / "sha256" / digest.partition(":")[2]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return {"digest": digest, "size": len(data)}


def layer_tar(entries: Iterable[Entry], *, raw: bool = False) -> bytes:
    """A layer: a tar of `entries` (gzip level 1 unless `raw`)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data, mode, link in entries:
            info = tarfile.TarInfo(name)
            info.mode = mode
            if link is not None:
                info.type = tarfile.SYMTYPE
                info.linkname = link
                tar.addfile(info)
            elif data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue() if raw else gzip.compress(buffer.getvalue(), compresslevel=1)


def write_layout(
    layout: Path,
    layers: list[bytes],
    config: Mapping[str, Any],
    *,
    tag: str = "latest",
    manifest_override: bytes | None = None,
) -> str:
    """An OCI image layout of `layers` (gzip tars) and `config` (the image config's
    `config` member). The manifest's digest."""
    layout.mkdir(parents=True, exist_ok=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    diff_ids = [_digest(gzip.decompress(data)) for data in layers]
    image_config = {
        "architecture": "amd64",
        "os": "linux",
        "config": dict(config),
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }
    config_ref = {
        "mediaType": "application/vnd.oci.image.config.v1+json",
        **_blob(layout, json.dumps(image_config).encode()),
    }
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config_ref,
        "layers": [
            {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **_blob(layout, data)}
            for data in layers
        ],
    }
    manifest_bytes = manifest_override or json.dumps(manifest).encode()
    ref = _blob(layout, manifest_bytes)
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                **ref,
                "annotations": {"org.opencontainers.image.ref.name": tag},
            }
        ],
    }
    (layout / "index.json").write_text(json.dumps(index))
    return str(ref["digest"])


def _files(root: Path, prefix: str, skip: Callable[[str], bool] = lambda _: False) -> list[Entry]:
    entries: list[Entry] = []
    for folder, dirs, files in os.walk(root):
        rel = os.path.relpath(folder, root)
        rel = "" if rel == "." else rel
        dirs[:] = sorted(d for d in dirs if not skip(os.path.join(rel, d)) and d != "__pycache__")
        entries.append((f"{prefix}/{rel}".rstrip("/"), None, 0o755, None))
        for name in sorted(files):
            path = os.path.join(folder, name)
            relname = os.path.join(rel, name)
            if skip(relname) or name.endswith((".pyc", ".a")):
                continue
            if os.path.islink(path):
                entries.append((f"{prefix}/{relname}", b"", 0o777, os.readlink(path)))
            else:
                mode = os.stat(path).st_mode & 0o777
                entries.append((f"{prefix}/{relname}", Path(path).read_bytes(), mode, None))
    return entries


def _shared_libraries(binaries: Iterable[str]) -> set[str]:
    """The host's shared libraries these binaries load (ldd), by real path."""
    found: set[str] = set()
    for binary in binaries:
        out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            match = re.search(r"(/\S+) \(0x", line)
            if match and "libpython" not in match.group(1):
                found.add(match.group(1))
    return found


def python_image(layout: Path, *, handler: str = HANDLER) -> str:
    """Write the Python + awslambdaric image at `layout`; its manifest digest."""
    python = os.path.realpath(sys.executable)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    libpython = Path(sysconfig.get_config_var("LIBDIR") or "") / str(
        sysconfig.get_config_var("INSTSONAME") or ""
    )
    site = layout.parent / f"{layout.name}-site"
    shutil.rmtree(site, ignore_errors=True)
    install = [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(site)]
    if WHEELS.is_dir():
        install += ["--no-index", "--find-links", str(WHEELS)]
    subprocess.run([*install, "awslambdaric"], check=True, timeout=300)

    so_files = [python, *map(str, stdlib.glob("lib-dynload/*.so")), *map(str, site.rglob("*.so"))]
    if libpython.is_file():
        so_files.append(str(libpython))
    libraries = _shared_libraries(so_files)
    loader = os.path.realpath("/lib64/ld-linux-x86-64.so.2")
    system: list[Entry] = [("lib", None, 0o755, None), (LIBDIR[1:], None, 0o755, None)]
    system += [("lib64", None, 0o755, None), ("usr", None, 0o755, None)]
    system += [("usr/bin", None, 0o755, None), ("etc", None, 0o755, None)]
    system.append(("lib64/ld-linux-x86-64.so.2", Path(loader).read_bytes(), 0o755, None))
    for library in sorted(libraries):
        real = Path(library).resolve()
        name = os.path.basename(library)
        system.append((f"{LIBDIR[1:]}/{name}", real.read_bytes(), 0o755, None))

    lang: list[Entry] = [("var", None, 0o755, None), ("var/lang", None, 0o755, None)]
    lang += [("var/lang/bin", None, 0o755, None), ("var/lang/lib", None, 0o755, None)]
    lang.append((f"var/lang/bin/{version}", Path(python).read_bytes(), 0o755, None))
    lang.append(("var/lang/bin/python3", b"", 0o777, version))
    if libpython.is_file():
        lang.append((f"var/lang/lib/{libpython.name}", libpython.read_bytes(), 0o755, None))
    lang += _files(stdlib, f"var/lang/lib/{version}", lambda rel: bool(_SKIP.match(rel)))
    lang += [("var/task", None, 0o755, None), ("var/task/removed.txt", b"gone", 0o644, None)]

    app: list[Entry] = _files(site, f"var/lang/lib/{version}/site-packages")
    app += [("var/task/app.py", handler.encode(), 0o644, None)]
    app += [("var/task/.wh.removed.txt", b"", 0o644, None)]
    shutil.rmtree(site, ignore_errors=True)

    config = {
        "Entrypoint": ENTRYPOINT,
        "Cmd": ["app.handler"],
        "WorkingDir": "/var/task",
        "Env": [
            f"PATH={LANG}/bin:/usr/local/bin:/usr/bin:/bin",
            "GREETING=from-image",
            "PYTHONPATH=/var/task",  # the handler imports whatever WORKDIR is
        ],
    }
    return write_layout(layout, [layer_tar(system), layer_tar(lang), layer_tar(app)], config)


@functools.cache
def small_image(variant: str = "a") -> str:
    """The ImageUri (`<layout folder>:latest`) of a one-layer OCI image (one file,
    ENTRYPOINT /bin/true): an image function's shape, not one that runs. Each `variant` is
    another image (another digest); built once per test session."""
    folder = Path(tempfile.mkdtemp(prefix=f"ember-small-image-{variant}-"))
    atexit.register(shutil.rmtree, folder, True)
    entries: list[Entry] = [(f"{variant}.txt", variant.encode(), 0o644, None)]
    write_layout(folder, [layer_tar(entries)], {"Entrypoint": ["/bin/true"]})
    return f"{folder}:latest"
