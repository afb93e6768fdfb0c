"""The isolated agents' part of the report: per agent the files and lines it changed and its
working copy, the merge order, the conflicts predicted while agents worked (how long before the
actual conflict, or that it never happened) and the actual merge conflicts (predicted or not).

Built from the events alone (``working_copy_created``, ``snapshot``, ``agent_merged``,
``conflict_predicted``, ``conflict_cleared``, ``merge_conflict``), in the report's one pass: what
it keeps grows with the agents and the conflicts, not with the events.
"""

from __future__ import annotations

from typing import Any

from counterpoint_protocol.events import Event, EventType

from counterpoint.engine.report.markup import esc

T = EventType
EVENTS = frozenset(
    {
        T.WORKING_COPY_CREATED,
        T.SNAPSHOT,
        T.AGENT_MERGED,
        T.CONFLICT_PREDICTED,
        T.CONFLICT_CLEARED,
        T.MERGE_CONFLICT,
    }
)
"""The events `IsolationSection.add` reads."""
INTEGRATION = "integration"


def _files_of(meta: dict[str, Any]) -> list[str]:
    return [str(f.get("path")) for f in meta.get("files") or [] if isinstance(f, dict) and f.get("path")]


class IsolationSection:
    """Takes the isolation events of a run (`add`, in id order); `section` gives the report part."""

    def __init__(self) -> None:
        self.agents: dict[str, dict[str, Any]] = {}
        self.merges: list[dict[str, Any]] = []
        self.predicted: dict[str, dict[str, Any]] = {}
        self.actual: list[dict[str, Any]] = []
        self.touched: dict[str, set[str]] = {}
        """Per agent, the files its snapshots changed (for an agent never merged)."""

    def _agent(self, name: str) -> dict[str, Any]:
        return self.agents.setdefault(
            name,
            {"name": name, "files": 0, "added": 0, "removed": 0, "snapshots": 0, "merged_order": None},
        )

    def add(self, event: Event, at: float) -> None:
        meta, actor = event.metadata, event.actor or ""
        if event.type == T.WORKING_COPY_CREATED and actor:
            if actor == INTEGRATION and str(meta.get("branch", "")).endswith("/integration"):
                return  # the integration copy, where checks and integrators work
            row = self._agent(actor)
            row["copies"] = row.get("copies", 0) + 1
            row["method"] = meta.get("method")
            row["setup_s"] = meta.get("seconds")
            row["start_commit"] = meta.get("start_commit")
        elif event.type == T.SNAPSHOT and actor:
            row = self._agent(actor)
            row["snapshots"] += 1
            files = meta.get("files")
            if isinstance(files, list):
                self.touched.setdefault(actor, set()).update(str(f) for f in files if isinstance(f, str))
        elif event.type == T.AGENT_MERGED and actor:
            row = self._agent(actor)
            for key in ("files", "added", "removed"):
                row[key] += int(meta.get(key) or 0)
            row["merged_order"] = meta.get("order")
            row["merged_at_s"] = at
            self.merges.append(
                {
                    "order": meta.get("order"),
                    "agent": actor,
                    "at_s": at,
                    "conflicted": bool(meta.get("conflicted")),
                }
            )
        elif event.type == T.CONFLICT_PREDICTED:
            key = str(meta.get("key") or actor)
            known = self.predicted.get(key)
            if known is None:
                self.predicted[key] = {
                    "key": key,
                    "agents": [str(a) for a in meta.get("agents") or [actor]],
                    "files": _files_of(meta),
                    "predicted_at_s": at,
                    "cleared_at_s": None,
                    "happened_at_s": None,
                    "lead_s": None,
                }
            else:
                known["cleared_at_s"] = None  # predicted again
                known["files"] = sorted(set(known["files"]) | set(_files_of(meta)))
        elif event.type == T.CONFLICT_CLEARED:
            known = self.predicted.get(str(meta.get("key") or event.action or ""))
            if known is not None and known["happened_at_s"] is None:
                known["cleared_at_s"] = at
        elif event.type == T.MERGE_CONFLICT:
            self._merge_conflict(actor, meta, at)

    def _merge_conflict(self, actor: str, meta: dict[str, Any], at: float) -> None:
        agents = [str(a) for a in meta.get("agents") or [actor]]
        files = _files_of(meta)
        conflict = {
            "agent": actor,
            "agents": agents,
            "files": files,
            "at_s": at,
            "predicted_at_s": None,
            "lead_s": None,
        }
        # The first prediction of this pair (on these files) that had not happened yet.
        for predicted in self.predicted.values():
            same_pair = actor in predicted["agents"] and (set(predicted["agents"]) - {actor}) <= set(
                agents
            ) | {INTEGRATION}
            overlap = not files or not predicted["files"] or set(files) & set(predicted["files"])
            if same_pair and overlap and predicted["happened_at_s"] is None:
                predicted["happened_at_s"] = at
                predicted["lead_s"] = round(at - predicted["predicted_at_s"], 3)
                conflict["predicted_at_s"] = predicted["predicted_at_s"]
                conflict["lead_s"] = predicted["lead_s"]
                break
        self.actual.append(conflict)

    def section(self) -> dict[str, Any] | None:
        """The report's ``isolation`` part, None for a run without isolated agents."""
        if not self.agents and not self.actual and not self.predicted:
            return None
        agents = []
        for name, row in self.agents.items():
            if row["merged_order"] is None and self.touched.get(name):
                row["files"] = len(self.touched[name])  # never merged: what its snapshots changed
            agents.append(row)
        predicted = list(self.predicted.values())
        return {
            "agents": agents,
            "merge_order": [
                m["agent"] for m in sorted(self.merges, key=lambda m: (m["order"] or 0, m["at_s"]))
            ],
            "merges": self.merges,
            "conflicts_predicted": predicted,
            "conflicts": self.actual,
            "predicted": len(predicted),
            "predicted_happened": sum(1 for p in predicted if p["happened_at_s"] is not None),
            "actual": len(self.actual),
            "actual_predicted": sum(1 for c in self.actual if c["predicted_at_s"] is not None),
        }


def _pair(agents: list[str]) -> str:
    return " × ".join(agents)


def predicted_text(p: dict[str, Any]) -> str:
    """One predicted conflict: when, and how much earlier than the conflict (or that none came)."""
    files = f" on {', '.join(p['files'])}" if p["files"] else ""
    head = f"{_pair(p['agents'])}{files}: predicted at {p['predicted_at_s']:.2f}s"
    if p["happened_at_s"] is not None:
        return f"{head}, merge conflict at {p['happened_at_s']:.2f}s ({p['lead_s']:.2f} s earlier)"
    if p["cleared_at_s"] is not None:
        return f"{head}, cleared at {p['cleared_at_s']:.2f}s: never happened"
    return f"{head}: never happened"


def conflict_text(c: dict[str, Any]) -> str:
    files = f" on {', '.join(c['files'])}" if c["files"] else ""
    when = f"predicted {c['lead_s']:.2f} s earlier" if c["predicted_at_s"] is not None else "not predicted"
    return f"merging {c['agent']} ({_pair(c['agents'])}){files} at {c['at_s']:.2f}s: {when}"


def conflicts_line(section: dict[str, Any]) -> str:
    if not section["predicted"] and not section["actual"]:
        return "Conflicts: none predicted, none at merge."
    return (
        f"Conflicts: {section['predicted']} predicted ({section['predicted_happened']} happened), "
        f"{section['actual']} at merge ({section['actual_predicted']} of them predicted)."
    )


def markdown_lines(section: dict[str, Any] | None) -> list[str]:
    """The Markdown of the section (nothing for a run without isolated agents)."""
    if not section:
        return []
    lines = [
        "",
        "| isolated agent | files | lines + | lines - | merged | working copy |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for a in section["agents"]:
        copy = f"{a.get('method') or '-'}" + (
            f" ({a['setup_s']:.2f}s)" if a.get("setup_s") is not None else ""
        )
        merged = f"#{a['merged_order']}" if a.get("merged_order") else "-"
        lines.append(f"| {a['name']} | {a['files']} | {a['added']} | {a['removed']} | {merged} | {copy} |")
    if section["merge_order"]:
        lines += ["", f"Merge order: {' -> '.join(section['merge_order'])}."]
    lines += ["", conflicts_line(section)]
    lines += [f"- predicted: {predicted_text(p)}" for p in section["conflicts_predicted"]]
    lines += [f"- conflict: {conflict_text(c)}" for c in section["conflicts"]]
    return lines


def html(section: dict[str, Any] | None) -> str:
    """The HTML of the section (empty for a run without isolated agents)."""
    if not section:
        return ""
    rows = "".join(
        f"<tr><td>{esc(a['name'])}</td><td class=num>{esc(a['files'])}</td>"
        f"<td class=num>+{esc(a['added'])}</td><td class=num>-{esc(a['removed'])}</td>"
        f"<td class=num>{'#' + esc(a['merged_order']) if a.get('merged_order') else '-'}</td>"
        f"<td>{esc(a.get('method') or '-')}</td></tr>"
        for a in section["agents"]
    )
    items = [f"<li>predicted: {esc(predicted_text(p))}</li>" for p in section["conflicts_predicted"][:200]]
    items += [f"<li>conflict: {esc(conflict_text(c))}</li>" for c in section["conflicts"][:200]]
    order = " → ".join(esc(name) for name in section["merge_order"]) or "-"
    return (
        "<h2>Isolated agents</h2><table><tr><th>agent</th><th class=num>files</th><th class=num>lines +</th>"
        f"<th class=num>lines -</th><th class=num>merged</th><th>working copy</th></tr>{rows}</table>"
        f"<p>Merge order: {order}. {esc(conflicts_line(section))}</p>"
        + (f"<ul class=plain>{''.join(items)}</ul>" if items else "")
    )
