"""No agent process outlives its run, however the run ends (the CLI side; the language server's
shutdown / closed stdin / kill -9 cases are in tests/lsp/test_lifecycle.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.harness import orphans_after


@pytest.mark.parametrize("how", ["kill9", "cancel", "timeout", "client_vanished"])
def test_no_orphans(tmp_path: Path, how: str) -> None:
    assert orphans_after(tmp_path, how) == 0
