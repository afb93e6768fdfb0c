"""The license text ships with the source, the wheel and the VS Code extension."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_license_file_matches_the_declared_license() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT"
    # The wheel takes its license text from these files (hatchling puts them in dist-info/licenses).
    assert project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License")
    assert "Permission is hereby granted, free of charge" in text


def test_vscode_extension_declares_and_copies_the_license() -> None:
    extension = ROOT / "editor-clients" / "vscode"
    package = json.loads((extension / "package.json").read_text())
    assert package["license"] == "MIT"
    assert "--skip-license" not in package["scripts"]["package"]
    assert "--skip-license" not in (extension / "test.sh").read_text()
    # The build copies the repository's LICENSE next to package.json, where vsce packs it from.
    assert "LICENSE" in (extension / "scripts" / "copy-protocol.mjs").read_text()
    assert "!LICENSE" in (extension / ".vscodeignore").read_text().splitlines()
