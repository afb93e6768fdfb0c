"""Export the JSON Schemas and the shared method names for the editor clients.

Run ``python -m counterpoint_protocol.export`` after changing a model; a test
checks that the committed files are current.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from counterpoint_protocol.events import EVENT_PAYLOADS, AgentStatus, Event, EventType
from counterpoint_protocol.messages import (
    ApplyParams,
    ApplyResult,
    AttachParams,
    AttachResult,
    CancelParams,
    DiffParams,
    DiffResult,
    DiscardParams,
    DiscardResult,
    EventsParams,
    PlanParams,
    PlanResult,
    RerunParams,
    ResumeParams,
    RunParams,
    ServerSettings,
    ShowFileParams,
    ShowFileResult,
    StatusResult,
)
from counterpoint_protocol.methods import PLAN_ID_PREFIX, SPEC_GLOB, Commands, Notifications
from counterpoint_protocol.presets import RUNNER_PRESETS
from counterpoint_protocol.spec import AgentSettings, SpecFrontMatter
from counterpoint_protocol.transcript import STEP_ADAPTER

SCHEMA_DIR = Path(__file__).parent / "schemas"


def schemas() -> dict[str, Any]:
    return {
        "spec-front-matter.schema.json": SpecFrontMatter.model_json_schema(),
        "agent-settings.schema.json": AgentSettings.model_json_schema(),
        "event.schema.json": Event.model_json_schema(),
        "event-payloads.schema.json": {
            "description": "The typed metadata of these event types, by type.",
            "$defs": {t.value: model.model_json_schema() for t, model in EVENT_PAYLOADS.items()},
        },
        "transcript-step.schema.json": STEP_ADAPTER.json_schema(),
        "commands.schema.json": {
            "$defs": {
                "run": RunParams.model_json_schema(),
                "cancel": CancelParams.model_json_schema(),
                "rerun": RerunParams.model_json_schema(),
                "events": EventsParams.model_json_schema(),
                "resume": ResumeParams.model_json_schema(),
                "statusResult": StatusResult.model_json_schema(),
                "diff": DiffParams.model_json_schema(),
                "diffResult": DiffResult.model_json_schema(),
                "apply": ApplyParams.model_json_schema(),
                "applyResult": ApplyResult.model_json_schema(),
                "discard": DiscardParams.model_json_schema(),
                "discardResult": DiscardResult.model_json_schema(),
                "showFile": ShowFileParams.model_json_schema(),
                "showFileResult": ShowFileResult.model_json_schema(),
                "plan": PlanParams.model_json_schema(),
                "planResult": PlanResult.model_json_schema(),
                "attach": AttachParams.model_json_schema(),
                "attachResult": AttachResult.model_json_schema(),
                "settings": ServerSettings.model_json_schema(),
            }
        },
        "methods.json": {
            "commands": {name.lower(): getattr(Commands, name) for name in dir(Commands) if name.isupper()},
            "notifications": {"event": Notifications.EVENT},
            "eventTypes": [t.value for t in EventType],
            "agentStates": [s.value for s in AgentStatus],
            "specGlob": SPEC_GLOB,
            "planIdPrefix": PLAN_ID_PREFIX,
            "presets": RUNNER_PRESETS,
        },
    }


def render(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    check = "--check" in argv
    stale = []
    SCHEMA_DIR.mkdir(exist_ok=True)
    for name, obj in schemas().items():
        path = SCHEMA_DIR / name
        text = render(obj)
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        sys.stderr.write(f"stale schemas (run python -m counterpoint_protocol.export): {stale}\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
