"""Domain errors, raised once and shown to the user by the CLI without a traceback."""

from __future__ import annotations

from dataclasses import dataclass


class ObservatoryError(Exception):
    """Base class of every error the observatory reports to its user."""


@dataclass
class ExtractError(ObservatoryError):
    """An input extract cannot be read: names the file, the line and the column, and what was expected."""

    file: str
    line: int | None = None
    column: str | None = None
    expected: str = ""
    found: str | None = None

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f", line {self.line}"
        if self.column:
            where += f", column '{self.column}'"
        msg = f"{where}: expected {self.expected}" if self.expected else where
        if self.found is not None:
            msg += f", found {self.found!r}"
        return msg


class PublicationError(ObservatoryError):
    """A publication step failed; the previous publication is left as it was."""


class SecrecyError(ObservatoryError):
    """A cell breaks a secrecy rule or the audit failed."""


class TerritoryError(ObservatoryError):
    """A territory on demand cannot be built (unknown commune codes, a bad file, a slug already used)."""
