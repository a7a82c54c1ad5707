"""What the audit checked and what it found."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class AuditReport:
    """Outcome of the audit: ``passed`` is False when any published cell breaks a rule or is recoverable.

    ``territory_findings`` are the hidden cells that the territory relations (every level as a union of
    geographic atoms, EPCIs included: :mod:`observatory.audit.territories`) determine exactly; blocking
    (``territory_blocking``, default True) since the protection proves those relations as one system
    (``observatory.secrecy.chains``). ``cross_product_findings``: cells disclosed between the baromètre's
    year-end quarter and the annual table; blocking (``cross_product_blocking``, default True).
    ``interval_narrow``: hidden primary headcounts whose feasible interval in the 2-D tables is narrower than
    INSEE's protection level, ``territory_interval_narrow`` the same in the territory relations
    (:mod:`observatory.audit.intervals`); blocking (``interval_blocking``, default True) since the
    protection chooses its complements for those levels (``observatory.secrecy.levels``).
    ``rounded_narrow``: the same for the quantities published rounded (ETP, payroll; published values taken
    as the intervals they stand for: :mod:`observatory.audit.rounding`), with the hidden cells known to the
    publication precision; blocking with the intervals. ``joint_findings``: hidden cells determined exactly
    by the systems that tie several tables or families of relations together (:mod:`observatory.audit.joint`);
    blocking (``joint_blocking``, default True) since the protection proves those systems as one
    (``observatory.secrecy.chains.joint_system``). ``joint_interval_narrow``: hidden primary headcounts
    bounded closer than their protection level by those systems; blocking with the intervals (the protection
    widens them on the same joint system: ``observatory.secrecy.levels.repair_levels_territory``).
    ``joint_rounded_narrow``: hidden primary ETP and payroll cells bounded closer than their protection level
    by their families at once (:func:`observatory.audit.joint.check_joint_rounded`, ``observatory audit
    --joint-rounded``); blocking with the intervals.
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
    territory_blocking: bool = True
    interval_checked: int = 0
    interval_narrow: list = field(default_factory=list)
    interval_blocking: bool = True
    territory_interval_checked: int = 0
    territory_interval_narrow: list = field(default_factory=list)
    rounded_checked: int = 0
    rounded_narrow: list = field(default_factory=list)
    joint_systems: int = 0
    joint_hidden: int = 0
    joint_findings: list = field(default_factory=list)
    joint_blocking: bool = True
    joint_interval_checked: int = 0
    joint_interval_narrow: list = field(default_factory=list)
    joint_rounded_checked: int = 0
    joint_rounded_narrow: list = field(default_factory=list)

    def blocking(self) -> list:
        """The findings that stop the publication, in the order :meth:`summary` prints their families."""
        found = [*self.violations, *self.recoverable]
        found += self.cross_product_findings if self.cross_product_blocking else []
        found += self.territory_findings if self.territory_blocking else []
        found += self.joint_findings if self.joint_blocking else []
        if self.interval_blocking:
            found += self.interval_narrow + self.territory_interval_narrow + self.rounded_narrow
            found += self.joint_interval_narrow + self.joint_rounded_narrow
        return found

    @property
    def passed(self) -> bool:
        return not self.blocking()

    def reason(self) -> str:
        """Why the audit failed, in one line (the run's error message): how many findings block the
        publication, and the first of them; empty when it passed."""
        found = self.blocking()
        return f"{len(found)} finding(s) block the publication, the first: {found[0]}" if found else ""

    def summary(self) -> str:
        lines = [
            f"secrecy audit: {'PASSED' if self.passed else 'FAILED'}",
            f"  published cells checked against the primary rules: {self.published_checked}",
            f"  published cells breaking a primary rule: {len(self.violations)}",
            f"  2-D tables checked: {self.tables_checked}, hidden cells bounded: {self.hidden_checked}",
            f"  hidden cells determined exactly: {len(self.recoverable)}",
        ]
        lines += [f"    {v}" for v in (self.violations + self.recoverable)[:20]]
        if self.interval_checked:
            lines.append(
                "  hidden primary headcounts bounded closer than INSEE's protection level (NK(1,85) level, "
                f"or 10 %; {'blocking' if self.interval_blocking else 'reported, not blocking'}): "
                f"{len(self.interval_narrow)} of {self.interval_checked}"
            )
            lines += [f"    {v}" for v in self.interval_narrow[:5]]
        if self.rounded_checked:
            lines.append(
                "  hidden ETP and payroll cells (published values as their rounding intervals) bounded closer than "
                f"their protection level or known to the publication precision: {len(self.rounded_narrow)} of "
                f"{self.rounded_checked}"
            )
            lines += [f"    {v}" for v in self.rounded_narrow[:5]]
        if self.territory_systems:
            lines += [
                (
                    "  territory relations (France, régions, départements, EPCIs as unions of atoms; "
                    f"{'blocking' if self.territory_blocking else 'reported, not blocking'}):"
                ),
                (
                    f"    independent systems solved: {self.territory_systems}, hidden cells watched: "
                    f"{self.territory_hidden}"
                ),
                f"    hidden cells determined exactly: {len(self.territory_findings)}",
            ]
            lines += [f"      {v}" for v in self.territory_findings[:10]]
            if self.territory_interval_checked:
                lines.append(
                    "    hidden primary headcounts bounded closer than their protection level: "
                    f"{len(self.territory_interval_narrow)} of {self.territory_interval_checked}"
                )
                lines += [f"      {v}" for v in self.territory_interval_narrow[:5]]
        if self.joint_systems:
            lines += [
                (
                    "  every family of relations at once (2-D tables, champ tables, age pyramids, territories: "
                    "the systems tied across tables; "
                    f"{'blocking' if self.joint_blocking else 'reported, not blocking'}):"
                ),
                f"    systems solved: {self.joint_systems}, hidden cells watched: {self.joint_hidden}",
                f"    hidden cells determined exactly: {len(self.joint_findings)}",
            ]
            lines += [f"      {v}" for v in self.joint_findings[:10]]
            if self.joint_interval_checked:
                lines.append(
                    "    hidden primary headcounts bounded closer than their protection level: "
                    f"{len(self.joint_interval_narrow)} of {self.joint_interval_checked}"
                )
                lines += [f"      {v}" for v in self.joint_interval_narrow[:5]]
        if self.joint_rounded_checked:
            lines.append(
                "  hidden primary ETP and payroll cells bounded closer than their protection level by their "
                "families at once (2-D tables, champ tables, territories; published values as their rounding "
                f"intervals): {len(self.joint_rounded_narrow)} of {self.joint_rounded_checked}"
            )
            lines += [f"    {v}" for v in self.joint_rounded_narrow[:5]]
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
