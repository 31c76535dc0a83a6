"""Hostile deployment packages through CreateFunction on a real `ember serve`: each is
refused with InvalidParameterValueException (or RequestEntityTooLargeException), in AWS's
shape, and nothing is stored. Symlink sets are judged against the kernel: whatever the
kernel would resolve outside the function's folder is refused."""

from __future__ import annotations

import base64
import io
import json
import os
import tempfile
import warnings
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from ember.control import codezip
from ember.errors import InvalidParameterValueError
from tests.e2e.harness import ROLE
from tests.fuzz.conftest import Target, report
from tests.fuzz.wire import assert_aws_error, listing, settle, stored

pytestmark = [pytest.mark.e2e, pytest.mark.fuzz]

COUNTS: Counter[str] = Counter()  # kind of zip -> packages sent and checked
FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
HANDLER = b"def handler(event, context):\n    return 1\n"
FILE = 0o100644
LINK = 0o120777
DIR = 0o40755

Entry = tuple[str, bytes, int]  # name, content (a link's target), st_mode


def build(entries: list[Entry]) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        warnings.simplefilter("ignore", UserWarning)  # "Duplicate name": some cases want one
        for name, content, mode in entries:
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return buffer.getvalue()


@pytest.fixture(scope="module", autouse=True)
def counts(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    detail = ", ".join(f"{kind} {n}" for kind, n in sorted(COUNTS.items()))
    report(request, f"fuzz (zips): {sum(COUNTS.values())} packages ({detail})")


def assert_refused(target: Target, package: bytes, kind: str) -> None:
    """CreateFunction refuses `package` in AWS's shape; nothing is listed or stored."""
    before, files = listing(target.wire), stored(target.server.data_dir)
    answer = target.wire.request(*_create_request(package))
    COUNTS[kind] += 1
    assert_aws_error(answer, kind)
    code = answer.headers["x-amzn-errortype"]
    assert code in ("InvalidParameterValueException", "RequestEntityTooLargeException"), (
        kind,
        answer,
    )
    assert listing(target.wire) == before
    assert stored(target.server.data_dir) == files


def _create_request(package: bytes) -> tuple[str, str, bytes]:
    body = json.dumps(
        {
            "FunctionName": f"zip-{COUNTS.total()}",
            "Runtime": "python3.11",
            "Role": ROLE,
            "Handler": "app.handler",
            "Code": {"ZipFile": base64.b64encode(package).decode()},
        }
    ).encode()
    return "POST", "/2015-03-31/functions", body


# -- hostile packages ---------------------------------------------------------------------

SAFE = st.from_regex(r"[a-z][a-z0-9_]{0,6}(/[a-z][a-z0-9_]{0,6}){0,2}", fullmatch=True)
BENIGN: st.SearchStrategy[list[Entry]] = st.lists(
    st.tuples(SAFE, st.binary(max_size=40), st.sampled_from([FILE, 0o100755, 0o100777])),
    max_size=4,
    unique_by=lambda e: e[0],
)
ESCAPING_NAMES = st.sampled_from(
    ["../x", "a/../../x", "./../x", "..", "a/..", "/x", "//etc/passwd", "/"]
)
BAD_NAMES = st.one_of(
    ESCAPING_NAMES,
    st.sampled_from(["a\\b", "..\\..\\x", "\\x", "x" * 256, "é" * 128, "d/" * 129 + "f"]),
    st.just("/".join(["p" * 200] * 21)),  # 4,220 bytes
)


def _with_nul(entries: list[Entry]) -> bytes:
    # zipfile cuts names at a NUL: write a placeholder and swap it in the bytes.
    return build([*entries, ("nul_PLACEHOLDER", b"x", FILE)]).replace(
        b"nul_PLACEHOLDER", b"nul\0PLACEHOLDER"
    )


def _set_size(package: bytes, name: str, size: int) -> bytes:
    """`package` with the last entry `name`'s uncompressed size rewritten in both headers."""
    data = bytearray(package)
    local = zipfile.ZipFile(io.BytesIO(package)).getinfo(name).header_offset
    data[local + 22 : local + 26] = size.to_bytes(4, "little")
    central = data.rindex(name.encode()) - 46  # the last entry's, in the central directory
    data[central + 24 : central + 28] = size.to_bytes(4, "little")
    return bytes(data)


def _duplicates(entries: list[Entry], variant: int) -> list[Entry]:
    pairs = [
        [("dup.py", b"1", FILE), ("dup.py", b"2", FILE)],
        [("dup.py", b"1", FILE), ("./dup.py", b"2", FILE)],
        [("d/", b"", DIR), ("d", b"x", LINK)],
        [("f", b"", FILE), ("f/g", b"", FILE)],
    ]
    return [*entries, *pairs[variant]]


KINDS = ["name", "nul", "duplicate", "link-out", "under-link", "lying-size", "not-a-zip"]


@st.composite
def hostile(draw: st.DrawFn, kind: str) -> tuple[str, bytes]:
    """(kind, package): benign entries plus one thing of `kind` that is refused."""
    entries: list[Entry] = [("app.py", HANDLER, FILE), *draw(BENIGN)]
    entries = [e for i, e in enumerate(entries) if e[0] != "app.py" or i == 0]
    position = draw(st.integers(0, len(entries)))
    if kind == "name":
        entries.insert(position, (draw(BAD_NAMES), b"x", FILE))
        return kind, build(entries)
    if kind == "nul":
        return kind, _with_nul(entries)
    if kind == "duplicate":
        return kind, build(_duplicates(entries, draw(st.integers(0, 3))))
    if kind == "link-out":
        folder = draw(st.lists(st.sampled_from(["a", "b", "c"]), max_size=3))
        up = "../" * (len(folder) + draw(st.integers(1, 3)))
        target = draw(st.sampled_from([up + "x", up.rstrip("/"), "/etc", "/", up + "a/../x"]))
        entries.insert(position, ("/".join([*folder, "l"]), target.encode(), LINK))
        return kind, build(entries)
    if kind == "under-link":
        entries += [("l", b"sub", LINK), ("l/evil.py", b"x", FILE)]
        return kind, build(entries)
    if kind == "lying-size":
        content = draw(st.binary(min_size=20, max_size=2000))
        package = build([*entries, ("lies.bin", content, FILE)])
        declared = draw(st.sampled_from([0, 1, len(content) - 1, len(content) + 1, 2**31]))
        return kind, _set_size(package, "lies.bin", declared)
    package = build(entries)
    cut = draw(st.integers(1, len(package) - 1))  # at least one byte gone from either end
    return kind, draw(st.sampled_from([package[:cut], package[cut:], b"", b"PK\x05\x06"]))


def _many_entries(count: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("app.py", HANDLER)
        for n in range(count - 1):
            archive.writestr(f"{n:x}", b"")
    return buffer.getvalue()


def _bomb(megabytes: int) -> bytes:
    """A real bomb: zeros that inflate past Lambda's 250 MB from a few hundred KB."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("app.py", HANDLER)
        with archive.open("zeros", "w", force_zip64=True) as stream:
            block = b"\0" * (1 << 20)
            for _ in range(megabytes):
                stream.write(block)
    return buffer.getvalue()


@pytest.mark.parametrize("kind", KINDS)
def test_hostile_packages_are_refused(target: Target, kind: str) -> None:
    @settings(FUZZ, max_examples=12)
    @given(hostile(kind))
    def fuzz(case: tuple[str, bytes]) -> None:
        assert_refused(target, case[1], case[0])

    fuzz()
    assert COUNTS[kind] >= 12


@pytest.mark.parametrize("kind", ["entries-100k", "bomb-260MB"])
def test_huge_packages_are_refused(target: Target, kind: str) -> None:
    package = _many_entries(100_000) if kind == "entries-100k" else _bomb(260)
    assert_refused(target, package, kind)


# -- symlinks against the kernel --------------------------------------------------------

PART = st.sampled_from(["a", "b", "c", "..", "."])
LINK_NAMES = st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3).map("/".join)
TARGETS = st.lists(PART, min_size=1, max_size=5).map("/".join)
LINK_SETS = st.dictionaries(LINK_NAMES, TARGETS, min_size=1, max_size=4)


def kernel_escapes(links: dict[str, str]) -> bool:
    """Whether, once made on disk, some link resolves outside the folder (or loops)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp, "root", "code")
        root.mkdir(parents=True)
        for name in links:
            parents = name.split("/")[:-1]
            if any("/".join(parents[:n]) in links for n in range(1, len(parents) + 1)):
                # A link under a link: refused whatever the kernel says, and never made
                # here (making it would follow the first link, maybe out of tmp).
                return False
        for name, link_target in links.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(link_target, path)
        real_root = os.path.realpath(root)
        for name in links:
            resolved = os.path.realpath(root / name)
            if resolved != real_root and not resolved.startswith(real_root + os.sep):
                return True
    return False


def _refusal(check: Callable[[], object]) -> str | None:
    try:
        check()
    except InvalidParameterValueError as exc:
        return exc.message
    return None


@settings(FUZZ, max_examples=250)
@given(LINK_SETS)
def test_links_the_kernel_resolves_outside_are_refused(links: dict[str, str]) -> None:
    """Many more cases than through the server, on the checker alone (no sockets)."""
    package = build([("app.py", HANDLER, FILE), *((n, t.encode(), LINK) for n, t in links.items())])
    COUNTS["links (checker)"] += 1
    refused = _refusal(lambda: codezip.inspect_zip(package))
    if kernel_escapes(links):
        assert refused is not None, links
    if refused is None:
        # Accepted: unpacked, no link leads out.
        with tempfile.TemporaryDirectory() as tmp:
            code = Path(tmp, "code")
            codezip.unpack(package, code)
            real = os.path.realpath(code)
            for path in code.rglob("*"):
                resolved = os.path.realpath(path)
                assert resolved == real or resolved.startswith(real + os.sep), (links, path)


@settings(FUZZ, max_examples=40)
@given(LINK_SETS)
def test_link_sets_through_the_server(target: Target, links: dict[str, str]) -> None:
    package = build([("app.py", HANDLER, FILE), *((n, t.encode(), LINK) for n, t in links.items())])
    if _refusal(lambda: codezip.inspect_zip(package)) is not None:
        assert_refused(target, package, "links")
        return
    COUNTS["links (accepted)"] += 1
    method, path, body = _create_request(package)
    created = target.wire.request(method, path, body)
    assert created.status == 201, created
    settle(target.wire)
    name = json.loads(created.body)["FunctionName"]
    assert target.wire.request("DELETE", f"/2015-03-31/functions/{name}").status == 204
