"""The finance exports as downloads: ``/web/exports/{kind}.{format}?cpam=281&annee=2025``.

The same session, roles and CPAM scope as the pages: an export holds only the rows of the user's
CPAMs, and a ``cpam`` outside them is « not found », like another CPAM's convention. Downloading is
a read: every role may (the ledger and the work queue need ``reports``, as their pages do)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from adapters.exports.sheets import KINDS, build
from adapters.exports.writers import CONTENT_TYPES, FORMATS, to_bytes
from adapters.users import Permission
from adapters.web.pages import HEADERS, PREFIX, PageError, services, signed_in
from domain.fields import MAX_DAY, MIN_DAY
from projections.scope import narrow, sees

router = APIRouter(prefix=PREFIX, include_in_schema=False)
PERMISSIONS = {"conventions": Permission.READ, "ledger": Permission.REPORTS, "work-queue": Permission.REPORTS}
FILE_NAMES = {"conventions": "conventions", "ledger": "grand-livre", "work-queue": "a-traiter"}


@router.get("/exports/{kind}.{fmt}")
def download(request: Request, kind: str, fmt: str, cpam: str = "", annee: str = "") -> Response:
    if kind not in KINDS or fmt not in FORMATS:
        raise PageError(404, "Export inconnu", f"Exports : {', '.join(KINDS)}, aux formats {', '.join(FORMATS)}.")
    session = signed_in(request, PERMISSIONS[kind])
    scope = session.user.scope()
    if cpam and not (cpam.isdigit() and len(cpam) == 3):
        raise PageError(400, "CPAM invalide", "Code CPAM à trois chiffres attendu (ex. 281).")
    if cpam and not sees(scope, cpam):
        raise PageError(404, "CPAM introuvable", "Aucune de vos CPAM ne porte ce code.")
    year = _year(annee)
    svc = services(request)
    today = svc.clock()
    with svc.read_models.reading() as (store, freshness):  # rows are read here; written after
        sheet = build(kind, store, today=today, cpams=narrow(scope, cpam or None), year=year)
    body = to_bytes(sheet, fmt)
    name = "-".join(p for p in (FILE_NAMES[kind], cpam, annee.strip(), today.isoformat()) if p)
    disposition = f'attachment; filename="{name}.{fmt}"'
    headers = {**HEADERS, "Content-Disposition": disposition, "X-Data-Lag": str(freshness["lag"])}
    return Response(body, media_type=CONTENT_TYPES[fmt], headers=headers)


def _year(text: str) -> int | None:
    if not text.strip():
        return None
    if not text.strip().isdigit() or not MIN_DAY.year <= int(text) <= MAX_DAY.year:
        raise PageError(400, "Année invalide", f"Année civile attendue, de {MIN_DAY.year} à {MAX_DAY.year}.")
    return int(text)
