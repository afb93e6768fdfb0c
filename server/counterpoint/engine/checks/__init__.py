"""Integration checks: commands from a spec's ``checks:`` list whose output becomes findings.

``findings`` holds the :class:`Finding` record (one problem at one place, JSON-safe);
``parsers`` turns a check's stdout/stderr or report file into findings for each supported
``format:`` (``gcc``, ``sarif``, ``junit``, ``pytest``, ``none``).
"""

from counterpoint.engine.checks.findings import Finding, Severity
from counterpoint.engine.checks.parsers import (
    FORMAT_NAMES,
    ParseResult,
    format_spec_error,
    parse_output,
)

__all__ = [
    "FORMAT_NAMES",
    "Finding",
    "ParseResult",
    "Severity",
    "format_spec_error",
    "parse_output",
]
