"""Check-output parsers against real output of mypy, ruff, gcc and pytest, run here on
small broken projects, plus hand-written lines for tools not installed (tsc, eslint,
flake8, pyright) and malformed output (which must never raise)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest
from counterpoint.engine.checks import Finding, ParseResult, format_spec_error, parse_output
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

VENV_BIN = Path(sys.executable).parent
MYPY = [str(VENV_BIN / "mypy"), "--cache-dir=/dev/null"]
RUFF = [str(VENV_BIN / "ruff"), "check", "--no-cache", "--isolated", "--select", "F"]

BAD_PY = """\
import os


def add(a: int, b: int) -> int:
    return a + b


x: int = add(1, "2")
reveal_type(x)
y = undefined_name
a: list[float] = []
b: list[int] = []
a = b
"""

HELPER_PY = """\
def check_value(v):
    assert v == 2, "value should be two"
    return v


def boom():
    raise ValueError("kaboom\\nsecond line")
"""

TEST_THING_PY = """\
from pkg.helper import boom, check_value


def test_ok():
    assert 1 == 1


def test_eq():
    assert 1 + 1 == 3


def test_helper():
    check_value(3)


def test_raise():
    print("noise.py:99: not a frame")
    boom()
"""

TEST_CLS_PY = """\
import pytest


@pytest.fixture
def broken():
    raise RuntimeError("fixture broke")


class TestCls:
    @pytest.mark.parametrize("n", [1, 2])
    def test_p(self, n):
        assert n == 1

    def test_fx(self, broken):
        pass
"""


def _clean_env() -> dict[str, str]:
    """The environment for tools run here, without the outer pytest's settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    env.pop("PYTHONPATH", None)
    return env


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=_clean_env(), capture_output=True, text=True, timeout=60)


def _parse(fmt: str, proc: subprocess.CompletedProcess[str], cwd: Path) -> ParseResult:
    return parse_output(
        fmt,
        stdout=proc.stdout,
        stderr=proc.stderr,
        cwd=cwd,
        exit_code=proc.returncode,
        check="c",
    )


def _rows(result: ParseResult) -> list[tuple[object, ...]]:
    return [(f.path, f.line, f.col, f.severity, f.message, f.rule) for f in result.findings]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("proj")
    (root / "pkg").mkdir()
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "bad.py").write_text(BAD_PY)
    (root / "pkg" / "helper.py").write_text(HELPER_PY)
    (root / "pkg" / "syn.py").write_text("def (\n")
    (root / "tests").mkdir()
    (root / "tests" / "test_thing.py").write_text(TEST_THING_PY)
    (root / "tests" / "test_cls.py").write_text(TEST_CLS_PY)
    (root / "tests" / "test_broken.py").write_text("import nonexistent_module_xyz\n")
    (root / "pytest.ini").write_text("[pytest]\n")
    (root / "a.c").write_text("int main(void){ int x; return y; }\n")
    return root


def _pytest(project: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    args = [str(VENV_BIN / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    args += ["--continue-on-collection-errors", "tests", *extra]
    return _run(args, project)


# --------------------------------------------------------------------------- gcc family


def test_mypy_with_columns_ends_and_notes(project: Path) -> None:
    proc = _run(
        [*MYPY, "--show-column-numbers", "--show-error-end", "pkg/bad.py"],
        project,
    )
    assert proc.returncode == 1
    result = _parse("gcc", proc, project)
    assert result.problems == []
    assert _rows(result) == [
        (
            "pkg/bad.py",
            8,
            17,
            "error",
            'Argument 2 to "add" has incompatible type "str"; expected "int"',
            "arg-type",
        ),
        ("pkg/bad.py", 9, 13, "info", 'Revealed type is "int"', None),
        ("pkg/bad.py", 10, 5, "error", 'Name "undefined_name" is not defined', "name-defined"),
        (
            "pkg/bad.py",
            13,
            5,
            "error",
            'Incompatible types in assignment (expression has type "list[int]", '
            'variable has type "list[float]")',
            "assignment",
        ),
    ]
    first = result.findings[0]
    assert (first.end_line, first.end_col) == (8, 20)  # `"2"`, end exclusive
    assert result.findings[3].detail == (
        'note: "list" is invariant -- see '
        "https://mypy.readthedocs.io/en/stable/common_issues.html#variance\n"
        'note: Consider using "Sequence" instead, which is covariant'
    )


def test_mypy_default_output_has_no_columns(project: Path) -> None:
    proc = _run([*MYPY, "pkg/bad.py"], project)
    result = _parse("gcc", proc, project)
    assert [(f.line, f.col, f.rule) for f in result.findings] == [
        (8, None, "arg-type"),
        (9, None, None),
        (10, None, "name-defined"),
        (13, None, "assignment"),
    ]


def test_ruff_concise(project: Path) -> None:
    proc = _run(
        [*RUFF, "--output-format=concise", "pkg/bad.py", "pkg/syn.py"],
        project,
    )
    assert proc.returncode == 1
    result = _parse("gcc", proc, project)
    assert result.problems == []
    assert _rows(result) == [
        ("pkg/bad.py", 1, 8, "error", "`os` imported but unused", "F401"),
        ("pkg/bad.py", 9, 1, "error", "Undefined name `reveal_type`", "F821"),
        ("pkg/bad.py", 10, 5, "error", "Undefined name `undefined_name`", "F821"),
        ("pkg/syn.py", 1, 5, "error", "Expected an identifier", "invalid-syntax"),
        ("pkg/syn.py", 2, 1, "error", "unexpected EOF while parsing", "invalid-syntax"),
    ]


def test_gcc_real_error_note_and_warning(project: Path) -> None:
    proc = _run(["gcc", "-Wall", "-fno-diagnostics-color", "-c", "a.c", "-o", "/dev/null"], project)
    assert proc.returncode == 1
    result = _parse("gcc", proc, project)
    assert result.problems == []
    rows = _rows(result)
    assert [r[:4] for r in rows] == [("a.c", 1, 31, "error"), ("a.c", 1, 21, "warning")]
    assert "undeclared" in str(rows[0][4])
    assert rows[1][5] == "-Wunused-variable"
    assert "reported only once" in (result.findings[0].detail or "")


def test_gcc_family_synthetic_lines(tmp_path: Path) -> None:
    outside = tmp_path.parent / "elsewhere.ts"
    stdout = "\n".join(
        [
            "src/app.ts(12,5): error TS2322: Type 'string' is not assignable to type 'number'.",
            f"{outside}(3,1): warning TS6133: 'x' is declared but its value is never read.",
            "/abs/ignored/header.h: In function 'main':",
            "web/page.js:4:10: 'enroll' is not defined. [Error/no-undef]",
            "web/page.js:7:1: Unexpected console statement. [Warning/no-console]",
            "web/page.ts:2:3: 'y' unused [Error/@typescript-eslint/no-unused-vars]",
            "web/broken.js:1:5: Parsing error: Unexpected token [Error]",
            "app/models.py:3:80: E501 line too long (88 > 79 characters)",
            "app/models.py:10:1: W391 blank line at end of file",
            f'  {tmp_path}/app/views.py:5:12 - error: "foo" is not defined (reportUndefinedVariable)',
            f'  {tmp_path}/app/views.py:9:1 - warning: Import "x" could not be resolved',
            f"{tmp_path}/native/lib.c:2:10: fatal error: missing.h: No such file or directory",
            "12:30:01: build started",
            "3 errors, 1 warning",
            "Found 7 errors.",
        ]
    )
    result = parse_output("gcc", stdout=stdout, stderr="", cwd=tmp_path, exit_code=1, check="lint")
    assert result.problems == []
    assert _rows(result) == [
        (
            "src/app.ts",
            12,
            5,
            "error",
            "Type 'string' is not assignable to type 'number'.",
            "TS2322",
        ),
        (
            outside.as_posix(),
            3,
            1,
            "warning",
            "'x' is declared but its value is never read.",
            "TS6133",
        ),
        ("web/page.js", 4, 10, "error", "'enroll' is not defined.", "no-undef"),
        ("web/page.js", 7, 1, "warning", "Unexpected console statement.", "no-console"),
        ("web/page.ts", 2, 3, "error", "'y' unused", "@typescript-eslint/no-unused-vars"),
        ("web/broken.js", 1, 5, "error", "Parsing error: Unexpected token", None),
        ("app/models.py", 3, 80, "error", "line too long (88 > 79 characters)", "E501"),
        ("app/models.py", 10, 1, "error", "blank line at end of file", "W391"),
        ("app/views.py", 5, 12, "error", '"foo" is not defined', "reportUndefinedVariable"),
        ("app/views.py", 9, 1, "warning", 'Import "x" could not be resolved', None),
        ("native/lib.c", 2, 10, "error", "missing.h: No such file or directory", None),
    ]
    assert all(f.check == "lint" for f in result.findings)


def test_gcc_duplicates_are_dropped(tmp_path: Path) -> None:
    line = "a.py:1:1: error: boom"
    result = parse_output(
        "gcc", stdout=f"{line}\n{line}\n", stderr=line, cwd=tmp_path, exit_code=1, check="c"
    )
    assert len(result.findings) == 1


# --------------------------------------------------------------------------- SARIF


def test_ruff_sarif_from_stdout_and_file(project: Path) -> None:
    base = RUFF
    proc = _run([*base, "--output-format=sarif", "pkg/bad.py"], project)
    assert proc.returncode == 1
    from_stdout = _parse("sarif", proc, project)
    assert from_stdout.problems == []
    expected = [
        ("pkg/bad.py", 1, 8, 1, 10, "error", "`os` imported but unused", "F401"),
        ("pkg/bad.py", 9, 1, 9, 12, "error", "Undefined name `reveal_type`", "F821"),
        ("pkg/bad.py", 10, 5, 10, 19, "error", "Undefined name `undefined_name`", "F821"),
    ]
    got = [
        (f.path, f.line, f.col, f.end_line, f.end_col, f.severity, f.message, f.rule)
        for f in from_stdout.findings
    ]
    assert got == expected

    report = project / "out" / "ruff.sarif"
    report.parent.mkdir(exist_ok=True)
    proc = _run([*base, "--output-format=sarif", f"--output-file={report}", "pkg/bad.py"], project)
    from_file = _parse("sarif:out/ruff.sarif", proc, project)
    assert from_file.problems == []
    assert from_file.findings == from_stdout.findings


def test_sarif_base_ids_levels_arguments_and_no_location(tmp_path: Path) -> None:
    log = {
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "t",
                        "rules": [
                            {"id": "R1", "defaultConfiguration": {"level": "note"}},
                            {"id": "R2", "shortDescription": {"text": "Rule two"}},
                        ],
                    }
                },
                "originalUriBaseIds": {"SRC": {"uri": f"{tmp_path.as_uri()}/src/"}},
                "results": [
                    {
                        "ruleId": "R1",
                        "message": {"text": "name {0} shadows {1}", "arguments": ["a", "b"]},
                        "locations": [
                            {
                                "physicalLocation": {
                                    "artifactLocation": {"uri": "m%20x.py", "uriBaseId": "SRC"},
                                    "region": {"startLine": 4},
                                }
                            }
                        ],
                    },
                    {"ruleId": "R2", "level": "warning", "message": {}},
                    {"ruleId": "R2", "kind": "pass", "message": {"text": "fine"}},
                    {
                        "ruleId": "R3",
                        "message": {"text": "rel"},
                        "locations": [{"physicalLocation": {"artifactLocation": {"uri": "lib/a.py"}}}],
                    },
                ],
            }
        ],
    }
    result = parse_output("sarif", stdout=json.dumps(log), stderr="", cwd=tmp_path, exit_code=0, check="s")
    assert result.problems == []
    assert _rows(result) == [
        ("src/m x.py", 4, None, "info", "name a shadows b", "R1"),
        (None, None, None, "warning", "Rule two", "R2"),
        ("lib/a.py", None, None, "warning", "rel", "R3"),
    ]


# --------------------------------------------------------------------------- pytest


EXPECTED_TEST_FAILURES = sorted(
    [
        (
            "tests/test_broken.py",
            1,
            "ModuleNotFoundError: No module named 'nonexistent_module_xyz'",
            "tests/test_broken.py",
        ),
        (
            "tests/test_cls.py",
            6,
            "RuntimeError: fixture broke",
            "tests/test_cls.py::TestCls::test_fx",
        ),
        ("tests/test_cls.py", 12, "assert 2 == 1", "tests/test_cls.py::TestCls::test_p[2]"),
        ("tests/test_thing.py", 9, "assert (1 + 1) == 3", "tests/test_thing.py::test_eq"),
        (
            "pkg/helper.py",
            2,
            "AssertionError: value should be two",
            "tests/test_thing.py::test_helper",
        ),
        ("pkg/helper.py", 7, "ValueError: kaboom", "tests/test_thing.py::test_raise"),
    ],
    key=str,
)


def _test_rows(result: ParseResult) -> list[tuple[object, ...]]:
    assert all(f.severity == "error" and f.col is None for f in result.findings)
    return sorted(((f.path, f.line, f.message, f.rule) for f in result.findings), key=str)


@pytest.mark.parametrize("tb", ["auto", "short"])
def test_pytest_plain_output(project: Path, tb: str) -> None:
    proc = _pytest(project, f"--tb={tb}")
    assert proc.returncode == 1
    result = _parse("pytest", proc, project)
    assert result.problems == []
    assert _test_rows(result) == EXPECTED_TEST_FAILURES
    raise_finding = next(f for f in result.findings if f.rule and f.rule.endswith("test_raise"))
    assert "second line" in (raise_finding.detail or "")


def test_pytest_native_tracebacks(project: Path) -> None:
    result = _parse("pytest", _pytest(project, "--tb=native"), project)
    rows = _test_rows(result)
    assert [(r[0], r[1], r[3]) for r in rows] == [(r[0], r[1], r[3]) for r in EXPECTED_TEST_FAILURES]
    assert ("tests/test_thing.py", 9, "AssertionError: assert (1 + 1) == 3") in [r[:3] for r in rows]


def test_pytest_summary_only_points_at_the_test_definition(project: Path) -> None:
    result = _parse("pytest", _pytest(project, "--tb=no"), project)
    assert _test_rows(result) == sorted(
        [
            (
                "tests/test_broken.py",
                None,
                "could not collect tests/test_broken.py",
                "tests/test_broken.py",
            ),
            ("tests/test_cls.py", 11, "assert 2 == 1", "tests/test_cls.py::TestCls::test_p[2]"),
            (
                "tests/test_cls.py",
                14,
                "RuntimeError: fixture broke",
                "tests/test_cls.py::TestCls::test_fx",
            ),
            ("tests/test_thing.py", 8, "assert (1 + 1) == 3", "tests/test_thing.py::test_eq"),
            (
                "tests/test_thing.py",
                12,
                "AssertionError: value should be two",
                "tests/test_thing.py::test_helper",
            ),
            ("tests/test_thing.py", 16, "ValueError: kaboom", "tests/test_thing.py::test_raise"),
        ],
        key=str,
    )


def test_pytest_syntax_error_in_collected_file(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_syn.py").write_text("x = 1\ndef (\n")
    proc = _run([str(VENV_BIN / "python"), "-m", "pytest", "-p", "no:cacheprovider"], tmp_path)
    assert proc.returncode == 2
    result = _parse("pytest", proc, tmp_path)
    assert _rows(result) == [("test_syn.py", 2, None, "error", "SyntaxError: invalid syntax", "test_syn.py")]


# --------------------------------------------------------------------------- JUnit


def test_junit_from_real_pytest(project: Path) -> None:
    proc = _pytest(project, "--junitxml=reports/junit.xml")
    assert proc.returncode == 1
    result = _parse("junit:reports/junit.xml", proc, project)
    assert result.problems == []
    rows = _test_rows(result)
    expected = list(EXPECTED_TEST_FAILURES)
    # JUnit carries pytest's own message attribute for setup errors.
    fixture_error = ("tests/test_cls.py", 6, "RuntimeError: fixture broke")
    index = [r[:3] for r in expected].index(fixture_error)
    expected[index] = (
        "tests/test_cls.py",
        6,
        'failed on setup with "RuntimeError: fixture broke"',
        "tests/test_cls.py::TestCls::test_fx",
    )
    assert rows == expected


def test_junit_xunit1_file_and_line_attributes(project: Path) -> None:
    proc = _pytest(project, "--junitxml=reports/x1.xml", "-o", "junit_family=xunit1", "--tb=line")
    result = _parse("junit:reports/x1.xml", proc, project)
    by_rule = {f.rule: (f.path, f.line) for f in result.findings}
    # --tb=line leaves no traceback frames, so the 0-based `line` attribute (+1) is used.
    assert by_rule["tests/test_thing.py::test_eq"] == ("tests/test_thing.py", 8)
    # pytest reports a decorated test at its first decorator line.
    assert by_rule["tests/test_cls.py::TestCls::test_p[2]"] == ("tests/test_cls.py", 10)


def test_junit_synthetic_attributes_js_stack_and_classname_guess(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "test_api.py").write_text("\n\nclass TestApi:\n    def test_get(self):\n")
    xml = f"""<?xml version="1.0"?>
<testsuite name="jest tests" tests="4">
  <testcase classname="Cart" name="adds" file="web/cart.test.js" line="10">
    <failure message="expected 2&#10;got 3"/>
  </testcase>
  <testcase classname="Page" name="renders">
    <failure>Error: boom
    at render ({tmp_path}/web/page.js:12:7)
    at Object.&lt;anonymous&gt; ({tmp_path}/node_modules/lib/x.js:1:1)</failure>
  </testcase>
  <testcase classname="app.test_api.TestApi" name="test_get"><error message=""/></testcase>
  <testcase classname="x" name="ok"/>
  <testcase classname="y" name="skipped"><skipped/></testcase>
</testsuite>"""
    (tmp_path / "r.xml").write_text(xml)
    result = parse_output("junit:r.xml", stdout="", stderr="", cwd=tmp_path, exit_code=1, check="t")
    assert result.problems == []
    assert _rows(result) == [
        ("web/cart.test.js", 10, None, "error", "expected 2", "web/cart.test.js::adds"),
        ("web/page.js", 12, 7, "error", "Error: boom", "Page.renders"),
        ("app/test_api.py", 4, None, "error", "test errored", "app/test_api.py::TestApi::test_get"),
    ]


# --------------------------------------------------------------------------- malformed


def _problems(fmt: str, *, stdout: str = "", stderr: str = "", cwd: Path, code: int = 1) -> list[str]:
    result = parse_output(fmt, stdout=stdout, stderr=stderr, cwd=cwd, exit_code=code, check="c")
    assert result.findings == []
    return result.problems


def test_truncated_junit_xml(project: Path, tmp_path: Path) -> None:
    _pytest(project, "--junitxml=reports/cut.xml")
    full = (project / "reports" / "cut.xml").read_bytes()
    (tmp_path / "cut.xml").write_bytes(full[: len(full) // 2])
    problems = _problems("junit:cut.xml", cwd=tmp_path)
    assert len(problems) == 1
    assert problems[0].startswith("the JUnit XML could not be read:")


def test_garbage_and_wrong_documents(tmp_path: Path) -> None:
    (tmp_path / "bin.xml").write_bytes(bytes(range(256)) * 4)
    assert _problems("junit:bin.xml", cwd=tmp_path)[0].startswith("the JUnit XML could not")
    (tmp_path / "page.xml").write_text("<html><body>oops</body></html>")
    assert _problems("junit:page.xml", cwd=tmp_path) == ["not a JUnit report: the root element is <html>"]
    assert _problems("sarif", stdout='{"runs": [', cwd=tmp_path) == [
        "the SARIF output is not JSON: '{\"runs\": ['"
    ]
    assert _problems("sarif", stdout="[1, 2]", cwd=tmp_path) == ["the SARIF output has no runs[] list"]
    garbage = bytes(range(256)).decode("latin-1")
    for fmt in ("gcc", "pytest", "sarif", "junit"):
        problems = _problems(fmt, stdout=garbage, stderr=garbage, cwd=tmp_path, code=3)
        assert len(problems) == 1, fmt


def test_empty_output_with_nonzero_exit(tmp_path: Path) -> None:
    assert _problems("gcc", cwd=tmp_path, code=1) == ["exited 1 and printed nothing"]
    assert _problems("gcc", stdout="\n\nSegmentation fault\n", cwd=tmp_path, code=139) == [
        "exited 139 and printed nothing I could read: Segmentation fault"
    ]
    assert _problems("pytest", stderr="ERROR: usage: ...", cwd=tmp_path, code=4) == [
        "exited 4 and printed nothing I could read: ERROR: usage: ..."
    ]
    assert _problems("sarif", cwd=tmp_path, code=2) == ["exited 2 and printed no sarif report"]
    assert _problems("gcc", cwd=tmp_path, code=0) == []
    assert _problems("none", stdout="whatever", cwd=tmp_path, code=1) == []


def test_missing_and_stale_report_files(tmp_path: Path) -> None:
    problems = _problems("junit:.counterpoint/junit.xml", cwd=tmp_path, code=2)
    assert problems == ["exited 2 without writing .counterpoint/junit.xml (No such file or directory)"]
    old = tmp_path / "old.xml"
    old.write_text('<testsuite><testcase name="t"><failure message="m"/></testcase></testsuite>')
    past = time.time() - 600
    os.utime(old, (past, past))
    result = parse_output(
        "junit:old.xml",
        stdout="",
        stderr="",
        cwd=tmp_path,
        exit_code=1,
        check="c",
        not_before=time.time() - 5,
    )
    assert result.findings == []
    assert result.problems[0].startswith("exited 1 without writing old.xml (the file there is")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    fmt=st.sampled_from(["gcc", "pytest", "sarif", "junit", "none"]),
    text=st.text(alphabet=st.sampled_from(list(':()[]<>{}"E_= -./\n\x00é1aF')), max_size=300),
    code=st.integers(min_value=-9, max_value=255),
)
def test_arbitrary_output_never_raises(tmp_path: Path, fmt: str, text: str, code: int) -> None:
    result = parse_output(fmt, stdout=text, stderr=text, cwd=tmp_path, exit_code=code, check="c")
    assert isinstance(result, ParseResult)
    if code != 0 and fmt != "none":
        assert result.findings or result.problems


def test_format_spec_validation(tmp_path: Path) -> None:
    assert format_spec_error("gcc") is None
    assert format_spec_error("junit:.counterpoint/junit.xml") is None
    assert format_spec_error("sarif") is None
    assert format_spec_error("xml") == (
        "unknown format 'xml'; expected one of gcc, sarif, junit, pytest, none"
    )
    assert format_spec_error("gcc:out.txt") == "format 'gcc' takes no file (got 'gcc:out.txt')"
    assert format_spec_error("junit:") == "format 'junit:' names no file"
    assert _problems("tap", cwd=tmp_path, code=0) == [
        "unknown format 'tap'; expected one of gcc, sarif, junit, pytest, none"
    ]


# --------------------------------------------------------------------------- Finding


def test_finding_identity_and_metadata() -> None:
    finding = Finding(
        check="types",
        path="app/x.py",
        line=3,
        col=5,
        end_line=3,
        end_col=9,
        severity="warning",
        message="m",
        rule="R1",
        detail="note: more",
    )
    same_place = Finding(
        check="types", path="app/x.py", line=3, col=5, severity="warning", message="m", rule="R1"
    )
    assert finding.key() == same_place.key()  # end positions and detail are not identity
    assert finding.key() != Finding(check="types", path="app/x.py", line=4, message="m").key()
    meta = finding.to_metadata()
    assert json.loads(json.dumps(meta)) == meta
    assert meta["key"] == finding.key() and meta["path"] == "app/x.py"
    assert Finding.from_metadata(meta) == finding
    assert finding.location_text() == "app/x.py:3:5"
    assert Finding(check="t", path=None, line=None, message="m").location_text() == "<t>"
    with pytest.raises(FrozenInstanceError):
        finding.line = 4  # type: ignore[misc]
