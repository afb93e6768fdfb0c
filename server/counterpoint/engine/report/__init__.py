"""The report room: one streaming pass over the event log (builder), the critical path (chain),
Markdown and the HTML timeline (markdown, html, timeline).
"""

from __future__ import annotations

from counterpoint.engine.report.builder import build_report, log_pages, render_markdown
from counterpoint.engine.report.html import render_html

__all__ = ["build_report", "log_pages", "render_html", "render_markdown"]
