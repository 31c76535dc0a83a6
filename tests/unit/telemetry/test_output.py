"""Output cut into log lines (256 KB events) and the 4 KB tail."""

from __future__ import annotations

from ember.telemetry.output import MAX_LINE, TAIL_BYTES, OutputLines, Tail


def test_lines_across_chunks() -> None:
    lines = OutputLines()
    assert lines.feed(b"one\ntw") == ["one"]
    assert lines.feed(b"o\nthree") == ["two"]
    assert lines.rest() == "three"
    assert lines.rest() is None


def test_empty_lines_are_events() -> None:
    assert OutputLines().feed(b"\n\n\n") == ["", "", ""]


def test_a_long_line_keeps_its_first_bytes_and_drops_the_rest() -> None:
    lines = OutputLines()
    out: list[str] = []
    for _ in range(5):  # 300 KB in 60 KB pieces, then a short line
        out += lines.feed(b"a" * 60_000)
    out += lines.feed(b"a" * 10_000 + b"\nnext\n")
    assert [len(line) for line in out] == [MAX_LINE - 1, 4]
    assert out[1] == "next"


def test_a_long_line_in_one_chunk() -> None:
    out = OutputLines().feed(b"x\n" + b"b" * 300_000 + b"\ny\n")
    assert out == ["x", "b" * (MAX_LINE - 1), "y"]


def test_a_cut_line_ends_with_its_invocation() -> None:
    lines = OutputLines()
    assert len(lines.feed(b"c" * 300_000)) == 1
    assert lines.rest() is None
    assert lines.feed(b"fresh\n") == ["fresh"]


def test_a_multibyte_character_split_by_the_cut_is_dropped() -> None:
    line = b"a" * (MAX_LINE - 2) + "é".encode() + b"tail\n"
    (out,) = OutputLines().feed(line)
    assert out == "a" * (MAX_LINE - 2)


def test_memory_is_bounded_without_newlines() -> None:
    lines = OutputLines()
    for _ in range(100):
        lines.feed(b"z" * 65536)
    assert len(lines._partial) <= MAX_LINE


def test_tail_keeps_the_last_4kb() -> None:
    tail = Tail()
    tail.add_text("START\n")
    tail.add_lines(["x" * 100] * 100)
    tail.add_text("END\n")
    data = tail.take()
    assert len(data) == TAIL_BYTES
    assert data.endswith(b"x\nEND\n")
    assert tail.take() == b""


def test_tail_of_a_flood_of_empty_lines() -> None:
    tail = Tail()
    tail.add_lines([""] * 100_000)
    assert tail.take() == b"\n" * TAIL_BYTES
