"""Fixtures of the Neovim tests: the venv's Neovim 0.11 (installed from the locked wheel when missing)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.nvim.test_nvim_plugin import find_nvim


@pytest.fixture(scope="session")
def nvim() -> Path:
    return find_nvim()
