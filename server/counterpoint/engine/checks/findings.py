"""The :class:`Finding` record: one problem a check reported, at one place (or at none).

Positions are 1-based like the tools print them; ``end_col`` is exclusive (the column just
past the last character, as in SARIF), so an LSP range is ``line-1, col-1 .. end_line-1,
end_col-1``. ``path`` is a POSIX path relative to the check's working directory, or absolute
when the file lies outside it, or ``None`` when the tool gave no location (the caller then
puts the finding on the check's line in the spec).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any, Literal, cast

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")

_SEVERITY_WORDS: dict[str, Severity] = {
    "error": "error",
    "fatal error": "error",
    "fatal": "error",
    "failure": "error",
    "warning": "warning",
    "warn": "warning",
    "note": "info",
    "info": "info",
    "information": "info",
    "message": "info",
    "remark": "info",
    "hint": "info",
    "none": "info",
}


def severity_from_word(word: str, default: Severity = "error") -> Severity:
    """Map a tool's severity word (``error``, ``Warning``, ``note``, SARIF ``level``) to ours."""
    return _SEVERITY_WORDS.get(word.strip().lower(), default)


@dataclass(frozen=True, kw_only=True)
class Finding:
    """One problem reported by a check.

    ``rule`` is the tool's code (``F401``, ``arg-type``, ``TS2322``) or, for test reports,
    the test's id (``tests/test_app.py::test_enroll``). ``detail`` carries extra text
    (attached notes, the failure's traceback) for people and for the integrator; it is not
    part of the identity.
    """

    check: str
    path: str | None
    line: int | None
    col: int | None = None
    end_line: int | None = None
    end_col: int | None = None
    severity: Severity = "error"
    message: str
    rule: str | None = None
    detail: str | None = None

    def key(self) -> str:
        """A stable identity for dedup across reruns (ignores end positions and detail)."""
        ident = [
            self.check,
            self.path,
            self.line,
            self.col,
            self.severity,
            self.rule,
            self.message,
        ]
        raw = json.dumps(ident, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha1(raw.encode("utf-8")).hexdigest()[:16]

    def location_text(self) -> str:
        """``path:line:col`` as far as known (``<check>`` when there is no path)."""
        if self.path is None:
            return f"<{self.check}>"
        text = self.path
        if self.line is not None:
            text += f":{self.line}"
            if self.col is not None:
                text += f":{self.col}"
        return text

    def to_metadata(self) -> dict[str, Any]:
        """A JSON-safe dict of every field plus ``key`` (for events, the log and reports)."""
        data = asdict(self)
        data["key"] = self.key()
        return data

    @classmethod
    def from_metadata(cls, data: dict[str, Any]) -> Finding:
        """Rebuild a finding from :meth:`to_metadata` output (unknown keys are ignored)."""
        severity = data.get("severity", "error")
        if severity not in SEVERITIES:
            severity = "error"

        def opt_int(name: str) -> int | None:
            value = data.get(name)
            return int(value) if value is not None else None

        return cls(
            check=str(data["check"]),
            path=data.get("path"),
            line=opt_int("line"),
            col=opt_int("col"),
            end_line=opt_int("end_line"),
            end_col=opt_int("end_col"),
            severity=cast(Severity, severity),
            message=str(data.get("message", "")),
            rule=data.get("rule"),
            detail=data.get("detail"),
        )
