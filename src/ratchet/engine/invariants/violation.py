"""What the invariant checker reports: a broken rule, and the error a strict checker raises."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule: which, about what (a position or order id), and what was seen."""

    rule: str
    subject: str
    detail: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.subject}: {self.detail}"


class InvariantViolation(AssertionError):
    """Raised by a strict checker; ``violations`` are the rules broken by the step."""

    def __init__(self, violations: list[Violation]) -> None:
        super().__init__("; ".join(str(v) for v in violations))
        self.violations = violations
