"""The diagnostic store (`features/documents.py`: one set per file and source, published as their
union) and settings validation (`lsp/settings.py`: a bad value is reported and replaced by its
default, the good ones are kept)."""

from __future__ import annotations

from typing import Any

import pytest
from counterpoint.lsp.features.documents import DiagnosticStore
from counterpoint.lsp.settings import validate_settings
from lsprotocol import types

from tests.lsp_unit.fakes import FakeServer

A = "file:///ws/a.py"
B = "file:///ws/b.py"


def diag(message: str) -> types.Diagnostic:
    return types.Diagnostic(range=types.Range(types.Position(0, 0), types.Position(0, 1)), message=message)


def last(server: FakeServer, uri: str) -> list[str]:
    """The messages of the last publish of ``uri``."""
    found = [p for p in server.published if p.uri == uri]
    assert found, f"{uri} was never published"
    return sorted(d.message for d in found[-1].diagnostics)


def test_each_source_replaces_only_its_own_part() -> None:
    server = FakeServer()
    store = DiagnosticStore(server)  # type: ignore[arg-type]
    store.set(A, "spec", [diag("spec 1")])
    store.set(A, "check:lint", [diag("lint 1"), diag("lint 2")])
    assert last(server, A) == ["lint 1", "lint 2", "spec 1"]
    store.set(A, "check:lint", [diag("lint 3")])
    assert last(server, A) == ["lint 3", "spec 1"]
    store.set(A, "spec", [])
    assert last(server, A) == ["lint 3"]
    assert len(server.published) == 4  # one publish per change


def test_clearing_a_source_touches_exactly_that_source_and_spares_kept_files() -> None:
    server = FakeServer()
    store = DiagnosticStore(server)  # type: ignore[arg-type]
    store.set(A, "check:lint", [diag("a lint")])
    store.set(A, "check:lint-strict", [diag("a strict")])
    store.set(B, "check:lint", [diag("b lint")])
    server.published.clear()
    store.clear_source("check:lint", keep={B})
    assert [p.uri for p in server.published] == [A]  # b is kept, so not even republished
    assert last(server, A) == ["a strict"]
    store.clear_source("check:lint")
    assert last(server, B) == []
    server.published.clear()
    store.clear_source("check:lint")  # nothing left of it: nothing to publish
    assert server.published == []


def test_a_publish_carries_the_open_documents_version() -> None:
    server = FakeServer()
    server.workspace.put_text_document(
        types.TextDocumentItem(uri=A, language_id="python", version=7, text="x\n")
    )
    store = DiagnosticStore(server)  # type: ignore[arg-type]
    store.set(A, "spec", [diag("one")])
    store.set(B, "spec", [diag("two")])
    assert [(p.uri, p.version) for p in server.published] == [(A, 7), (B, None)]


@pytest.mark.parametrize("raw", [None, [], {}, {"counterpoint": []}])
def test_empty_settings_are_the_defaults(raw: Any) -> None:
    settings, problems = validate_settings(raw)
    assert problems == []
    assert settings.maxParallel is None and settings.logLevel == "info" and settings.trust is False


def test_settings_that_are_not_an_object_are_refused_whole() -> None:
    settings, problems = validate_settings("fast")
    assert problems == ["settings must be an object, got str; using the defaults"]
    assert settings.maxParallel is None


def test_each_bad_value_is_reported_and_replaced_by_its_default() -> None:
    raw = {"counterpoint": {"maxParallel": 0, "logLevel": "loud", "trust": True, "watcherIgnores": ["*.tmp"]}}
    settings, problems = validate_settings(raw)
    assert settings.maxParallel is None and settings.logLevel == "info"  # the defaults
    assert settings.trust is True and settings.watcherIgnores == ["*.tmp"]  # the good ones kept
    assert len(problems) == 2
    assert any(p.startswith("setting counterpoint.maxParallel:") and "got 0" in p for p in problems)
    assert any(p.startswith("setting counterpoint.logLevel:") and "got 'loud'" in p for p in problems)
    assert all(p.endswith("using the default") for p in problems)
    assert raw["counterpoint"]["maxParallel"] == 0  # the caller's settings are left as they were


def test_settings_without_the_section_name_are_read_as_the_section() -> None:
    settings, problems = validate_settings({"maxParallel": 3, "unknown": 1})
    assert problems == [] and settings.maxParallel == 3
