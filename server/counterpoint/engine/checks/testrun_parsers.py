"""Findings from test runs: JUnit XML reports and plain pytest output.

Both come down to "which test failed, where, and why": the location is the last traceback
frame inside the workspace (pytest's ``path:line: ...`` lines, Python's ``File "path",
line N``, or a JavaScript ``at fn (path:line:col)`` frame), the message is the exception
line (pytest's ``E   `` lines or the failure's ``message`` attribute), and the rule is the
test's id so that two tests failing on one line stay two findings.

The XML is read with :mod:`xml.etree.ElementTree` (the standard library; on Python 3.11
with expat >= 2.4.1 it refuses entity-expansion bombs and never fetches external entities).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from counterpoint.engine.checks.findings import Finding
from counterpoint.engine.checks.locations import (
    find_def_line,
    is_workspace_path,
    module_to_path,
    normalize_path,
)

DETAIL_LIMIT = 4000

_PYTEST_FRAME = re.compile(r"^(?P<path>[^\s:>][^:]*?):(?P<line>\d+):(?: (?P<rest>.*))?$")
_PYTHON_FRAME = re.compile(r'^(?:E\s+)?\s*File "(?P<path>[^"]+)", line (?P<line>\d+)')
_JS_FRAME = re.compile(r"^\s*at (?:.*?\()?(?:file://)?(?P<path>[^\s()]+?):(?P<line>\d+):(?P<col>\d+)\)?\s*$")
_EXCEPTION_LINE = re.compile(
    r"^(?:[A-Za-z_]\w*\.)*[A-Z]\w*(?:Error|Exception|Exit|Failure|Failed|Interrupt|Warning)"
    r"(?::\s.*)?$"
)
_SECTION = re.compile(r"^=+ (?P<title>.+?) =+$")
_BLOCK = re.compile(r"^_{3,} (?P<title>.+?) _{3,}$")
_SUMMARY = re.compile(r"^(?P<kind>FAILED|ERROR) (?P<nodeid>.+?)(?: - (?P<msg>.*))?$")
_CAPTURED = re.compile(r"^-+ Captured .* -+$")
_BLOCK_PREFIXES = ("ERROR collecting ", "ERROR at setup of ", "ERROR at teardown of ")


@dataclass
class TracebackInfo:
    """What a failure's text says: the innermost workspace frame and the exception line."""

    path: str | None = None
    line: int | None = None
    col: int | None = None
    message: str | None = None


def analyze_traceback(text: str, cwd: Path) -> TracebackInfo:
    """Find the last in-workspace frame and the exception message in a failure's text."""
    info = TracebackInfo()
    e_groups: list[list[str]] = []
    previous_was_e = False
    exception_lines: list[str] = []
    for line in text.splitlines():
        is_e = line.startswith("E ") or line == "E"
        if is_e:
            if not previous_was_e:
                e_groups.append([])
            e_groups[-1].append(line[1:].strip())
        previous_was_e = is_e
        if _EXCEPTION_LINE.match(line):
            exception_lines.append(line.strip())
        frame = _match_frame(line)
        if frame is None:
            continue
        raw_path, number, col = frame
        path = normalize_path(raw_path, cwd)
        if is_workspace_path(path):
            info.path, info.line, info.col = path, number, col
    if e_groups:
        info.message = _message_from_e_group(e_groups[-1])
    elif exception_lines:
        info.message = exception_lines[-1]
    return info


def _match_frame(line: str) -> tuple[str, int, int | None] | None:
    if line.startswith(">"):
        return None
    match = _PYTHON_FRAME.match(line)
    if match:
        return match["path"], int(match["line"]), None
    if line.startswith("E "):
        return None
    match = _JS_FRAME.match(line)
    if match:
        return match["path"], int(match["line"]), int(match["col"])
    match = _PYTEST_FRAME.match(line)
    if match and "." in match["path"]:
        return match["path"], int(match["line"]), None
    return None


def _message_from_e_group(group: list[str]) -> str | None:
    lines = [line for line in group if line]
    if not lines:
        return None
    if lines[0].startswith('File "'):  # a SyntaxError quoted inside the E lines
        candidates = [line for line in lines if _EXCEPTION_LINE.match(line)]
        return candidates[-1] if candidates else lines[-1]
    return lines[0]


def _first_line(text: str | None) -> str:
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()
    return ""


def _clip(text: str) -> str | None:
    text = text.strip("\n")
    if not text:
        return None
    return text if len(text) <= DETAIL_LIMIT else text[:DETAIL_LIMIT] + "\n..."


# --------------------------------------------------------------------------- JUnit XML


def parse_junit(xml_bytes: bytes, *, cwd: Path, check: str) -> tuple[list[Finding], list[str]]:
    """Findings for every ``testcase`` with a ``failure`` or ``error`` child."""
    try:
        root = ET.fromstring(xml_bytes)
    except ET.ParseError as exc:
        return [], [f"the JUnit XML could not be read: {exc}"]
    if _local(root.tag) not in ("testsuites", "testsuite", "testcase"):
        return [], [f"not a JUnit report: the root element is <{_local(root.tag)}>"]
    findings: list[Finding] = []
    for suite in root.iter():
        if _local(suite.tag) not in ("testsuites", "testsuite"):
            continue
        zero_based = suite.get("name") == "pytest"  # pytest's xunit1 `line` is 0-based
        for case in suite:
            if _local(case.tag) != "testcase":
                continue
            for outcome in case:
                if _local(outcome.tag) in ("failure", "error"):
                    findings.append(_junit_finding(case, outcome, cwd, check, zero_based))
    return findings, []


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _junit_finding(case: ET.Element, outcome: ET.Element, cwd: Path, check: str, zero_based: bool) -> Finding:
    body = outcome.text or ""
    info = analyze_traceback(body, cwd)
    name = case.get("name", "")
    classname = case.get("classname", "")
    attr_file = case.get("file")
    path, line, col = info.path, info.line, info.col
    test_id = f"{classname}.{name}" if classname else name
    if attr_file:
        test_id = f"{normalize_path(attr_file, cwd)}::{name}"
    guess = module_to_path(classname, cwd) if classname else module_to_path(name, cwd)
    if guess is not None:
        guessed_path, leftover = guess
        names = leftover + ([name] if classname else [])
        test_id = "::".join([guessed_path, *names]) if names else guessed_path
    if path is None and attr_file:
        path = normalize_path(attr_file, cwd)
        raw_line = case.get("line")
        if raw_line and raw_line.isdigit():
            line = int(raw_line) + (1 if zero_based else 0)
    if path is None and guess is not None:
        path = guess[0]
        line = find_def_line(path, name, cwd) if classname else None
    message = _first_line(outcome.get("message"))
    if not message or message == "collection failure":
        message = info.message or _first_line(body) or message
    if not message:
        message = "test failed" if _local(outcome.tag) == "failure" else "test errored"
    return Finding(
        check=check,
        path=path,
        line=line,
        col=col,
        severity="error",
        message=message,
        rule=test_id or None,
        detail=_clip(body),
    )


# --------------------------------------------------------------------------- plain pytest


@dataclass
class _Block:
    title: str
    lines: list[str] = field(default_factory=list)


def parse_pytest(text: str, *, cwd: Path, check: str) -> list[Finding]:
    """Findings from pytest's FAILURES/ERRORS sections and its short test summary."""
    blocks: list[_Block] = []
    summary: list[tuple[str, str, str | None]] = []
    section = ""
    current: _Block | None = None
    for line in text.splitlines():
        line = line.rstrip("\r")
        section_match = _SECTION.match(line)
        if section_match:
            section = section_match["title"].strip().lower()
            current = None
            continue
        if section in ("failures", "errors"):
            block_match = _BLOCK.match(line)
            if block_match:
                current = _Block(block_match["title"].strip())
                blocks.append(current)
            elif current is not None:
                current.lines.append(line)
        elif section == "short test summary info":
            summary_match = _SUMMARY.match(line)
            if summary_match:
                summary.append((summary_match["kind"], summary_match["nodeid"], summary_match["msg"]))
    findings: list[Finding] = []
    used: set[int] = set()
    for block in blocks:
        nodeid = _match_nodeid(block.title, summary, used)
        findings.append(_block_finding(block, nodeid, cwd, check))
    for index, (kind, nodeid, msg) in enumerate(summary):
        if index not in used:
            findings.append(_summary_finding(kind, nodeid, msg, cwd, check))
    return findings


def _bare_title(title: str) -> str:
    for prefix in _BLOCK_PREFIXES:
        if title.startswith(prefix):
            return title[len(prefix) :]
    return title


def _match_nodeid(title: str, summary: list[tuple[str, str, str | None]], used: set[int]) -> str | None:
    bare = _bare_title(title)
    kind = "ERROR" if title.startswith("ERROR ") else "FAILED"
    for index, (summary_kind, nodeid, _msg) in enumerate(summary):
        if index in used or summary_kind != kind:
            continue
        tail = nodeid.split("::", 1)[1].replace("::", ".") if "::" in nodeid else nodeid
        if bare in (nodeid, tail):
            used.add(index)
            return nodeid
    return None


def _block_finding(block: _Block, nodeid: str | None, cwd: Path, check: str) -> Finding:
    body = "\n".join(block.lines)
    traceback_lines: list[str] = []
    for text_line in block.lines:
        if _CAPTURED.match(text_line):  # printed output of the test is not its traceback
            break
        traceback_lines.append(text_line)
    info = analyze_traceback("\n".join(traceback_lines), cwd)
    path, line = info.path, info.line
    if path is None and nodeid is not None:
        path, line = _nodeid_location(nodeid, cwd)
    message = info.message or _first_line(body) or block.title
    return Finding(
        check=check,
        path=path,
        line=line,
        col=info.col,
        severity="error",
        message=message,
        rule=nodeid or _bare_title(block.title),
        detail=_clip(body),
    )


def _summary_default(kind: str, nodeid: str) -> str:
    if kind == "FAILED":
        return "test failed"
    return "test errored" if "::" in nodeid else f"could not collect {nodeid}"


def _summary_finding(kind: str, nodeid: str, msg: str | None, cwd: Path, check: str) -> Finding:
    path, line = _nodeid_location(nodeid, cwd)
    return Finding(
        check=check,
        path=path,
        line=line,
        severity="error",
        message=(msg or "").strip() or _summary_default(kind, nodeid),
        rule=nodeid,
    )


def _nodeid_location(nodeid: str, cwd: Path) -> tuple[str | None, int | None]:
    file_part, _, rest = nodeid.partition("::")
    if not file_part:
        return None, None
    path = normalize_path(file_part, cwd)
    return path, (find_def_line(path, rest, cwd) if rest else None)
