"""Write the example's replay transcripts (transcripts/*.jsonl).

The transcripts stand in for recorded agent sessions: each step is what an
agent did (think, write a file, emit a signal...). Keeping their source here
lets a maintainer change the example's code and re-record:
``python tools/record_transcripts.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent

SCHEMA = '''"""Entities of the course-enrollment feature and the in-memory store."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Course:
    id: str
    title: str
    capacity: int


@dataclass
class Enrollment:
    course_id: str
    student: str
    progress: int = 0


@dataclass
class Event:
    type: str
    course_id: str
    student: str


@dataclass
class Store:
    courses: dict[str, Course] = field(default_factory=dict)
    enrollments: list[Enrollment] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    def add_course(self, course: Course) -> Course:
        self.courses[course.id] = course
        return course
'''

MUTATIONS = '''"""Mutations: enroll, unenroll, update_progress. Each appends an event to the store."""

from __future__ import annotations

from enrollment.schema import Enrollment, Event, Store


class EnrollmentError(ValueError):
    pass


def _find(store: Store, course_id: str, student: str) -> Enrollment | None:
    return next(
        (e for e in store.enrollments if e.course_id == course_id and e.student == student),
        None,
    )


def enroll(store: Store, course_id: str, student: str) -> Enrollment:
    course = store.courses.get(course_id)
    if course is None:
        raise EnrollmentError(f"no such course: {course_id}")
    if _find(store, course_id, student) is not None:
        raise EnrollmentError(f"{student} is already enrolled in {course_id}")
    taken = sum(1 for e in store.enrollments if e.course_id == course_id)
    if taken >= course.capacity:
        raise EnrollmentError(f"{course.title} is full")
    enrollment = Enrollment(course_id, student)
    store.enrollments.append(enrollment)
    store.events.append(Event("course_enrolled", course_id, student))
    return enrollment


def unenroll(store: Store, course_id: str, student: str) -> None:
    enrollment = _find(store, course_id, student)
    if enrollment is None:
        raise EnrollmentError(f"{student} is not enrolled in {course_id}")
    store.enrollments.remove(enrollment)
    store.events.append(Event("course_unenrolled", course_id, student))


def update_progress(store: Store, course_id: str, student: str, progress: int) -> Enrollment:
    enrollment = _find(store, course_id, student)
    if enrollment is None:
        raise EnrollmentError(f"{student} is not enrolled in {course_id}")
    enrollment.progress = max(0, min(100, progress))
    store.events.append(Event("progress_updated", course_id, student))
    return enrollment
'''

QUERIES = '''"""Queries: list_courses, get_enrollments, check_access."""

from __future__ import annotations

from enrollment.schema import Course, Enrollment, Store


def list_courses(store: Store) -> list[Course]:
    return sorted(store.courses.values(), key=lambda c: c.title)


def get_enrollments(store: Store, student: str) -> list[Enrollment]:
    return [e for e in store.enrollments if e.student == student]


def check_access(store: Store, course_id: str, student: str) -> bool:
    return any(e.course_id == course_id and e.student == student for e in store.enrollments)


def seats_left(store: Store, course_id: str) -> int:
    course = store.courses[course_id]
    return course.capacity - sum(1 for e in store.enrollments if e.course_id == course_id)
'''

COMPONENTS = '''"""Small HTML components: a course card and a progress bar."""

from __future__ import annotations

from html import escape

from enrollment.schema import Course, Enrollment


def course_card(course: Course, seats_left: int) -> str:
    return f"<article class=course><h2>{escape(course.title)}</h2><p>{seats_left} seats left</p></article>"


def progress_bar(enrollment: Enrollment) -> str:
    return f"<progress max=100 value={enrollment.progress}>{enrollment.progress}%</progress>"
'''

INIT = '''"""Course enrollment: schema, mutations and queries."""
'''

PAGES_WITH_MISTAKE = '''"""Web layer: the course listing page and the enrollment form handler."""

from __future__ import annotations

from html import escape

from enrollment import mutations, queries
from enrollment.schema import Store


def render_course_list(store: Store) -> str:
    rows = "".join(
        f"<li>{escape(c.title)} ({queries.seats_left(store, c.id)} seats left)</li>"
        for c in queries.list_courses(store)
    )
    return f"<h1>Courses</h1><ul>{rows}</ul>"


def handle_enrollment_form(store: Store, form: dict[str, str]) -> str:
    course_id, student = form["course_id"], form["student"]
    try:
        mutations.enroll_student(store, course_id, student)
    except mutations.EnrollmentError as exc:
        return f"<p class=error>{escape(str(exc))}</p>"
    return f"<p>{escape(student)} enrolled in {escape(course_id)}</p>"
'''

TESTS = '''"""Acceptance tests for course enrollment (written from the schema, before the code was done)."""

from __future__ import annotations

import pytest

from enrollment import mutations, queries
from enrollment.schema import Course, Store
from web import pages


@pytest.fixture
def store() -> Store:
    s = Store()
    s.add_course(Course("py101", "Python 101", capacity=2))
    s.add_course(Course("sql", "SQL basics", capacity=1))
    return s


def test_enroll_and_query(store: Store) -> None:
    mutations.enroll(store, "py101", "ada")
    assert queries.check_access(store, "py101", "ada")
    assert [e.course_id for e in queries.get_enrollments(store, "ada")] == ["py101"]
    assert store.events[-1].type == "course_enrolled"


def test_full_course_refuses(store: Store) -> None:
    mutations.enroll(store, "sql", "ada")
    with pytest.raises(mutations.EnrollmentError):
        mutations.enroll(store, "sql", "bob")


def test_progress_is_clamped(store: Store) -> None:
    mutations.enroll(store, "py101", "ada")
    assert mutations.update_progress(store, "py101", "ada", 140).progress == 100


def test_unenroll(store: Store) -> None:
    mutations.enroll(store, "py101", "ada")
    mutations.unenroll(store, "py101", "ada")
    assert not queries.check_access(store, "py101", "ada")


def test_enrollment_form(store: Store) -> None:
    html = pages.handle_enrollment_form(store, {"course_id": "py101", "student": "ada"})
    assert "enrolled" in html
    assert queries.check_access(store, "py101", "ada")


def test_course_list_page(store: Store) -> None:
    assert "Python 101 (2 seats left)" in pages.render_course_list(store)
'''

API_DOCS = '''# Course enrollment API

All functions take the `Store` first. Mutations raise `EnrollmentError` with a message for people.

## Mutations (`enrollment.mutations`)
| function | what it does | event |
|---|---|---|
| `enroll(store, course_id, student)` | enrolls a student; refuses duplicates and full courses | `course_enrolled` |
| `unenroll(store, course_id, student)` | removes an enrollment | `course_unenrolled` |
| `update_progress(store, course_id, student, progress)` | sets progress, clamped to 0..100 | `progress_updated` |

## Queries (`enrollment.queries`)
| function | returns |
|---|---|
| `list_courses(store)` | courses by title |
| `get_enrollments(store, student)` | a student's enrollments |
| `check_access(store, course_id, student)` | whether the student is enrolled |
| `seats_left(store, course_id)` | free seats |

## Web (`web.pages`)
- `render_course_list(store)`: the course listing page (HTML).
- `handle_enrollment_form(store, form)`: the enrollment form's handler.
'''


def step(action: str, **kw: object) -> dict[str, object]:
    return {"action": action, **kw}


TRANSCRIPTS: dict[str, list[dict[str, object]]] = {
    "backend": [
        step("say", text="Reading the ontology: Course, Enrollment, Event."),
        step("think", seconds=1.2, text="Designing the schema"),
        step("write_file", path="app/enrollment/__init__.py", content=INIT),
        step("write_file", path="app/enrollment/schema.py", content=SCHEMA),
        step("think", seconds=1.0, text="Reviewing the schema against the ontology"),
        step("emit", signal="schema_ready", metadata={"tables": ["courses", "enrollments"], "types": ["Course", "Enrollment"]}),
        step("think", seconds=1.5, text="Writing queries with multi-tenant filtering"),
        step("write_file", path="app/enrollment/queries.py", content=QUERIES),
        step("think", seconds=2.0, text="Writing mutations with event logging"),
        step("write_file", path="app/enrollment/mutations.py", content=MUTATIONS),
        step("emit", signal="mutations_ready", metadata={"operations": ["enroll", "unenroll", "update_progress"]}),
        step("think", seconds=4.5, text="Reviewing the audit trail of every mutation"),
        step("say", text="Backend done: schema, 3 mutations, 4 queries."),
    ],
    "frontend": [
        step("say", text="schema_ready: generating the page from Course and Enrollment."),
        step("think", seconds=1.5, text="Building the course listing page and the enrollment form"),
        step("write_file", path="app/web/__init__.py", content='"""Web layer."""\n'),
        step("write_file", path="app/web/pages.py", content=PAGES_WITH_MISTAKE),
        step("think", seconds=4.5, text="Building the CourseCard and ProgressBar components"),
        step("write_file", path="app/web/components.py", content=COMPONENTS),
        step("say", text="Frontend done: course list page, enrollment form, components."),
    ],
    "quality": [
        step("say", text="schema_ready: writing acceptance tests from the schema."),
        step("think", seconds=2.0, text="Test definitions from the ontology's rules"),
        step("write_file", path="app/tests/test_enrollment.py", content=TESTS),
        step("emit", signal="tests_ready", metadata={"cases": 6}),
        step("think", seconds=0.5, text="Acceptance criteria recorded"),
    ],
    "docs": [
        step("say", text="mutations_ready: documenting the API contracts."),
        step("think", seconds=2.5, text="Writing API documentation"),
        step("write_file", path="app/docs/API.md", content=API_DOCS),
    ],
    "integrator": [
        step("say", text="Reading the open findings."),
        step("think", seconds=0.8, text="The page calls mutations.enroll_student; the backend defines enroll."),
        step(
            "edit_file",
            path="app/web/pages.py",
            search="mutations.enroll_student(store, course_id, student)",
            replace="mutations.enroll(store, course_id, student)",
        ),
        step("say", text="Fixed: the enrollment form now calls mutations.enroll."),
    ],
}


def main() -> None:
    folder = HERE / "transcripts"
    folder.mkdir(exist_ok=True)
    for agent, steps in TRANSCRIPTS.items():
        text = "".join(json.dumps(s, ensure_ascii=False) + "\n" for s in steps)
        (folder / f"{agent}.jsonl").write_text(text)


if __name__ == "__main__":
    main()
