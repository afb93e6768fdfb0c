"""Hostile agent output through a whole run: a 100 MB binary flood without newlines.

(Cut lines, binary decoding, bad transcript lines and garbage check output are covered at the
unit level in tests/unit/test_command_runner.py, test_replay_runner.py and test_check_parsers.py;
this is the same flood through `Run`, the event log and the report, where it used to pile up.)
"""

from __future__ import annotations

import sys
from pathlib import Path

from tests.support.load import flood


async def test_100_mb_binary_flood_keeps_memory_and_events_bounded(tmp_path: Path) -> None:
    result = await flood(tmp_path, sys.executable)
    assert result["agent"] == "succeeded", result
    # One output event holds at most OUTPUT_BATCH_LINES cut lines, never the whole flood.
    assert result["longest_output_event"] < 12_000_000, result
    assert result["rss_growth_mb"] < 300, result
