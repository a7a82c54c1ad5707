"""What the audit checked and what it found."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class AuditReport:
    """Outcome of the audit: ``passed`` is False when any published cell breaks a rule or is recoverable."""

    published_checked: int = 0
    violations: list = field(default_factory=list)
    hidden_checked: int = 0
    recoverable: list = field(default_factory=list)
    tables_checked: int = 0

    @property
    def passed(self) -> bool:
        return not self.violations and not self.recoverable

    def summary(self) -> str:
        lines = [
            f"secrecy audit: {'PASSED' if self.passed else 'FAILED'}",
            f"  published cells checked against the primary rules: {self.published_checked}",
            f"  published cells breaking a primary rule: {len(self.violations)}",
            f"  2-D tables checked: {self.tables_checked}, hidden cells bounded: {self.hidden_checked}",
            f"  hidden cells determined exactly: {len(self.recoverable)}",
        ]
        lines += [f"    {v}" for v in (self.violations + self.recoverable)[:20]]
        return "\n".join(lines)
