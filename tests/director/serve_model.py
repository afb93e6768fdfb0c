"""A loopback director model for the editors' end-to-end tests (VS Code's plan.e2e.mjs):

    python -m tests.director.serve_model --config XDG_CONFIG_HOME --project DIR [--flavor openai]

makes the project at DIR (tests.support.director.make_project), writes the user settings naming
the model (``XDG_CONFIG_HOME/counterpoint/settings.json``), prints ``READY <url>`` and serves the
scripted director (a first draft with planted mistakes, repaired from the findings) until its
stdin closes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tests.support.director import DirectorScript, make_project, serve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", type=Path, required=True, help="the XDG_CONFIG_HOME of the editor")
    parser.add_argument("--project", type=Path, required=True, help="where to make the project")
    parser.add_argument("--flavor", choices=["openai", "anthropic"], default="openai")
    args = parser.parse_args()
    model = f"{args.flavor}:director-test"
    make_project(args.project)
    server, llm = serve(args.flavor, DirectorScript(model))
    settings = {"llm": llm, "director": {"model": model}}
    (args.config / "counterpoint").mkdir(parents=True, exist_ok=True)
    (args.config / "counterpoint" / "settings.json").write_text(json.dumps(settings))
    sys.stdout.write(f"READY {server.url}\n")
    sys.stdout.flush()
    try:
        sys.stdin.read()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
