"""How a test turns a run's report into a verdict, for seeds that pass and for seeds that
fail today because of a listed defect.

A known-defect seed is marked ``xfail(strict=True, raises=KnownDefect)``: it stays green
while it breaks only the invariants its defect breaks; a new kind of violation fails the
test outright (AssertionError is not KnownDefect), and the moment the fix lands the seed
passes, the strict xfail turns into a failure, and the fixer removes the mark.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.simulation.invariants import Report


class KnownDefect(AssertionError):
    """The run broke only the invariants a listed issue-9 defect breaks."""


@dataclass(frozen=True)
class Known:
    defects: tuple[int, ...]
    breaks: frozenset[str]
    note: str = ""

    def reason(self) -> str:
        names = ", ".join(f"defect {d}" for d in self.defects)
        return f"{names}: {self.note}" if self.note else names


def verdict(report: Report, known: Known | None = None) -> None:
    if report.ok:
        return
    broken = {v.invariant for v in report.violations}
    if known is not None and broken <= known.breaks:
        raise KnownDefect(report.summary())
    raise AssertionError(report.summary())


def known_mark(known: Known | None) -> list[pytest.MarkDecorator]:
    if known is None:
        return []
    return [pytest.mark.xfail(strict=True, raises=KnownDefect, reason=known.reason())]
