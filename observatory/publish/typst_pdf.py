"""The one typst call of the publications: a template of ``templates/`` and its JSON data → tagged PDF/UA-1.

Every PDF (panoramas, plaquettes, égalité, baromètre) goes through :func:`compile_pdf`, so every one is
checked alike: typst's own PDF/UA-1 checks (document title and language, an alternative text on every
image, tagged tables and headings) refuse a document that breaks a rule, and a typst warning fails the
build. Values reach typst only through the JSON data file, never formatted into typst source.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from observatory.errors import PublicationError
from observatory.files import atomic_path
from observatory.publish import charts

TEMPLATES = Path(__file__).resolve().parent / "templates"
PDF_STANDARDS = ["ua-1"]
"""Every PDF is tagged PDF/UA-1 (ISO 14289-1), checked by typst when it compiles."""


class TypstWarningError(PublicationError):
    """typst reported warnings (an unknown font, an overflowing element): treated as a layout failure."""


def compile_pdf(
    template: str, data: dict, build: Path, dest: Path, timestamp: int | None = None
) -> list[str]:
    """Compile ``templates/<template>`` with ``data.json`` into ``dest`` (atomically), as tagged PDF/UA-1.

    ``build`` is a scratch folder holding the charts the data names. A typst error (a PDF/UA-1 rule
    broken, a template error) raises :class:`PublicationError`; a typst warning (unknown font, a glyph no
    font has, an element that does not fit) raises :class:`TypstWarningError`; either way ``dest`` is left
    untouched. ``timestamp`` (seconds since 1970) fixes the document's date for byte-identical reruns.
    """
    import typst

    for tpl in TEMPLATES.glob("*.typ"):
        shutil.copy(tpl, build / tpl.name)
    (build / "data.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    try:
        pdf, warnings = typst.compile_with_warnings(
            str(build / template),
            root=str(build),
            sys_inputs={"data": "data.json"},
            format="pdf",
            font_paths=[str(charts.FONT_DIR)],
            ignore_system_fonts=True,
            pdf_standards=PDF_STANDARDS,
            timestamp=timestamp,
        )
    except typst.TypstError as exc:
        raise PublicationError(f"typst: {exc.message}\n{exc.diagnostic}") from exc
    messages = [getattr(w, "message", str(w)) for w in warnings or []]
    if messages:
        raise TypstWarningError(f"{dest.name}: typst warnings: " + " | ".join(messages))
    with atomic_path(dest) as tmp:
        tmp.write_bytes(pdf)
        tmp.chmod(0o644)
    return messages
