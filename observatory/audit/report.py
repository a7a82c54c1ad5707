"""What the audit checked and what it found."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class AuditReport:
    """Outcome of the audit: ``passed`` is False when any published cell breaks a rule or is recoverable.

    ``territory_findings`` are the hidden cells that the territory relations (every level as a union of
    geographic atoms, EPCIs included: :mod:`observatory.audit.territories`) determine exactly. They are
    reported, not yet blocking: the protection closes every single subtraction along these relations (a
    département minus its other EPCIs) but does not yet prove the chains through EPCIs that straddle
    départements or régions (issue #11). ``passed`` does not count them; :meth:`summary` says how many.
    """

    published_checked: int = 0
    violations: list = field(default_factory=list)
    hidden_checked: int = 0
    recoverable: list = field(default_factory=list)
    tables_checked: int = 0
    territory_systems: int = 0
    territory_hidden: int = 0
    territory_findings: list = field(default_factory=list)
    cross_product_checked: int = 0
    cross_product_findings: list = field(default_factory=list)
    cross_product_blocking: bool = True

    @property
    def passed(self) -> bool:
        blocking = self.cross_product_findings if self.cross_product_blocking else []
        return not self.violations and not self.recoverable and not blocking

    def summary(self) -> str:
        lines = [
            f"secrecy audit: {'PASSED' if self.passed else 'FAILED'}",
            f"  published cells checked against the primary rules: {self.published_checked}",
            f"  published cells breaking a primary rule: {len(self.violations)}",
            f"  2-D tables checked: {self.tables_checked}, hidden cells bounded: {self.hidden_checked}",
            f"  hidden cells determined exactly: {len(self.recoverable)}",
        ]
        lines += [f"    {v}" for v in (self.violations + self.recoverable)[:20]]
        if self.territory_systems:
            lines += [
                (
                    "  territory relations (France, régions, départements, EPCIs as unions of atoms; reported, "
                    "not yet blocking):"
                ),
                (
                    f"    independent systems solved: {self.territory_systems}, hidden cells watched: "
                    f"{self.territory_hidden}"
                ),
                f"    hidden cells determined exactly: {len(self.territory_findings)}",
            ]
            lines += [f"      {v}" for v in self.territory_findings[:10]]
        if self.cross_product_checked:
            lines += [
                (
                    "  across products (baromètre year-end quarter against the annual table; "
                    f"{'blocking' if self.cross_product_blocking else 'reported, not blocking'}):"
                ),
                f"    cells present in both: {self.cross_product_checked}",
                f"    cells disclosed by the other product: {len(self.cross_product_findings)}",
            ]
            lines += [f"      {v}" for v in self.cross_product_findings[:10]]
        return "\n".join(lines)
