"""What a stored history holds that today's rules would refuse (R21, R22, R29, R1/R8).

A store written before a rule was enforced still loads, replays and shows: events are forever.
This check names what breaks the rules, so an operator can correct it by a new event (an amendment,
a termination) instead of the software failing on it later. Whether a fact was dated after the
clock's today cannot be told afterwards (the clock may have been virtual): that rule is not checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from domain import events as ev
from domain.convention import Convention
from domain.errors import DomainError
from domain.regimes import THIRD_CLOSED_ON
from domain.text import NAME_MAX, REASON_MAX, check_text
from domain.values import Option


@dataclass(frozen=True)
class Finding:
    code: str
    message: str
    version: int | None = None  # the event that carries it, when one does


def audit(events: list[ev.Event]) -> list[Finding]:
    """Findings on one convention's history (empty: nothing today's rules would refuse)."""
    if not events or not isinstance(events[0], ev.Signed):
        return []
    rules = RulesAudit()
    for e in events:
        rules.add(e)
    return rules.finish(Convention.replay(events))


class RulesAudit:
    """``audit`` one event at a time, for a reader that replays a whole log without keeping it
    (``conventions verify``): ``add`` each event in version order, then ``finish`` with the replayed
    convention."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self._effective_from: date | None = None
        self._last_change: date | None = None

    def add(self, e: ev.Event) -> None:
        out = self.findings
        if isinstance(e, ev.Signed):
            self._effective_from = e.effective_from
            if e.option is Option.THIRD and e.effective_date >= THIRD_CLOSED_ON:
                out.append(Finding("third_option_closed", "Option 1/3 ETP souscrite après le 01/05/2023 (R1/R8).", 1))
            if (e.effective_from - e.effective_date).days > 366:
                out.append(Finding("invalid_effective_date", "Prise d'effet plus d'un an après la signature (R21).", 1))
        out += _text_findings(e)
        if not isinstance(e, ev.OptionChanged | ev.Suspended | ev.ReviewHeld) or self._effective_from is None:
            return
        day, v = e.effective_date, e.originator_version
        what = f"{type(e).__name__} du {day:%d/%m/%Y}"
        if day < self._effective_from:
            effective = f"{self._effective_from:%d/%m/%Y}"
            out.append(Finding("date_before_effective", f"{what}, avant la prise d'effet du {effective} (R21).", v))
        if isinstance(e, ev.OptionChanged):
            last = self._last_change
            if last is not None and day < last:
                out.append(
                    Finding("option_changes_out_of_order", f"{what}, enregistré après un avenant daté plus tard.", v)
                )
            self._last_change = max(day, last or day)

    def finish(self, conv: Convention) -> list[Finding]:
        """The findings, with those on the whole history (``conv``: the convention replayed)."""
        out = self.findings
        if conv.terminated_on is not None:
            later = [(d, what) for d, what in conv.recorded_facts() if d > conv.terminated_on]
            if later:
                d, what = max(later)
                message = f"Résiliation au {conv.terminated_on:%d/%m/%Y} antérieure à : {what} du {d:%d/%m/%Y} (R22)."
                out.append(Finding("termination_before_recorded_event", message))
        try:  # can the schedule still be computed? (the nightly run and the dashboard need it)
            conv.next_due_on()
            conv.planned_instalments()
        except DomainError as error:
            out.append(Finding(f"unprocessable:{error.code}", f"Échéancier impossible à calculer : {error.message}"))
        return out


def _text_findings(e: ev.Event) -> list[Finding]:
    fields = {"actor": NAME_MAX, "reason": REASON_MAX}
    if isinstance(e, ev.Signed):
        fields["doctor_name"] = NAME_MAX
    elif isinstance(e, ev.ReviewHeld):
        fields["notes"] = REASON_MAX
    elif isinstance(e, ev.PaymentRecorded):
        fields["payment_reference"] = NAME_MAX
    elif isinstance(e, ev.Terminated):
        fields["ground"] = REASON_MAX
    out = []
    for name, limit in fields.items():
        if (refusal := _text_refusal(getattr(e, name), name, limit)) is not None:
            out.append(Finding("invalid_text", f"{type(e).__name__}.{refusal} (R29)", e.originator_version))
    return out


@lru_cache(maxsize=65536)
def _text_refusal(value: str | None, name: str, limit: int) -> str | None:
    """Why R29 refuses ``value`` (None: it does not). Memoised: a log repeats its actors and reasons,
    and a whole-log audit asks for each of its million events."""
    try:
        check_text(value, name, name, max_length=limit, required=False, multiline=name in ("notes", "reason"))
    except DomainError as error:
        return error.message
    return None
