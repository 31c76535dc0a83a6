"""The runtime catalog: which python3.x it offers, the shared SDK, runtime version ARNs."""

from __future__ import annotations

import hashlib
from pathlib import Path

from ember.runtimes import RuntimeCatalog
from ember.runtimes.catalog import runtime_version_arn, sdk_minimum, sdk_versions

INTERPRETERS = {v: f"/usr/bin/python{v}" for v in ("3.8", "3.9", "3.11", "3.14")}


def _sdk(root: Path, requires: dict[str, str]) -> Path:
    for name in ("boto3", "botocore"):
        (root / name).mkdir(parents=True)
        (root / name / "__init__.py").write_text("")
    for dist, python in requires.items():
        meta = root / f"{dist}.dist-info"
        meta.mkdir()
        (meta / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: x\nRequires-Python: {python}\n\n"
            "Requires-Python: >=3.99\n"
        )
    return root


def test_every_python_aws_accepts_is_offered_where_an_interpreter_exists() -> None:
    catalog = RuntimeCatalog(INTERPRETERS, sdk_dir=None)
    assert {"python3.8", "python3.9", "python3.11", "python3.14"} <= set(catalog.names())
    assert catalog.get("python3.12") is None
    assert catalog.get("python3.15") is None  # in botocore's model, not in AWS's answers


def test_sdk_goes_to_the_runtimes_its_packages_support(tmp_path: Path) -> None:
    sdk = _sdk(
        tmp_path / "sdk",
        {"boto3-1.40.0": ">= 3.9", "urllib3-2.5.0": ">=3.10", "six-1.17.0": ">=2.7, !=3.0.*"},
    )
    assert sdk_minimum(sdk) == 10  # the body's line is not a header
    assert sdk_versions(sdk) == {"boto3": "1.40.0"}
    catalog = RuntimeCatalog(INTERPRETERS, sdk_dir=sdk)
    specs = {n: catalog.get(n) for n in ("python3.9", "python3.11", "python3.14")}
    served = {n: s.sdk_dir if s else "missing" for n, s in specs.items()}
    assert served == {"python3.9": None, "python3.11": str(sdk), "python3.14": str(sdk)}
    assert catalog.get("provided.al2023").sdk_dir is None  # type: ignore[union-attr]
    assert "boto3 1.40.0 for python3.11, python3.14" in catalog.sdk_summary()


def test_missing_sdk_is_reported_not_fatal(tmp_path: Path) -> None:
    catalog = RuntimeCatalog(INTERPRETERS, sdk_dir=tmp_path / "nothing")
    assert catalog.sdk_dir is None
    assert catalog.get("python3.11").sdk_dir is None  # type: ignore[union-attr]
    assert "not installed" in catalog.sdk_summary()
    assert "make install" in catalog.sdk_summary()


def test_runtime_version_arn_is_the_hash_of_runtime_and_interpreter_version() -> None:
    version = "3.11.7 (main, May  9 2026, 07:35:25) [GCC 12.2.0]"
    digest = hashlib.sha256(f"python3.11:{version}".encode()).hexdigest()
    assert runtime_version_arn("eu-west-1", "python3.11", version) == (
        f"arn:aws:lambda:eu-west-1::runtime:{digest}"
    )
    assert runtime_version_arn("eu-west-1", "python3.12", version) != (
        runtime_version_arn("eu-west-1", "python3.11", version)
    )
