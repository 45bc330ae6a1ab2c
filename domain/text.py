"""Free text an operator types (R29): names, reasons, notes, references.

Text is printed back in terminals, pages and exports: a control character (a terminal escape), a
line break in a name or a bidirectional override would let one entry disguise itself or another
one. Such text is refused with a message naming the field, never silently cleaned.
"""

from __future__ import annotations

import unicodedata

from domain.errors import InvalidInput

NAME_MAX = 200  # names, references, actors
REASON_MAX = 500  # reasons, notes, grounds

# Bidirectional embeddings, overrides, isolates and marks: they reorder what a reader sees.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


def check_text(value: str, field: str, label: str, *, max_length: int, required: bool, multiline: bool = False) -> str:
    """The text stripped of surrounding blanks, or an ``InvalidInput`` naming ``field``.

    ``multiline`` allows line breaks (notes); names and references stay on one line.
    """
    if multiline:
        value = value.replace("\r\n", "\n")
    for ch in value:
        if ch in BIDI_CONTROLS:
            raise InvalidInput(
                "invalid_text",
                f"{label} : caractère de contrôle bidirectionnel U+{ord(ch):04X} refusé.",
                field,
            )
        if ch == "\n" and multiline:
            continue
        if unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp"):
            raise InvalidInput(
                "invalid_text",
                f"{label} : caractère de contrôle U+{ord(ch):04X} refusé (texte imprimable uniquement"
                + ("" if multiline else ", sur une seule ligne")
                + ").",
                field,
            )
    value = value.strip()
    if value and all(_invisible(ch) for ch in value):
        raise InvalidInput("invalid_text", f"{label} : uniquement des caractères invisibles.", field)
    if required and not value:
        raise InvalidInput("invalid_text", f"{label} : obligatoire.", field)
    if len(value) > max_length:
        raise InvalidInput("invalid_text", f"{label} : {max_length} caractères au plus ({len(value)} reçus).", field)
    return value


def _invisible(ch: str) -> bool:
    return ch.isspace() or unicodedata.category(ch) in ("Cf", "Mn", "Me", "Zs")
