"""A row's steps after its reading, wherever they run (this process or a worker,
``adapters.importer.parallel``): the file's duplicates refused, the row decided on the store's
current state (nothing saved), then the decided rows saved in batches."""

from __future__ import annotations

from collections.abc import Callable

from adapters.importer.plan import RowError, RowPlan
from domain.application import ConventionsApp, Decided
from domain.errors import ConcurrentModification
from domain.identifiers import convention_id

BATCH_ROWS = 200  # rows saved per transaction


def checked(plans: list[RowPlan], errors: list[RowError]) -> list[RowPlan]:
    """The plans (in the file's order) without errors once the file's duplicates are refused; every
    error added to ``errors``, in the file's order."""
    numbers: dict[tuple[str, str], int] = {}
    doctors: dict[str, int] = {}
    good: list[RowPlan] = []
    for plan in plans:
        if not plan.errors:
            _duplicates(plan, numbers, doctors)
        errors += plan.errors
        if not plan.errors:
            good.append(plan)
    return good


def _duplicates(plan: RowPlan, numbers: dict[tuple[str, str], int], doctors: dict[str, int]) -> None:
    """Within the file: one row per CPAM + number, one per doctor (R8: one active convention)."""
    line = plan.row.line
    if (first := numbers.setdefault((plan.cpam, plan.number), line)) != line:
        message = f"numéro {plan.number} de la CPAM {plan.cpam} déjà sur la ligne {first}."
        plan.errors.append(RowError(line, "number", plan.number, message))
    rpps = plan.row.values["rpps"]
    if (first := doctors.setdefault(rpps, line)) != line:
        message = f"RPPS déjà sur la ligne {first} : un médecin ne détient qu'une convention active (R8)."
        plan.errors.append(RowError(line, "rpps", rpps, message))


def decide(app: ConventionsApp, plan: RowPlan) -> Decided | RowError | None:
    """The row decided (not saved), its first refusal, or None when it is already imported."""
    line = plan.row.line
    signed = app.signature(convention_id(plan.cpam, plan.number))
    if signed is not None:
        if signed.command_id == plan.sign_command_id:
            return None
        message = (
            f"la convention n° {plan.number} de la CPAM {plan.cpam} existe déjà (signée le "
            f"{signed.effective_date:%d/%m/%Y}, enregistrée par {signed.actor}) avec d'autres valeurs."
        )
        return RowError(line, "number", plan.number, message)
    decided = app.decide_all(plan.steps)
    if decided.refused is not None:
        index, error = decided.refused
        column = plan.columns[index]
        return RowError(line, column, plan.row.values.get(column, ""), f"{error.message} [{error.code}]")
    return _check_amounts(plan, decided)


def _check_amounts(plan: RowPlan, decided: Decided) -> Decided | RowError:
    """A payment written must be the amount the rules give for its instalment (R3, R6)."""
    conv = decided.convention
    assert conv is not None
    for index, written in plan.payments.items():
        instalment = plan.steps[index][0].instalment  # type: ignore[attr-defined]
        due = abs(conv.instalments[instalment].amount)
        if due != written:
            message = f"échéance {instalment} : {written} € écrits, {due} € selon les règles."
            return RowError(plan.row.line, "payments", plan.row.values.get("payments", ""), message)
    return decided


def store_rows(
    app: ConventionsApp, decided: list[tuple[RowPlan, Decided]], advance: Callable[[int], None]
) -> list[tuple[RowPlan, RowError]]:
    """Save the decided rows, ``BATCH_ROWS`` per transaction; the rows that could not be (someone
    else's write), each with its error. ``advance(n)``: n more rows done."""
    failed: list[tuple[RowPlan, RowError]] = []
    for start in range(0, len(decided), BATCH_ROWS):
        batch = decided[start : start + BATCH_ROWS]
        try:
            app.save_decided(*(d for _, d in batch))
        except ConcurrentModification:
            failed += _store_one_by_one(app, batch)
        advance(len(batch))
    return failed


def _store_one_by_one(app: ConventionsApp, batch: list[tuple[RowPlan, Decided]]) -> list[tuple[RowPlan, RowError]]:
    """A batch someone else's write made fail: each row alone, so only the conflicting rows fail
    (whole: a row is one transaction); importing the file again retries them."""
    failed: list[tuple[RowPlan, RowError]] = []
    for plan, decided in batch:
        try:
            app.save_decided(decided)
        except ConcurrentModification as error:
            failed.append((plan, RowError(plan.row.line, "number", plan.number, f"{error.message} [{error.code}]")))
    return failed
