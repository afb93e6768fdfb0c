"""`Integration`: an isolated run's integration branch and the copy its checks work in.

The branch (``counterpoint/<run>/integration``) starts at the run's base and moves only by
merges: an agent's work when it succeeds (one merge at a time), an integrator's work when it is
done. Its copy shows the tip plus every snapshot handed on at a signal and not merged yet, so
checks see the work the moment it is handed on, as they would in a shared workspace.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from counterpoint_protocol.events import ConflictFile, ConflictPayload, EventType, MergePayload

from counterpoint.engine.isolation import Repo, RunRefs, WorkingCopies, commit_tree, git, merge, update_ref
from counterpoint.engine.run.conflicts import conflict_message
from counterpoint.engine.watch import FileChange

if TYPE_CHECKING:
    from counterpoint.engine.run.place import AgentPlace
    from counterpoint.engine.run.view import Emit

INTEGRATION = "integration"
"""The label of the integration branch's side in conflicts, and its copy's name."""


class Integration:
    """The integration branch of one run: its tip, merges into it, and its working copy."""

    def __init__(
        self,
        *,
        repo: Repo,
        refs: RunRefs,
        copies: WorkingCopies,
        emit: Emit,
        files_changed: Callable[[list[FileChange]], None],
    ) -> None:
        self.repo = repo
        self.refs = refs
        self.copies = copies
        self._emit = emit
        self._files_changed = files_changed
        self.tip = ""
        """Only ever moved under `lock`."""
        self.place: AgentPlace | None = None
        self.shown = ""
        """What the copy shows: the tip plus the snapshots handed on so far."""
        self.handed_on: dict[str, str] = {}
        """Agent -> its latest snapshot handed on at a signal and not merged yet."""
        self.lock = asyncio.Lock()
        self._copy_lock = asyncio.Lock()
        self._order = 0
        self.merged_files: dict[str, str] = {}
        """Path -> the last agent whose merge changed it (names the other side of a conflict)."""

    def start(self, base: str, place: AgentPlace | None) -> None:
        self.tip = self.shown = base
        self.place = place

    async def start_point(self, snapshots: Sequence[tuple[str, str]]) -> Any:
        """The tip plus these (label, commit) snapshots, for an agent's new copy."""
        async with self.lock:
            return await self.copies.start_commit(self.tip, snapshots)

    async def hand_on(self, agent: str, commit: str) -> None:
        self.handed_on[agent] = commit
        await self.refresh_copy()

    async def merge_agent(self, agent: str, head: str) -> ConflictPayload | None:
        """Merge ``agent``'s branch at ``head``; the conflict (nothing moved) if it does not merge."""
        async with self.lock:
            result = await merge(
                self.repo,
                self.tip,
                head,
                ours_label=INTEGRATION,
                theirs_label=agent,
                message=f"counterpoint: merge {agent}",
            )
            if result.commit is not None:
                await self._advance(agent, result.commit)
                return None
            return self._conflict(agent, result.conflicts)

    async def accept_conflicted(self, agent: str, head: str) -> bool:
        """Make the conflicted merge (markers in the files) the tip, for the integrator to
        resolve; False when git gave no tree to commit."""
        async with self.lock:
            result = await merge(
                self.repo, self.tip, head, ours_label=INTEGRATION, theirs_label=agent, message=""
            )
            if result.tree is None:
                return False
            commit = await commit_tree(
                self.repo, result.tree, [self.tip, head], f"counterpoint: merge {agent} (conflicts)"
            )
            await self._advance(agent, commit, conflicted=True)
            return True

    def _conflict(self, agent: str, files: list[ConflictFile]) -> ConflictPayload:
        others = sorted({self.merged_files.get(f.path, INTEGRATION) for f in files}) or [INTEGRATION]
        for file in files:
            for side in file.sides:
                if side.agent == INTEGRATION:
                    side.agent = self.merged_files.get(file.path, INTEGRATION)
        payload = ConflictPayload(
            key=f"merge:{agent}",
            agents=[agent, *others],
            files=files,
            message=conflict_message(agent, others, files),
        )
        self._emit(EventType.MERGE_CONFLICT, agent, ",".join(f.path for f in files), **payload.metadata())
        return payload

    async def commit_integrator(self, name: str) -> None:
        """An integrator's work in the integration copy, committed on the integration branch."""
        place = self.place
        if place is None:
            return
        async with self.lock:
            snap = await self.copies.snapshot(place.copy, f"{name}: integration")
            if snap is not None:
                self.shown = snap.commit
                await self._advance(name, snap.commit, own=False)

    async def _advance(self, name: str, commit: str, *, conflicted: bool = False, own: bool = True) -> None:
        """Move the branch to ``commit`` (``name``'s work merged); its event. Under `lock`."""
        old = self.tip
        await update_ref(self.repo, self.refs.integration, commit, old)
        self.tip = commit
        self.handed_on.pop(name, None)
        stat = await git(self.repo, "diff", "--numstat", "-z", "--no-renames", old, commit)
        files, added, removed = numstat(stat.stdout)
        for path in files:
            self.merged_files[path] = name
        self._order += 1
        payload = MergePayload(
            commit=commit,
            branch=RunRefs.branch_name(self.refs.agent(name) if own else self.refs.integration),
            files=len(files),
            added=added,
            removed=removed,
            order=self._order,
        )
        meta = payload.metadata()
        if conflicted:
            meta["conflicted"] = True
        self._emit(EventType.AGENT_MERGED, name, "conflicted" if conflicted else "clean", **meta)
        await self.refresh_copy()

    async def refresh_copy(self) -> None:
        """Show the tip plus every snapshot handed on (not merged yet) in the copy."""
        place = self.place
        if place is None:
            return
        async with self._copy_lock:
            start = await self.copies.start_commit(self.tip, sorted(self.handed_on.items()))
            if start.commit == self.shown:
                return
            old, self.shown = self.shown, start.commit
            await git(place.copy.path, "read-tree", "-m", "-u", old, start.commit)
            # The copy's branch follows what it shows: the integrator's work is a snapshot on it.
            await update_ref(self.repo, place.copy.branch, start.commit)
            place.copy.last_snapshot = start.commit
            place.copy.last_tree = (
                await git(self.repo, "rev-parse", f"{start.commit}^{{tree}}")
            ).stdout.strip()
            changed = await git(self.repo, "diff", "--name-only", "-z", old, start.commit)
        self._files_changed(
            [FileChange(self.repo.toplevel / p, "modified") for p in changed.stdout.split("\0") if p]
        )


def numstat(text: str) -> tuple[list[str], int, int]:
    """(paths, lines added, lines removed) of ``git diff --numstat -z`` (binary files count 0)."""
    files: list[str] = []
    added = removed = 0
    for record in text.split("\0"):
        parts = record.split("\t")
        if len(parts) != 3:
            continue
        plus, minus, path = parts
        files.append(path)
        added += int(plus) if plus.isdigit() else 0
        removed += int(minus) if minus.isdigit() else 0
    return files, added, removed


def user_path(repo: Repo, rel: str) -> str:
    """Where a repository path shows for the user: the file in their working tree."""
    return str(Path(repo.toplevel) / rel)
