"""The nftables rules of an outbound slot (text only: no root, no kernel)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from ember.sandbox import Capabilities, Isolation, outbound


def test_the_ruleset_blocks_what_it_says() -> None:
    text = outbound.ruleset(
        "ember3", ipaddress.IPv4Network("169.254.204.0/22"), host_forwarded=False
    )
    assert 'iifname "ember3" drop' in text  # input: the host itself
    assert 'iifname "ember3-*" drop' in text  # bridge ports: other environments
    assert "169.254.0.0/16" in text
    assert "127.0.0.0/8" in text
    assert 'iifname != "ember*" oifname != "ember*" drop' in text
    kept = outbound.ruleset(
        "ember3", ipaddress.IPv4Network("169.254.204.0/22"), host_forwarded=True
    )
    assert 'iifname != "ember*"' not in kept


def test_the_network_line_says_whether_outbound_holds(tmp_path: Path) -> None:
    inside = Capabilities(
        mode=Isolation.AUTO, cores=1, bwrap="/usr/bin/bwrap", hosts=tmp_path / "hosts",
        outbound_problem="--network-outbound off",
    )  # fmt: skip
    line = next(g for g in inside.guarantees() if g.what == "network")
    assert line.held
    assert line.how.endswith("no outside network (--network-outbound off)")
    assert "own network namespace, no outbound (--network-outbound off)" in inside.summary()
