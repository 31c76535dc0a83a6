"""The web console in a real browser: Debian's headless Chromium driven by Playwright (no
browser download, no network), against a real `ember serve`. Flows: the functions list ->
a function's page -> invoke with a payload (the result and log tail shown), editing memory
(GetFunctionConfiguration shows it), the cost page's numbers against the test's own
invocations; screenshots taken and checked. Skipped where chromium or Playwright is absent
(`make install` installs both as root on apt hosts)."""

from __future__ import annotations

import json
import re
import shutil
import socket
import struct
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import Server, create_function, free_port, run_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
playwright_api = pytest.importorskip("playwright.sync_api")
if not Path(CHROMIUM).exists():
    pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)

ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
CODE = """
def handler(event, context):
    print("console says", event.get("who"))
    if event.get("fail"):
        raise ValueError("asked to fail")
    return {"hello": event.get("who")}
"""
BY_API = 3  # invocations the test makes through boto3 before opening the console


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with run_server(tmp_path_factory.mktemp("console") / "data") as server:
        lam = server.client()
        create_function(lam, "greeter", CODE, MemorySize=128)
        lam.publish_version(FunctionName="greeter")
        lam.update_function_configuration(FunctionName="greeter", Description="second")
        lam.get_waiter("function_updated_v2").wait(
            FunctionName="greeter", WaiterConfig={"Delay": 1, "MaxAttempts": 30}
        )
        lam.publish_version(FunctionName="greeter", Description="two")
        lam.create_alias(
            FunctionName="greeter", Name="live", FunctionVersion="1",
            RoutingConfig={"AdditionalVersionWeights": {"2": 0.25}},
        )  # fmt: skip
        for n in range(BY_API):
            lam.invoke(FunctionName="greeter", Payload=json.dumps({"who": f"api-{n}"}))
        lam.create_function_url_config(FunctionName="greeter", AuthType="NONE")
        sqs = server.client("sqs")
        queue = sqs.create_queue(QueueName="greetings")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
        lam.create_event_source_mapping(
            FunctionName="greeter", EventSourceArn=arn["Attributes"]["QueueArn"], BatchSize=7,
            Enabled=False,
        )  # fmt: skip
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1200, "height": 1400})
    yield context.new_page()
    context.close()


def screenshot(page: Any, path: Path) -> Path:
    """A full-page PNG: present, a PNG, of the page's width."""
    page.screenshot(path=str(path), full_page=True)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert width == 1200
    assert height > 300
    assert len(data) > 10_000  # rendered text and charts, not a blank page
    return path


def test_list_function_page_and_invoke(srv: Server, page: Any, tmp_path: Path) -> None:
    expect = playwright_api.expect
    page.goto(srv.endpoint + "/")  # a browser's GET / lands on the console
    assert page.url == srv.endpoint + "/console/"
    row = page.get_by_role("row", name=re.compile("greeter"))
    expect(row).to_contain_text("Active")
    expect(row).to_contain_text("python3.11")
    expect(row).to_contain_text("128")
    screenshot(page, tmp_path / "list.png")
    page.get_by_role("link", name="greeter").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("greeter")
    # Versions and the alias's weights.
    expect(page.get_by_role("row", name=re.compile(r"^live"))).to_contain_text("1: 75%, 2: 25%")
    # Its URL (a link to it) and its event source mapping.
    expect(page.get_by_role("link", name=re.compile(r"\.lambda-url\.us-east-1\."))).to_have_count(1)
    mapping = page.get_by_role("row", name=re.compile(r"arn:aws:sqs:us-east-1:\d+:greetings"))
    expect(mapping).to_contain_text("7")
    # Invoke by keyboard: the payload field, then Tab to the Invoke button and Enter.
    payload = page.get_by_label("Event (JSON)")
    payload.fill('{"who": "browser"}')
    payload.press("Tab")
    expect(page.get_by_role("button", name="Invoke")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#invoke-result")).to_contain_text('"hello": "browser"')
    expect(page.locator("#invoke-status")).to_contain_text("Succeeded on version $LATEST")
    expect(page.locator("#invoke-log")).to_contain_text("console says browser")
    expect(page.locator("#invoke-log")).to_contain_text("REPORT RequestId")
    # A function error is shown as one.
    payload.fill('{"who": "x", "fail": true}')
    page.get_by_role("button", name="Invoke").click()
    expect(page.locator("#invoke-status")).to_contain_text("Failed (Unhandled)")
    expect(page.locator("#invoke-result")).to_contain_text("asked to fail")
    # Through the alias: one of its two versions runs.
    page.get_by_label("Version or alias").select_option(label="alias live")
    payload.fill('{"who": "alias"}')
    page.get_by_role("button", name="Invoke").click()
    expect(page.locator("#invoke-status")).to_have_text(re.compile(r"^Succeeded on version [12]$"))
    # Live logs follow the function's lines.
    page.get_by_role("button", name="Follow logs").click()
    expect(page.locator("#live-log-lines")).to_contain_text("console says browser")
    # The charts count the invocations (inline SVG with a text summary).
    expect(page.get_by_role("img", name=re.compile(r"^Invocations: peak"))).to_have_count(1)
    shot = screenshot(page, tmp_path / "function.png")
    assert shot.stat().st_size > 20_000


def test_edit_memory_reaches_the_function_configuration(srv: Server, page: Any) -> None:
    expect = playwright_api.expect
    page.goto(srv.endpoint + "/console/functions/greeter")
    page.get_by_label("Memory (MB, 128 to 10240)").fill("384")
    page.get_by_label("Timeout (seconds, 1 to 900)").fill("7")
    page.get_by_label("Environment variables (one NAME=value a line)").fill("STAGE=test\nMODE=x=y")
    page.get_by_role("button", name="Save configuration").click()
    expect(page.get_by_role("status").first).to_contain_text("Configuration saved.")
    lam = srv.client()
    lam.get_waiter("function_updated_v2").wait(
        FunctionName="greeter", WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )
    config = lam.get_function_configuration(FunctionName="greeter")
    assert config["MemorySize"] == 384
    assert config["Timeout"] == 7
    assert config["Environment"]["Variables"] == {"STAGE": "test", "MODE": "x=y"}
    expect(page.get_by_label("Memory (MB, 128 to 10240)")).to_have_value("384")
    # Lambda's own checks answer a bad value on the page, nothing saved.
    page.get_by_label("Memory (MB, 128 to 10240)").fill("64")
    page.get_by_label("Memory (MB, 128 to 10240)").evaluate("e => e.removeAttribute('min')")
    page.get_by_role("button", name="Save configuration").click()
    expect(page.get_by_role("alert")).to_contain_text("Not saved")
    assert lam.get_function_configuration(FunctionName="greeter")["MemorySize"] == 384


def test_cost_page_counts_the_tests_invocations(srv: Server, page: Any, tmp_path: Path) -> None:
    expect = playwright_api.expect
    lam = srv.client()
    before = json.loads(
        urllib.request.urlopen(f"{srv.endpoint}/_ember/cost?function=greeter", timeout=30).read()
    )["Requests"]
    lam.invoke(FunctionName="greeter", Payload=b'{"who": "cost"}')
    page.goto(srv.endpoint + "/console/cost?function=greeter&since=1h")
    summary = page.locator("#cost-summary")
    expect(summary).to_contain_text(f"{before + 1} requests")
    # BY_API + the invocations the other tests made through the page (>= 2) + one now.
    assert before >= BY_API + 2
    requests = page.get_by_role("row", name=re.compile(r"^greeter Requests"))
    expect(requests).to_contain_text(str(before + 1))
    # Billed by the memory each ran with: before and after the edit, and the version the
    # alias chose (1 or 2).
    for memory in ("128 MB (version $LATEST)", "384 MB (version $LATEST)"):
        row = page.get_by_role("row", name=re.compile(re.escape(f"Duration x86_64 {memory}")))
        expect(row).to_have_count(1)
    published = page.get_by_role("row", name=re.compile(r"Duration x86_64 128 MB \(version [12]\)"))
    assert published.count() >= 1
    expect(page.locator("#cost-after-free")).to_have_text("$0.00000000")
    screenshot(page, tmp_path / "cost.png")


def test_changes_only_from_the_consoles_own_pages(srv: Server) -> None:
    request = urllib.request.Request(
        f"{srv.endpoint}/console/functions/greeter/configuration",
        data=b"memory=512",
        headers={
            "Origin": "http://elsewhere.example",
            "Content-Type": "application/x-www-form-urlencoded",
        },
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 403
    refused.value.close()
    assert srv.client().get_function_configuration(FunctionName="greeter")["MemorySize"] != 512
    # A name that only resolves here (DNS rebinding) is not the console's host.
    rebound = urllib.request.Request(
        f"{srv.endpoint}/console/", headers={"Host": f"attacker.example:{srv.port}"}
    )
    with pytest.raises(urllib.error.HTTPError) as misdirected:
        urllib.request.urlopen(rebound, timeout=30)
    assert misdirected.value.code in (403, 421)  # the doors' loopback check, or the console's
    misdirected.value.close()
    with urllib.request.urlopen(
        urllib.request.Request(
            f"{srv.endpoint}/console/", headers={"Host": f"localhost:{srv.port}"}
        ),
        timeout=30,
    ) as ok:
        assert ok.status == 200


def test_invoke_works_without_the_script(srv: Server) -> None:
    """The invoke form posted as a plain form: the page comes back with the result."""
    form = urllib.parse.urlencode({"payload": '{"who": "form"}', "qualifier": "1"}).encode()
    request = urllib.request.Request(
        f"{srv.endpoint}/console/functions/greeter/invoke",
        data=form,
        headers={"Content-Type": "application/x-www-form-urlencoded", "Origin": srv.endpoint},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        page = answer.read().decode()
    assert "Succeeded on version 1" in page
    assert "&quot;hello&quot;: &quot;form&quot;" in page
    assert '<option value="1" selected>version 1</option>' in page


def _outside_address() -> str | None:
    """An address of this host that is not loopback (the console must refuse clients
    coming from it under --auth sigv4)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: it picks a source address
        except OSError:
            return None
        address: str = probe.getsockname()[0]
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def test_sigv4_keeps_the_console_to_loopback(tmp_path: Path) -> None:
    port = free_port()
    with run_server(tmp_path / "data", "--auth", "sigv4", "--host", "0.0.0.0", port=port):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/console/", timeout=30) as ok:
            assert b"<h1>Functions</h1>" in ok.read()
        # Everything else still wants a signature, from loopback too (the cost JSON).
        with pytest.raises(urllib.error.HTTPError) as unsigned:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_ember/cost", timeout=30)
        assert unsigned.value.code == 403
        unsigned.value.close()
        outside = _outside_address()
        if outside is None:
            pytest.skip("no non-loopback address to call from")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"http://{outside}:{port}/console/", timeout=30)
        assert refused.value.code == 403
        refused.value.close()
