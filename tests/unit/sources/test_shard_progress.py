"""A shard's checkpoint moves only past records that are all done."""

from __future__ import annotations

from ember.sources.shards import _Progress


def test_checkpoint_waits_for_the_oldest_record_in_flight() -> None:
    progress = _Progress(10)
    for position in (11, 12, 13, 14):
        progress.add(position)
    assert not progress.done([12, 13])  # 11 is still out (another lane has it)
    assert progress.checkpoint == 10
    assert progress.done([11])
    assert progress.checkpoint == 13
    assert len(progress) == 1
    assert progress.done([14])
    assert progress.checkpoint == 14
