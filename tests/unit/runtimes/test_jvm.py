"""The Java runtimes' pure parts: JDK discovery from `release` files, Lambda's JVM flags,
JAVA_TOOL_OPTIONS over them, the folders a Debian JDK links into, the catalog's entries."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ember.runtimes import RuntimeCatalog, jvm


def _jdk(root: Path, name: str, version: str) -> str:
    home = root / name
    (home / "bin").mkdir(parents=True)
    java = home / "bin" / "java"
    java.write_text("#!/bin/sh\n")
    java.chmod(0o755)
    (home / "release").write_text(f'IMPLEMENTOR="Test"\nJAVA_VERSION="{version}"\n')
    return str(java)


def test_heap_is_85_percent_of_memory_as_lambda_sizes_it() -> None:
    assert jvm.heap_kb(512) == 445645  # what Lambda's java runtimes print at 512 MB
    assert f"-XX:MaxHeapSize={jvm.heap_kb(1769)}k" in jvm.jvm_options("17", 1769)


def test_java17_and_later_stop_at_c1_java11_does_not() -> None:
    assert "-XX:TieredStopAtLevel=1" in jvm.jvm_options("17", 128)
    assert "-XX:TieredStopAtLevel=1" in jvm.jvm_options("21", 128)
    assert "-XX:TieredStopAtLevel=1" not in jvm.jvm_options("11", 128)
    assert "-XX:+UseSerialGC" in jvm.jvm_options("11", 128)


def test_argv_names_the_jar_the_archive_and_main_class() -> None:
    command = jvm.argv("/var/lang/bin/java", "/var/runtime", "17", 256, "cds/x.jsa")
    assert command[0] == "/var/lang/bin/java"
    assert "-XX:SharedArchiveFile=/var/runtime/cds/x.jsa" in command
    assert command[-3:] == ["-classpath", f"/var/runtime/lib/{jvm.JAR_NAME}", jvm.MAIN_CLASS]


@pytest.mark.parametrize(
    ("tool", "gone", "kept"),
    [
        ("-Xmx100m", "-XX:MaxHeapSize=", "-XX:TieredStopAtLevel=1"),
        ("-XX:TieredStopAtLevel=4", "-XX:TieredStopAtLevel=1", "-XX:MaxHeapSize="),
        ("-XX:+UseG1GC -Dx=1", "-XX:+UseSerialGC", "-Xshare:auto"),
        ("-Xshare:off", "-Xshare:auto", "-XX:+UseSerialGC"),
    ],
)
def test_java_tool_options_replace_the_defaults_they_set(tool: str, gone: str, kept: str) -> None:
    command = jvm.argv("java", "/var/runtime", "17", 512, None)
    result = jvm.honour_tool_options(command, {"JAVA_TOOL_OPTIONS": tool})
    assert not any(a.startswith(gone) for a in result)
    assert any(a.startswith(kept) for a in result)
    assert result[-3:] == command[-3:]


def test_no_tool_options_keep_the_command() -> None:
    command = jvm.argv("java", "/var/runtime", "17", 512, None)
    assert jvm.honour_tool_options(command, {}) == command
    assert "-XX:+TieredCompilation" not in (
        jvm.honour_tool_options(command, {"JAVA_TOOL_OPTIONS": "-XX:TieredStopAtLevel=4"})
    )


def test_discovery_reads_major_versions_from_release_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    java17 = _jdk(tmp_path, "jdk-17", "17.0.15")
    java8 = _jdk(tmp_path, "jdk-8", "1.8.0_402")
    monkeypatch.setattr(jvm, "_SEARCH_GLOBS", (str(tmp_path / "*" / "bin" / "java"),))
    monkeypatch.setenv("PATH", "/nonexistent")
    found = jvm.discover_jdks([("21", "/opt/jdk21/bin/java")])
    assert found["17"] == os.path.realpath(java17)
    assert found["8"] == os.path.realpath(java8)
    assert found["21"] == "/opt/jdk21/bin/java"


def test_links_out_of_the_jdk_into_etc_are_bound(tmp_path: Path) -> None:
    home = tmp_path / "jdk"
    (home / "lib").mkdir(parents=True)
    etc = tmp_path / "etc"
    (etc / "java-17").mkdir(parents=True)
    (etc / "java-17" / "jvm.cfg").write_text("-server KNOWN\n")
    elsewhere = tmp_path / "home" / "someone"
    elsewhere.mkdir(parents=True)
    (home / "lib" / "jvm.cfg").symlink_to(etc / "java-17" / "jvm.cfg")
    (home / "lib" / "private").symlink_to(elsewhere)
    (home / "lib" / "inside").symlink_to(home / "lib")
    (home / "lib" / "system").symlink_to("/usr/lib")
    assert jvm.outside_links(str(home), str(etc)) == (str(etc / "java-17"),)


def test_unavailable_names_the_missing_jdk_or_the_missing_build(tmp_path: Path) -> None:
    jdks = {"17": "/usr/lib/jvm/java-17/bin/java"}
    missing = jvm.unavailable("java21", jdks, tmp_path)
    assert "needs a Java 21 JDK" in missing
    assert "Java 17 (/usr/lib/jvm/java-17/bin/java)" in missing
    assert "make install" in jvm.unavailable("java17", jdks, tmp_path)
    assert "needs Java 11 or newer" in jvm.unavailable("java8.al2", jdks, tmp_path)


def test_catalog_offers_java_runtimes_where_a_jdk_and_the_runtime_are(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    java = _jdk(tmp_path, "jdk-17", "17.0.15")
    monkeypatch.setattr(jvm, "runtime_built", lambda _: True)
    catalog = RuntimeCatalog({}, None, jdks={"17": java})
    spec = catalog.get("java17")
    assert spec is not None
    assert spec.is_java
    assert spec.is_managed
    assert catalog.get("java21") is None
    assert spec.prefix == str(tmp_path / "jdk-17")
    assert spec.argv("/var/task", lang="/var/lang", runtime_dir="/var/runtime")[0] == (
        "/var/lang/bin/java"
    )
    monkeypatch.setattr(jvm, "runtime_built", lambda _: False)
    assert RuntimeCatalog({}, None, jdks={"17": java}).get("java17") is None
