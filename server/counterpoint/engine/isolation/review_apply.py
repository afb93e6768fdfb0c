"""Apply an isolated run (its changes, base -> integration tip, written into the user's working
tree) or discard it (its branches, refs and working copies deleted).

Nothing here moves the user's HEAD, branches or index: `apply` writes the files the run changed
into the working tree only (``git apply`` without ``--index``, after ``--check``, from the
repository's top folder), so the user's own uncommitted changes stay, staged or not.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
from pathlib import Path

from counterpoint_protocol.messages import ApplyResult, DiscardResult

from counterpoint.engine.isolation import Repo, RunRefs, WorkingCopies, git
from counterpoint.engine.isolation.review_changes import (
    PATCH_OPTIONS,
    IsolationInfo,
    ReviewRefused,
    changed_files,
    endpoints,
    full_ref,
)

_APPLY_ERROR = re.compile(r"^error: (?:patch failed: )?(.+?)(?::\d+)?(?:: (.*))?$")


# -- apply ------------------------------------------------------------------------------------------


async def apply(repo: Repo, info: IsolationInfo) -> ApplyResult:
    """The run's changes (base -> integration tip) written into the user's working tree; refused,
    naming the files, when the tree changed since the run started in a way that conflicts."""
    base, head = await endpoints(repo, info, None)
    files = await changed_files(repo, base, head)
    result = ApplyResult(runId=info.run_id, base=base, head=head, files=files)
    if not files:
        return result
    folder = await asyncio.to_thread(tempfile.mkdtemp, prefix="counterpoint-apply-")
    patch = Path(folder) / f"{info.run_id}.patch"
    top = Path(repo.toplevel)
    try:
        await git(repo, "diff", "--binary", "--full-index", *PATCH_OPTIONS, f"--output={patch}", base, head)
        checked = await git(top, "apply", "--check", "--whitespace=nowarn", str(patch), check=False)
        if checked.returncode != 0:
            back = await git(
                top, "apply", "--check", "--reverse", "--whitespace=nowarn", str(patch), check=False
            )
            if back.returncode == 0:
                raise ReviewRefused(
                    f"run {info.run_id} is already applied: its changes are in your working tree"
                )
            raise ReviewRefused(_conflict_message(info.run_id, checked.stderr))
        done = await git(top, "apply", "--whitespace=nowarn", str(patch), check=False)
        if done.returncode != 0:
            raise ReviewRefused(f"cannot apply run {info.run_id}: {_first_lines(done.stderr)}")
    finally:
        await asyncio.to_thread(_remove_folder, Path(folder))
    await git(repo, "update-ref", applied_ref(info.run_id), head)
    return result


def applied_ref(run_id: str) -> str:
    """Set by `apply` to the integration tip it applied (deleted with the run by `discard`)."""
    return f"refs/counterpoint/{run_id}/applied"


def _conflict_message(run_id: str, stderr: str) -> str:
    problems: dict[str, str] = {}
    for line in stderr.splitlines():
        match = _APPLY_ERROR.match(line.strip())
        if match is None:
            continue
        path, why = match.group(1), match.group(2) or "your edits overlap the run's"
        if why != "patch does not apply" or path not in problems:
            problems[path] = why
    if not problems:
        return f"cannot apply run {run_id}: {_first_lines(stderr)}"
    listed = "; ".join(f"{path} ({why})" for path, why in problems.items())
    return (
        f"cannot apply run {run_id}: your working tree changed since the run started in a way that "
        f"conflicts with it: {listed}. Commit, stash or undo your changes to "
        f"{'that file' if len(problems) == 1 else 'those files'} and apply again "
        f"(`counterpoint diff {run_id}` shows the run's changes); nothing was changed"
    )


def _first_lines(text: str, count: int = 3) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return "; ".join(lines[:count]) or "git failed"


def _remove_folder(folder: Path) -> None:
    for child in folder.iterdir():
        child.unlink()
    folder.rmdir()


# -- discard ----------------------------------------------------------------------------------------


async def discard(repo: Repo, info: IsolationInfo, state_dir: Path) -> DiscardResult:
    """Delete the run's branches and refs and remove its working copies."""
    refs = info.refs
    if repo.branch is not None and full_ref(repo.branch).startswith(refs.prefix):
        raise ReviewRefused(
            f"your working tree is on {RunRefs.branch_name(full_ref(repo.branch))}, a branch of run "
            f"{info.run_id}: switch to another branch first"
        )
    removed = await WorkingCopies(repo, refs, state_dir).discard()
    listed = await git(
        repo, "for-each-ref", "--format=%(refname)", refs.prefix, f"refs/counterpoint/{info.run_id}/"
    )
    names = [line for line in listed.stdout.splitlines() if line]
    if names:
        await git(repo, "update-ref", "--stdin", input="".join(f"delete {name}\n" for name in names).encode())
    return DiscardResult(runId=info.run_id, refs=names, working_copies=[str(path) for path in removed])
