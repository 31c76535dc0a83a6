"""Container images (PackageType Image): what an ImageUri names, the manifest it resolves
to, and that image unpacked into a read-only root file system (all blocking).

ImageUri forms Ember reads without Docker:
- an absolute path to an OCI image layout folder (`index.json`, `blobs/sha256/…`), or
  `oci:<path>`; `<path>:<tag>` picks the manifest annotated with that ref name;
- `oci-archive:<path>[:tag]`: a tar of such a layout (read by Ember itself);
- `docker-archive:<path>`: `docker save`'s tarball (copied to a layout by skopeo);
- anything else is a registry reference (`registry/repo:tag`, `docker://…`), copied to a
  layout by skopeo when the registry is reachable.

An archive or registry image is copied when the function is created or updated, into
`<images>/.sources/<manifest digest>/`, and unpacked from there; a layout folder is read
in place. The root file system goes to `<images>/<manifest digest>/` (content-addressed:
every function and version on the same image shares it).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import uuid
from pathlib import Path
from typing import Any

from ember.control.rootfs import MAX_UNPACKED, InvalidImageError, Unpacker, sha256_file

SOURCES = ".sources"  # below the images folder: fetched layouts waiting to be unpacked
REF_NAME = "org.opencontainers.image.ref.name"
_INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
_SKOPEO_TIMEOUT = 600


class ImageNotFoundError(Exception):
    """The ImageUri names no image Ember can find."""


class ImageAccessDeniedError(Exception):
    """The image exists but cannot be read (registry refused, files unreadable)."""


__all__ = [
    "ImageAccessDeniedError",
    "ImageMeta",
    "ImageNotFoundError",
    "ImageSource",
    "InvalidImageError",
    "fetch",
    "parse_uri",
    "unpack",
]


@dataclasses.dataclass(frozen=True, slots=True)
class ImageSource:
    kind: str  # "oci", "oci-archive", "docker-archive" or "registry"
    location: str  # the folder or file; for a registry, the reference
    tag: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class ImageMeta:
    """What the image's config says about running it (Dockerfile ENTRYPOINT, CMD, …)."""

    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    workdir: str = ""
    env: tuple[str, ...] = ()  # "NAME=value"

    def to_doc(self) -> dict[str, Any]:
        return {
            "entrypoint": list(self.entrypoint),
            "cmd": list(self.cmd),
            "workdir": self.workdir,
            "env": list(self.env),
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> ImageMeta:
        return cls(
            entrypoint=tuple(doc.get("entrypoint") or ()),
            cmd=tuple(doc.get("cmd") or ()),
            workdir=str(doc.get("workdir") or ""),
            env=tuple(doc.get("env") or ()),
        )


def _split_tag(rest: str) -> tuple[str, str | None]:
    """`path[:tag]`: a tag only where the whole string is not itself an existing path."""
    if os.path.exists(rest) or ":" not in rest:
        return rest, None
    path, _, tag = rest.rpartition(":")
    if "/" in tag:
        return rest, None
    return path, tag or None


def parse_uri(uri: str) -> ImageSource:
    for prefix, kind in (
        ("oci-archive:", "oci-archive"),
        ("docker-archive:", "docker-archive"),
        ("oci:", "oci"),
    ):
        if uri.startswith(prefix):
            path, tag = _split_tag(uri[len(prefix) :])
            return ImageSource(kind, path, tag)
    if uri.startswith("/"):
        path, tag = _split_tag(uri)
        return ImageSource("oci", path, tag)
    return ImageSource("registry", uri.removeprefix("docker://"))


def is_local(source: ImageSource) -> bool:
    """Read in place (a layout folder): nothing is copied before unpacking."""
    return source.kind == "oci"


# -- finding the manifest -------------------------------------------------------------


def _blob_path(layout: Path, digest: str) -> Path:
    algorithm, _, hexdigest = digest.partition(":")
    if algorithm != "sha256" or len(hexdigest) != 64 or not _is_hex(hexdigest):
        raise InvalidImageError(f"unsupported or malformed digest {digest!r}")
    return layout / "blobs" / "sha256" / hexdigest


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdef" for c in text)


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise ImageAccessDeniedError(f"the image's {what} is missing") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidImageError(f"the image's {what} is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise InvalidImageError(f"the image's {what} is not a JSON object")
    return doc


def _verified_json(layout: Path, digest: str, what: str) -> dict[str, Any]:
    """A blob that must hash to its digest, parsed."""
    path = _blob_path(layout, digest)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ImageAccessDeniedError(f"the image's {what} ({digest}) is missing") from None
    if hashlib.sha256(data).hexdigest() != digest.partition(":")[2]:
        raise InvalidImageError(f"the image's {what} does not match its digest {digest}")
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidImageError(f"the image's {what} is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise InvalidImageError(f"the image's {what} is not a JSON object")
    return doc


def _pick(descriptors: list[Any], tag: str | None) -> dict[str, Any]:
    entries = [d for d in descriptors if isinstance(d, dict) and "digest" in d]
    if tag is not None:
        entries = [d for d in entries if d.get("annotations", {}).get(REF_NAME) == tag]
    elif len(entries) > 1:
        latest = [d for d in entries if d.get("annotations", {}).get(REF_NAME) == "latest"]
        entries = latest or entries[:1]
    if not entries:
        raise ImageNotFoundError(f"no manifest tagged {tag or 'latest'}")
    return entries[0]


def _platform_manifest(layout: Path, index: dict[str, Any]) -> dict[str, Any]:
    """A multi-platform index's linux/amd64 image (Lambda's x86_64)."""
    manifests = [m for m in index.get("manifests", []) if isinstance(m, dict)]
    for m in manifests:
        platform = m.get("platform", {})
        if platform.get("os") == "linux" and platform.get("architecture") == "amd64":
            return m
    if len(manifests) == 1:
        return manifests[0]
    raise InvalidImageError("the image index has no linux/amd64 image")


def resolve(layout: Path, tag: str | None) -> str:
    """The digest ("sha256:…") of the image manifest `tag` names in the layout at `layout`."""
    if not (layout / "index.json").is_file():
        raise ImageNotFoundError(f"{layout} is not an OCI image layout (no index.json)")
    index = _read_json(layout / "index.json", "index.json")
    chosen = _pick(list(index.get("manifests") or []), tag)
    for _ in range(4):  # nested indexes, as far as anyone nests them
        if chosen.get("mediaType") not in _INDEX_TYPES:
            break
        chosen = _platform_manifest(layout, _verified_json(layout, chosen["digest"], "index"))
    digest = str(chosen["digest"])
    _blob_path(layout, digest)  # well-formed
    return digest


# -- fetching ------------------------------------------------------------------------


def _extract_layout(archive: str, into: Path) -> None:
    """An oci-archive's layout: its regular files only, each strictly below `into`."""
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                parts = [p for p in member.name.split("/") if p not in ("", ".")]
                if not parts or ".." in parts:
                    continue
                target = into.joinpath(*parts)
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                elif member.isfile():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    source = tar.extractfile(member)
                    if source is None:
                        continue
                    with source, open(target, "wb") as out:
                        shutil.copyfileobj(source, out, 1 << 20)
    except FileNotFoundError:
        raise ImageNotFoundError(f"{archive} does not exist") from None
    except PermissionError as exc:
        raise ImageAccessDeniedError(str(exc)) from exc
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise InvalidImageError(f"{archive} is not a readable tar: {exc}") from exc


def _skopeo(source: ImageSource, into: Path) -> None:
    skopeo = shutil.which("skopeo")
    if skopeo is None:
        raise ImageAccessDeniedError(
            f"reading {source.kind} images needs skopeo (apt-get install skopeo)"
        )
    if source.kind == "docker-archive":
        if not os.path.isfile(source.location):
            raise ImageNotFoundError(f"{source.location} does not exist")
        src = f"docker-archive:{source.location}"
    else:
        src = f"docker://{source.location}"
    try:
        done = subprocess.run(
            [skopeo, "copy", "--quiet", src, f"oci:{into}:latest"],
            capture_output=True,
            text=True,
            timeout=_SKOPEO_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ImageAccessDeniedError(f"copying {src} took over {_SKOPEO_TIMEOUT} s") from None
    if done.returncode != 0:
        detail = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"
        lowered = detail.lower()
        if "unauthorized" in lowered or "denied" in lowered or "authentication" in lowered:
            raise ImageAccessDeniedError(detail)
        if source.kind == "registry" and ("manifest unknown" in lowered or "not found" in lowered):
            raise ImageNotFoundError(detail)
        if source.kind == "registry":
            raise ImageNotFoundError(detail)  # unreachable registry: nothing to read
        raise InvalidImageError(detail)


def fetch(uri: str, images: Path) -> tuple[str, Path]:
    """Find the image `uri` names: (manifest digest "sha256:…", the layout to unpack it
    from). Archives and registry images are copied to `<images>/.sources/<digest>/`."""
    source = parse_uri(uri)
    if is_local(source):
        layout = Path(source.location)
        if not layout.is_dir():
            raise ImageNotFoundError(f"{layout} is not a folder")
        try:
            return resolve(layout, source.tag), layout
        except PermissionError as exc:
            raise ImageAccessDeniedError(str(exc)) from exc
    sources = images / SOURCES
    sources.mkdir(parents=True, exist_ok=True)
    staging = sources / f".{uuid.uuid4().hex}"
    try:
        if source.kind == "oci-archive":
            staging.mkdir()
            _extract_layout(source.location, staging)
        else:
            _skopeo(source, staging)
        digest = resolve(staging, source.tag if source.kind == "oci-archive" else None)
        final = sources / digest.partition(":")[2]
        if final.exists():
            shutil.rmtree(staging)
        else:
            os.rename(staging, final)
        return digest, final
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def fetched(images: Path, digest: str) -> Path:
    """Where `fetch` keeps the copy of an archive or registry image."""
    return images / SOURCES / digest.partition(":")[2]


# -- unpacking -----------------------------------------------------------------------


def _strings(value: Any, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidImageError(f"the image config's {what} is not a list of strings")
    return tuple(value)


def _meta(config: dict[str, Any]) -> ImageMeta:
    run = config.get("config") or {}
    if not isinstance(run, dict):
        raise InvalidImageError("the image config's `config` is not an object")
    workdir = run.get("WorkingDir") or ""
    if not isinstance(workdir, str):
        raise InvalidImageError("the image config's WorkingDir is not a string")
    return ImageMeta(
        entrypoint=_strings(run.get("Entrypoint"), "Entrypoint"),
        cmd=_strings(run.get("Cmd"), "Cmd"),
        workdir=workdir,
        env=_strings(run.get("Env"), "Env"),
    )


def unpack(layout: Path, digest: str, dest: Path, *, limit: int = MAX_UNPACKED) -> ImageMeta:
    """Unpack the image whose manifest is `digest` from `layout` into `dest` (made whole
    or not at all: built in a hidden folder beside it, then renamed). An existing `dest`
    (the same image, unpacked for another function) is kept. The image's run settings."""
    manifest = _verified_json(layout, digest, "manifest")
    if manifest.get("mediaType") in _INDEX_TYPES or "manifests" in manifest:
        raise InvalidImageError("the digest names an image index, not an image manifest")
    config_ref = manifest.get("config")
    layers = manifest.get("layers")
    if manifest.get("schemaVersion") != 2 or not isinstance(config_ref, dict):
        raise InvalidImageError("the image manifest is not an OCI or Docker v2 manifest")
    if not isinstance(layers, list) or not all(
        isinstance(layer, dict) and isinstance(layer.get("digest"), str) for layer in layers
    ):
        raise InvalidImageError("the image manifest's layers are malformed")
    meta = _meta(_verified_json(layout, str(config_ref.get("digest", "")), "config"))
    if dest.is_dir():
        return meta
    dest.parent.mkdir(parents=True, exist_ok=True)
    building = dest.parent / f".{dest.name}-{uuid.uuid4().hex[:8]}"
    try:
        unpacker = Unpacker(building, limit=limit)
        for layer in layers:
            path = _blob_path(layout, layer["digest"])
            try:
                actual = sha256_file(path)
            except FileNotFoundError:
                raise ImageAccessDeniedError(f"layer {layer['digest']} is missing") from None
            if actual != layer["digest"].partition(":")[2]:
                raise InvalidImageError(f"layer {layer['digest']} does not match its digest")
            unpacker.apply(path, str(layer.get("mediaType", "")))
        unpacker.add_mount_points()
        os.chmod(building, 0o755)
        try:
            os.rename(building, dest)
        except OSError:
            if not dest.is_dir():
                raise
    finally:
        if building.exists():
            shutil.rmtree(building, ignore_errors=True)
    return meta


def resolved_uri(uri: str, digest_hex: str) -> str:
    """ResolvedImageUri: the ImageUri without its tag, pinned to the manifest digest."""
    source = parse_uri(uri)
    if source.kind == "registry":
        name = uri.split("@", 1)[0]
        head, _, last = name.rpartition("/")
        if ":" in last:
            name = f"{head}/{last.split(':', 1)[0]}" if head else last.split(":", 1)[0]
        return f"{name}@sha256:{digest_hex}"
    prefix = "" if uri.startswith("/") else f"{source.kind}:"
    return f"{prefix}{source.location}@sha256:{digest_hex}"
