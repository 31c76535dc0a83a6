import pytest

from ember.control.concurrency import min_unreserved


@pytest.mark.parametrize(("limit", "minimum"), [(1000, 100), (3000, 100), (50, 5), (5, 1)])
def test_minimum_unreserved_scales_with_the_limit(limit: int, minimum: int) -> None:
    assert min_unreserved(limit) == minimum
