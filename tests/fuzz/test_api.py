"""Every operation Ember serves, fuzzed from botocore's model over raw HTTP: whatever is
sent, the answer is the operation's success or a 4xx in AWS's error shape (never a 5xx nor
a traceback), a refused request changes nothing, and the server stays up."""

from __future__ import annotations

import urllib.parse
from collections import Counter
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.fuzz.conftest import Target, report
from tests.fuzz.model import PATH_TEXT, SHORT_TEXT, Fuzzed, Operation, operations, requests
from tests.fuzz.wire import assert_aws_error, unchanged_unless_ok

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.fuzz,
    # Huge strings are the point; Hypothesis warns when it keeps their repr.
    pytest.mark.filterwarnings("ignore:Generating overly large repr"),
]

EXAMPLES = 20  # per operation: ~45 operations in ~30 s
OPERATIONS = operations()
COUNTS: Counter[str] = Counter()  # operation -> requests sent and checked
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same cases on every run: CI is reproducible
    database=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: the failing case is printed
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def served(target: Target, request: pytest.FixtureRequest) -> Iterator[set[str]]:
    """The operations the server has a route for (others answer UnknownOperationException)."""
    found = set()
    for op in OPERATIONS:
        path = op.base_path() + (f"?{op.fixed_query}" if op.fixed_query else "")
        answer = target.wire.request(op.method, path)
        if answer.headers.get("x-amzn-errortype") != "UnknownOperationException":
            found.add(op.name)
    yield found
    operations = len(COUNTS.keys() - {"(unknown paths)"})
    report(
        request,
        f"fuzz (API): {sum(COUNTS.values())} requests: {operations} of the {len(found)} "
        f"operations Ember serves, {COUNTS['(unknown paths)']} to unknown paths",
    )


def check(target: Target, fuzzed: Fuzzed, what: str) -> None:
    wire = target.wire
    with unchanged_unless_ok(wire, fuzzed) as answers:
        answer = wire.request(fuzzed.method, fuzzed.path, fuzzed.body, fuzzed.headers)
        answers.append(answer)
    COUNTS[what] += 1
    if answer.status >= 300:
        assert_aws_error(answer, fuzzed)


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.name)
def test_operation(target: Target, served: set[str], op: Operation) -> None:
    if op.name not in served:
        pytest.skip("not served by Ember")

    @FUZZ
    @given(requests(op))
    def fuzz(fuzzed: Fuzzed) -> None:
        check(target, fuzzed, op.name)

    fuzz()
    assert COUNTS[op.name] >= EXAMPLES


@FUZZ
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]),
    segments=st.lists(
        st.one_of(PATH_TEXT, st.sampled_from(["2015-03-31", "functions"])), max_size=6
    ),
    query=SHORT_TEXT,
)
def test_unknown_paths(target: Target, method: str, segments: list[str], query: str) -> None:
    path = "/" + "/".join(segments)
    if query:
        path += "?" + urllib.parse.quote(query.encode("utf-8", "surrogatepass"), safe="=&")
    fuzzed = Fuzzed(method, path, b"", {})
    with unchanged_unless_ok(target.wire, fuzzed) as answers:
        answers.append(target.wire.request(method, path))
    COUNTS["(unknown paths)"] += 1
    answer = answers[0]
    if answer.status >= 300 and method != "HEAD":
        assert_aws_error(answer, fuzzed)
    assert answer.status < 500, (fuzzed, answer)
