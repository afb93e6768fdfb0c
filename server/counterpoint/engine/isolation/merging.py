"""Merges without a working tree (``git merge-tree --write-tree``) and what clashes in a conflict.

`merge` makes the merge commit of a clean merge (no ref moves: the caller moves refs); `predict`
only says what would conflict; `merge_in` merges snapshots into a tip one after another (where an
agent starts). For each conflicted file, each side gets the lines of its own version that clash:
the hunks of ``git diff -U0 <merge base> <side>`` that overlap or touch a hunk of the other side
in the merge base's lines (git conflicts on adjacent changes too), or, when none do, the nearest
pair.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from counterpoint_protocol.events import ConflictFile, ConflictSide, LineSpan

from counterpoint.engine.isolation.gitcmd import git, last_line
from counterpoint.engine.isolation.model import GitError, MergeResult, Repo, StartPoint
from counterpoint.engine.isolation.repo import commit_tree, is_ancestor

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@", re.MULTILINE)
_CONFLICT_KIND = re.compile(r"^CONFLICT \(([^)]*)\)")
_LINE_KINDS = ("content", "add/add")

Hunk = tuple[int, int, int, int]
"""``(base start, base count, side start, side count)`` of a ``@@ -a,b +c,d @@`` header."""


@dataclass
class _Conflicted:
    path: str
    stages: dict[int, str] = field(default_factory=dict)
    kinds: list[str] = field(default_factory=list)

    @property
    def kind(self) -> str:
        if "binary" in self.kinds:
            return "binary"
        if self.kinds:
            return self.kinds[0]
        if 1 not in self.stages and 2 in self.stages and 3 in self.stages:
            return "add/add"
        if 2 not in self.stages or 3 not in self.stages:
            return "modify/delete"
        return "content"


def _kind(conflict_type: str, message: str) -> str:
    """Our name for a conflict from merge-tree's type (``CONFLICT (contents)``) and message
    (``CONFLICT (add/add): Merge conflict in x``)."""
    if conflict_type == "CONFLICT (binary)":
        return "binary"
    match = _CONFLICT_KIND.match(message) or _CONFLICT_KIND.match(conflict_type)
    said = match.group(1) if match else conflict_type
    if said.startswith("rename/") or said.endswith("/rename"):
        return "rename"
    return "content" if said == "contents" else said


def parse_merge_tree(stdout: str) -> tuple[str, list[_Conflicted]]:
    """The tree and the conflicted paths of ``git merge-tree --write-tree -z`` output (git 2.38+:
    ``tree NUL``, then ``mode oid stage TAB path NUL``... ``NUL``, then messages, each
    ``count NUL path... NUL type NUL text NUL``)."""
    tokens = stdout.split("\0")
    tree = tokens[0].strip()
    found: dict[str, _Conflicted] = {}
    i = 1
    while i < len(tokens) and tokens[i]:
        meta, _, path = tokens[i].partition("\t")
        parts = meta.split()
        if len(parts) == 3 and parts[2].isdigit():
            found.setdefault(path, _Conflicted(path)).stages[int(parts[2])] = parts[1]
        i += 1
    i += 1
    while i < len(tokens) and tokens[i].isdigit():
        count = int(tokens[i])
        if i + count + 2 >= len(tokens):
            break
        paths = tokens[i + 1 : i + 1 + count]
        conflict_type, message = tokens[i + 1 + count], tokens[i + 2 + count]
        i += count + 3
        if not conflict_type.startswith("CONFLICT"):
            continue
        kind = _kind(conflict_type, message)
        for path in [p for p in paths if p in found] or paths[:1]:
            entry = found.setdefault(path, _Conflicted(path))
            if kind not in entry.kinds:
                entry.kinds.append(kind)
    return tree, list(found.values())


def parse_hunks(diff: str) -> list[Hunk]:
    """The hunk headers of a ``git diff -U0`` of one file."""
    return [(int(a), int(b) if b else 1, int(c), int(d) if d else 1) for a, b, c, d in _HUNK.findall(diff)]


def _base_interval(hunk: Hunk) -> tuple[int, int]:
    """Half-open base lines of a hunk; an insertion after line ``a`` is the empty ``[a+1, a+1)``."""
    start, count = hunk[0], hunk[1]
    return (start, start + count) if count else (start + 1, start + 1)


def _gap(one: Hunk, other: Hunk) -> int:
    s1, e1 = _base_interval(one)
    s2, e2 = _base_interval(other)
    return max(0, s2 - e1, s1 - e2)


def _side_span(hunk: Hunk) -> tuple[int, int]:
    """1-based inclusive lines of the hunk in the side's version; a pure deletion marks the line
    it follows (or line 1)."""
    start, count = hunk[2], hunk[3]
    if count:
        return start, start + count - 1
    return max(start, 1), max(start, 1)


def _spans(hunks: Sequence[Hunk]) -> list[LineSpan]:
    ordered = sorted(_side_span(h) for h in hunks)
    merged: list[list[int]] = []
    for start, end in ordered:
        if merged and start <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [LineSpan(start=s, end=e) for s, e in merged]


def clashing_lines(ours: Sequence[Hunk], theirs: Sequence[Hunk]) -> tuple[list[LineSpan], list[LineSpan]]:
    """The lines of each side (in its own version) whose changes clash with the other side's."""
    if not ours or not theirs:
        return _spans(ours), _spans(theirs)
    ours_clash = [h for h in ours if any(_gap(h, t) == 0 for t in theirs)]
    theirs_clash = [t for t in theirs if any(_gap(h, t) == 0 for h in ours)]
    if not ours_clash:
        nearest = min(((h, t) for h in ours for t in theirs), key=lambda pair: _gap(*pair))
        ours_clash, theirs_clash = [nearest[0]], [nearest[1]]
    return _spans(ours_clash), _spans(theirs_clash)


async def _merge_tree(repo: Repo, ours: str, theirs: str) -> tuple[str, list[_Conflicted]]:
    out = await git(repo, "merge-tree", "--write-tree", "-z", ours, theirs, check=False)
    if out.returncode not in (0, 1):
        raise GitError(f"git merge-tree {ours} {theirs}: {last_line(out.stderr)}")
    tree, conflicted = parse_merge_tree(out.stdout)
    if out.returncode == 0:
        return tree, []
    return tree, conflicted


async def _hunks(repo: Repo, base: str | None, side: str, path: str) -> list[Hunk]:
    old = base or "4b825dc642cb6eb9a060e54bf8d69288fbee4904"  # the empty tree
    out = await git(
        repo,
        "diff",
        "-U0",
        "--no-color",
        "--no-ext-diff",
        "--no-renames",
        old,
        side,
        "--",
        f":(literal){path}",
        check=False,
    )
    return parse_hunks(out.stdout) if out.returncode == 0 else []


async def _describe(
    repo: Repo, ours: str, theirs: str, ours_label: str, theirs_label: str, conflicted: list[_Conflicted]
) -> list[ConflictFile]:
    base_out = await git(repo, "merge-base", ours, theirs, check=False)
    base = base_out.stdout.split()[0] if base_out.returncode == 0 and base_out.stdout.split() else None
    files: list[ConflictFile] = []
    for entry in sorted(conflicted, key=lambda e: e.path):
        ours_lines: list[LineSpan] = []
        theirs_lines: list[LineSpan] = []
        if entry.kind in _LINE_KINDS and 2 in entry.stages and 3 in entry.stages:
            ours_hunks, theirs_hunks = await asyncio.gather(
                _hunks(repo, base, ours, entry.path), _hunks(repo, base, theirs, entry.path)
            )
            ours_lines, theirs_lines = clashing_lines(ours_hunks, theirs_hunks)
        files.append(
            ConflictFile(
                path=entry.path,
                kind=entry.kind,
                sides=[
                    ConflictSide(agent=ours_label, commit=ours, lines=ours_lines),
                    ConflictSide(agent=theirs_label, commit=theirs, lines=theirs_lines),
                ],
            )
        )
    return files


async def predict(
    repo: Repo, ours: str, theirs: str, *, ours_label: str, theirs_label: str
) -> list[ConflictFile]:
    """What merging ``theirs`` into ``ours`` would conflict on (nothing is written but objects)."""
    _, conflicted = await _merge_tree(repo, ours, theirs)
    if not conflicted:
        return []
    return await _describe(repo, ours, theirs, ours_label, theirs_label, conflicted)


async def merge(
    repo: Repo, ours: str, theirs: str, *, ours_label: str, theirs_label: str, message: str
) -> MergeResult:
    """Merge ``theirs`` into ``ours``: a merge commit (parents ours, theirs) when clean, or the
    conflicts. No ref moves."""
    tree, conflicted = await _merge_tree(repo, ours, theirs)
    if conflicted:
        files = await _describe(repo, ours, theirs, ours_label, theirs_label, conflicted)
        return MergeResult(commit=None, tree=tree, conflicts=files)
    commit = await commit_tree(
        repo, tree, [ours, theirs], message or f"Merge {theirs_label} into {ours_label}"
    )
    return MergeResult(commit=commit, tree=tree, conflicts=[])


async def merge_in(
    repo: Repo, tip: str, snapshots: Sequence[tuple[str, str]], tip_label: str = "integration"
) -> StartPoint:
    """``tip`` with each ``(label, commit)`` merged in, in order: a snapshot already in is counted
    as merged, one ahead is fast-forwarded to, one that conflicts is left out and reported."""
    current = tip
    merged: list[str] = []
    conflicts: list[ConflictFile] = []
    for label, commit in snapshots:
        if await is_ancestor(repo, commit, current):
            merged.append(label)
            continue
        if await is_ancestor(repo, current, commit):
            current = commit
            merged.append(label)
            continue
        result = await merge(
            repo,
            current,
            commit,
            ours_label=tip_label,
            theirs_label=label,
            message=f"Merge {label} (snapshot)",
        )
        if result.commit is None:
            conflicts.extend(result.conflicts)
        else:
            current = result.commit
            merged.append(label)
    return StartPoint(commit=current, merged=merged, conflicts=conflicts)
