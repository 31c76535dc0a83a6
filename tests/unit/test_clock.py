from ember.clock import ManualClock, iso_millis


def test_iso_millis_in_both_aws_spellings() -> None:
    assert iso_millis(0.5) == "1970-01-01T00:00:00.500Z"
    assert iso_millis(1_700_000_000.25, "+0000") == "2023-11-14T22:13:20.250+0000"


def test_manual_clock_moves_only_when_told() -> None:
    clock = ManualClock(wall=10.0)
    clock.advance(2.5)
    assert (clock.wall(), clock.monotonic()) == (12.5, 2.5)
