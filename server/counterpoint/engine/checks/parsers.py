"""Turn a check's output into findings: :func:`parse_output` and the ``gcc``/``sarif`` readers.

A check's ``format:`` is one of

- ``gcc``: ``path:line[:col]: severity: message`` lines (gcc/clang, mypy with its ``note:``
  lines, ruff ``--output-format=concise``, flake8, tsc ``--pretty false``, eslint ``-f unix``,
  pyright), read from stdout and stderr;
- ``sarif`` / ``sarif:<file>``: SARIF 2.1.0 JSON from stdout or from a file (relative to cwd);
- ``junit`` / ``junit:<file>``: JUnit XML (see :mod:`.testrun_parsers`);
- ``pytest``: plain pytest output (see :mod:`.testrun_parsers`);
- ``none``: no findings, the exit code alone says whether the check passed.

Nothing here raises on bad output: what could not be read becomes a line in
``ParseResult.problems``, which the caller shows on the check's line in the spec. Parsing
reads report files, so call :func:`parse_output` through ``asyncio.to_thread``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from counterpoint.engine.checks.findings import Finding, Severity, severity_from_word
from counterpoint.engine.checks.locations import normalize_path, resolve_report_file, uri_to_path
from counterpoint.engine.checks.testrun_parsers import parse_junit, parse_pytest

log = logging.getLogger(__name__)

FORMAT_NAMES = ("gcc", "sarif", "junit", "pytest", "none")
_FILE_FORMATS = ("sarif", "junit")
MAX_FINDINGS = 2000

_PATH = r"(?P<path>(?:[A-Za-z]:[\\/])?[^\s:][^:]*?)"
_POS = r":(?P<line>\d+)(?::(?P<col>\d+))?(?::(?P<end_line>\d+):(?P<end_col>\d+))?"
_GCC_SEVERITY = re.compile(
    rf"^{_PATH}{_POS}: (?P<sev>fatal error|error|warning|note|info|remark|hint): (?P<msg>.*)$"
)
_CODE_FIRST = re.compile(  # ruff concise, flake8: `path:1:8: F401 [*] message`
    rf"^{_PATH}:(?P<line>\d+):(?P<col>\d+): "
    r"(?P<code>[A-Z]{1,6}\d{1,5}|[a-z][a-z0-9]*(?:-[a-z0-9]+)+):? (?:\[\*\] )?(?P<msg>.*)$"
)
_TSC = re.compile(
    r"^(?P<path>[^\s(][^(]*?)\((?P<line>\d+),(?P<col>\d+)\): "
    r"(?P<sev>error|warning|message|info) (?P<code>TS\d+): (?P<msg>.*)$"
)
_PYRIGHT = re.compile(
    r"^\s+(?P<path>\S.*?):(?P<line>\d+):(?P<col>\d+) - "
    r"(?P<sev>error|warning|information|info|hint): (?P<msg>.*)$"
)
_BARE = re.compile(rf"^{_PATH}:(?P<line>\d+):(?P<col>\d+): (?P<msg>.+)$")
_ESLINT_TAIL = re.compile(r"\s*\[(?P<sev>Error|Warning|Info)(?:/(?P<rule>[^\]]+))?\]$")
_BRACKET_RULE = re.compile(r"\s+\[(?P<rule>[-\w.:/=@]+)\]$")  # mypy `  [arg-type]`, gcc `[-W...]`
_PYRIGHT_RULE = re.compile(r"\s+\((?P<rule>report\w+)\)$")


@dataclass
class ParseResult:
    """Findings read from one check run, and why any part of the output could not be read."""

    findings: list[Finding] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def format_spec_error(format_spec: str) -> str | None:
    """Why ``format_spec`` is not a valid ``format:`` value, or ``None`` when it is."""
    name, _, arg = format_spec.strip().partition(":")
    if name not in FORMAT_NAMES:
        return f"unknown format {format_spec!r}; expected one of {', '.join(FORMAT_NAMES)}"
    if arg and name not in _FILE_FORMATS:
        return f"format {name!r} takes no file (got {format_spec!r})"
    if format_spec.strip().endswith(":"):
        return f"format {format_spec!r} names no file"
    return None


def parse_output(
    format_spec: str,
    *,
    stdout: str,
    stderr: str,
    cwd: Path,
    exit_code: int,
    check: str,
    not_before: float | None = None,
) -> ParseResult:
    """Read the findings of one run of ``check`` according to its ``format:`` spec.

    ``not_before`` (a ``time.time()`` value, usually when the run started) makes a report
    file older than it count as missing rather than as this run's result.
    """
    result = ParseResult()
    spec_error = format_spec_error(format_spec)
    if spec_error is not None:
        result.problems.append(spec_error)
        return result
    name, _, file_arg = format_spec.strip().partition(":")
    try:
        if name == "none":
            return result
        if name == "gcc":
            result.findings = parse_gcc(stdout + "\n" + stderr, cwd=cwd, check=check)
        elif name == "pytest":
            result.findings = parse_pytest(stdout + "\n" + stderr, cwd=cwd, check=check)
        else:
            data = _report_bytes(name, file_arg, stdout, cwd, exit_code, not_before, result)
            if data is not None:
                if name == "sarif":
                    findings, problems = parse_sarif(data, cwd=cwd, check=check)
                else:
                    findings, problems = parse_junit(data, cwd=cwd, check=check)
                result.findings, result.problems = findings, result.problems + problems
    except Exception as exc:  # a parser bug must not take the check runner down
        log.exception("parsing %s output of check %s failed", format_spec, check)
        result.problems.append(f"could not read the {name} output: {exc!r}")
    result.findings = _dedup(result.findings)
    if len(result.findings) > MAX_FINDINGS:
        extra = len(result.findings) - MAX_FINDINGS
        result.findings = result.findings[:MAX_FINDINGS]
        result.problems.append(f"{extra} more findings were left out")
    if exit_code != 0 and not result.findings and not result.problems:
        first = _first_line(stdout) or _first_line(stderr)
        if first:
            result.problems.append(f"exited {exit_code} and printed nothing I could read: {first[:200]}")
        else:
            result.problems.append(f"exited {exit_code} and printed nothing")
    return result


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def _report_bytes(
    name: str,
    file_arg: str,
    stdout: str,
    cwd: Path,
    exit_code: int,
    not_before: float | None,
    result: ParseResult,
) -> bytes | None:
    if not file_arg:
        if not stdout.strip():
            result.problems.append(f"exited {exit_code} and printed no {name} report")
            return None
        return stdout.encode("utf-8", errors="replace")
    path = resolve_report_file(file_arg, cwd)
    try:
        if not_before is not None and os.stat(path).st_mtime < not_before - 1.0:
            age = time.time() - os.stat(path).st_mtime
            result.problems.append(
                f"exited {exit_code} without writing {file_arg} (the file there is {age:.0f}s old)"
            )
            return None
        return path.read_bytes()
    except OSError as exc:
        result.problems.append(f"exited {exit_code} without writing {file_arg} ({exc.strerror})")
        return None


def _dedup(findings: list[Finding]) -> list[Finding]:
    seen: set[str] = set()
    unique: list[Finding] = []
    for finding in findings:
        key = finding.key()
        if key not in seen:
            seen.add(key)
            unique.append(finding)
    return unique


# --------------------------------------------------------------------------- gcc family


def parse_gcc(text: str, *, cwd: Path, check: str) -> list[Finding]:
    """Findings from ``path:line[:col]: ...`` lines; a ``note`` on the line of the finding
    before it becomes part of that finding's detail, any other note is an ``info`` finding."""
    findings: list[Finding] = []
    for raw_line in text.splitlines():
        parsed = _parse_gcc_line(raw_line.rstrip("\r"), cwd, check)
        if parsed is None:
            continue
        finding, is_note = parsed
        if is_note and findings:
            last = findings[-1]
            if last.severity != "info" and (last.path, last.line) == (finding.path, finding.line):
                extra = f"note: {finding.message}"
                detail = f"{last.detail}\n{extra}" if last.detail else extra
                findings[-1] = replace(last, detail=detail)
                continue
        findings.append(finding)
    return findings


def _int(value: str | None) -> int | None:
    return int(value) if value is not None else None


def _parse_gcc_line(line: str, cwd: Path, check: str) -> tuple[Finding, bool] | None:
    rule: str | None = None
    end_line = end_col = None
    match = _GCC_SEVERITY.match(line)
    if match:
        word = match["sev"]
        severity = severity_from_word(word)
        message = match["msg"]
        end_line, end_col = _int(match["end_line"]), _int(match["end_col"])
        if end_col is not None:
            end_col += 1  # mypy's --show-error-end column is inclusive
        rule_match = _BRACKET_RULE.search(message)
        if rule_match:
            rule, message = rule_match["rule"], message[: rule_match.start()]
        return _finding(match, cwd, check, severity, message, rule, end_line, end_col), (word == "note")
    for pattern in (_TSC, _PYRIGHT):
        match = pattern.match(line)
        if match:
            message = match["msg"]
            rule = match["code"] if "code" in pattern.groupindex else None
            rule_match = _PYRIGHT_RULE.search(message)
            if rule_match:
                rule, message = rule_match["rule"], message[: rule_match.start()]
            severity = severity_from_word(match["sev"])
            return _finding(match, cwd, check, severity, message, rule), False
    match = _CODE_FIRST.match(line)
    if match:
        return _finding(match, cwd, check, "error", match["msg"], match["code"]), False
    match = _BARE.match(line)
    if match and ("." in match["path"] or "/" in match["path"]):  # not `12:34:56: log line`
        message = match["msg"]
        bare_severity: Severity = "error"
        tail = _ESLINT_TAIL.search(message)
        if tail:
            bare_severity = severity_from_word(tail["sev"])
            rule, message = tail["rule"], message[: tail.start()]
        return _finding(match, cwd, check, bare_severity, message, rule), False
    return None


def _finding(
    match: re.Match[str],
    cwd: Path,
    check: str,
    severity: Severity,
    message: str,
    rule: str | None,
    end_line: int | None = None,
    end_col: int | None = None,
) -> Finding:
    return Finding(
        check=check,
        path=normalize_path(match["path"], cwd),
        line=int(match["line"]),
        col=_int(match["col"]),
        end_line=end_line,
        end_col=end_col,
        severity=severity,
        message=message.strip(),
        rule=rule,
    )


# --------------------------------------------------------------------------- SARIF


def parse_sarif(data: bytes, *, cwd: Path, check: str) -> tuple[list[Finding], list[str]]:
    """Findings from every ``runs[].results[]`` of a SARIF 2.1.0 log."""
    text = data.decode("utf-8", errors="replace").strip()
    try:
        log_obj = json.loads(text)
    except ValueError:
        start, end = text.find("{"), text.rfind("}")
        try:  # tolerate a banner before or after the JSON on stdout
            log_obj = json.loads(text[start : end + 1]) if 0 <= start < end else None
        except ValueError:
            log_obj = None
        if log_obj is None:
            return [], [f"the SARIF output is not JSON: {_first_line(text)[:120]!r}"]
    runs = log_obj.get("runs") if isinstance(log_obj, dict) else None
    if not isinstance(runs, list):
        return [], ["the SARIF output has no runs[] list"]
    findings: list[Finding] = []
    for run in runs:
        if isinstance(run, dict):
            findings.extend(_sarif_run(run, cwd, check))
    return findings, []


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _sarif_run(run: dict[str, Any], cwd: Path, check: str) -> list[Finding]:
    bases = {
        name: uri_to_path(str(_obj(entry).get("uri", "")))
        for name, entry in _obj(run.get("originalUriBaseIds")).items()
    }
    rules = {
        str(rule.get("id")): rule
        for rule in _obj(_obj(run.get("tool")).get("driver")).get("rules") or []
        if isinstance(rule, dict)
    }
    findings: list[Finding] = []
    for result in run.get("results") or []:
        if not isinstance(result, dict) or result.get("kind") in ("pass", "notApplicable"):
            continue
        rule_id = result.get("ruleId") or _obj(result.get("rule")).get("id")
        rule = _obj(rules.get(str(rule_id)))
        level = result.get("level") or _obj(rule.get("defaultConfiguration")).get("level")
        message = _sarif_message(_obj(result.get("message")), rule, rule_id)
        locations = result.get("locations") or [{}]
        physical = _obj(_obj(locations[0]).get("physicalLocation"))
        artifact = _obj(physical.get("artifactLocation"))
        region = _obj(physical.get("region"))
        path = None
        if artifact.get("uri"):
            uri = str(artifact["uri"])
            base = bases.get(str(artifact.get("uriBaseId")), "")
            if base and not uri.startswith("file:") and not os.path.isabs(uri):
                uri = os.path.join(base, uri_to_path(uri))
            path = normalize_path(uri, cwd)
        findings.append(
            Finding(
                check=check,
                path=path,
                line=_region_int(region, "startLine"),
                col=_region_int(region, "startColumn"),
                end_line=_region_int(region, "endLine"),
                end_col=_region_int(region, "endColumn"),
                severity=severity_from_word(str(level or "warning"), "warning"),
                message=message,
                rule=str(rule_id) if rule_id else None,
            )
        )
    return findings


def _region_int(region: dict[str, Any], name: str) -> int | None:
    value = region.get(name)
    return value if isinstance(value, int) and value > 0 else None


def _sarif_message(message: dict[str, Any], rule: dict[str, Any], rule_id: Any) -> str:
    text = message.get("text")
    if not text and message.get("id"):
        text = _obj(_obj(rule.get("messageStrings")).get(message["id"])).get("text")
    if not text:
        text = _obj(rule.get("shortDescription")).get("text") or str(rule_id or "finding")
    for index, argument in enumerate(message.get("arguments") or []):
        text = text.replace(f"{{{index}}}", str(argument))
    return str(text).strip()
