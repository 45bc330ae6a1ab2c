"""The import itself: read, validate every row, then store, and say what happened.

1. *Form*: every row is read into its commands (``plan``), checked by the command models and the
   domain's identifier checks; duplicates within the file (CPAM + number, RPPS) are refused.
2. *Rules*: every well-formed row is decided by the application (``ConventionsApp.decide_all``):
   the same rules as an operator's commands, on the store's current state, nothing saved yet; the
   payments written must match the amounts the rules give.
3. *Store*: the decided rows are saved, a batch of rows per transaction, each row whole (its
   convention, its doctor's registration and every command's receipt together): a row is never
   half imported. A row already imported (its signature's key is in the store) is "déjà importée".

With ``workers`` > 1 the three phases run in forked worker processes, each on its share of the rows
(``adapters.importer.parallel``): same outcomes, same events, nothing stored before every row is
decided.

All-or-nothing (the default): any bad row and nothing is stored. ``skip_invalid``: the good rows
are stored, the bad ones listed (and written to the rejected file by the CLI). ``check``: nothing
is ever stored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from adapters.importer import parallel
from adapters.importer.plan import Context, RowError, RowPlan, plan_row
from adapters.importer.reader import Row, Table, read_table
from adapters.importer.steps import checked, decide, store_rows
from domain.application import ConventionsApp, Decided


class Progress:
    """What the import tells as it goes (the CLI draws a bar); silent by default."""

    def phase(self, name: str, total: int) -> None: ...

    def advance(self, n: int = 1) -> None: ...


@dataclass
class Report:
    table: Table
    imported: list[RowPlan] = field(default_factory=list)
    already: list[RowPlan] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    stored: bool = False
    rules_checked: bool = False  # False: form errors stopped the import before the rules were checked

    @property
    def rejected_lines(self) -> list[int]:
        return sorted({e.line for e in self.errors})

    def rejected_rows(self) -> list[tuple[Row, str]]:
        """Each rejected row with its errors as one text (the rejected file's ``erreur``)."""
        by_line: dict[int, list[str]] = {}
        for e in self.errors:
            by_line.setdefault(e.line, []).append(f"{e.column} : {e.message}")
        return [(row, " | ".join(by_line[row.line])) for row in self.table.rows if row.line in by_line]


def import_file(
    app: ConventionsApp,
    path: Path,
    *,
    actor: str,
    skip_invalid: bool = False,
    check: bool = False,
    progress: Progress | None = None,
    workers: int = 1,
    open_app: Callable[[], ConventionsApp] | None = None,
) -> Report:
    """Import ``path`` (see the module's docstring). ``FileRefused`` when the file as a whole cannot be.

    ``workers`` > 1: the rows are checked, decided and stored by that many worker processes, each on its
    own application opened by ``open_app`` over the same store (``adapters.importer.parallel``); one
    worker, no ``open_app`` or an in-memory store: in this process, on ``app``."""
    progress = progress or Progress()
    table = read_table(path)
    report = Report(table)
    ctx = Context(file_name=path.name, actor=actor, today=app.clock())
    may_store = lambda: not check and (not report.errors or skip_invalid)  # noqa: E731 - once the rules ran
    if (n := parallel.workers_for(app, open_app, workers, len(table.rows))) > 1:
        assert open_app is not None
        parallel.import_rows(open_app, ctx, report, progress, workers=n, skip_invalid=skip_invalid, may_store=may_store)
        return report
    plans = _plan_rows(table, ctx, report, progress)
    if report.errors and not skip_invalid:
        return report
    report.rules_checked = True
    decided = _decide_rows(app, plans, report, progress)
    if may_store():
        _store(app, decided, report, progress)
    return report


def _plan_rows(table: Table, ctx: Context, report: Report, progress: Progress) -> list[RowPlan]:
    progress.phase("Vérification des lignes", len(table.rows))
    plans: list[RowPlan] = []
    for row in table.rows:
        plans.append(plan_row(row, ctx))
        progress.advance()
    return checked(plans, report.errors)


def _decide_rows(
    app: ConventionsApp, plans: list[RowPlan], report: Report, progress: Progress
) -> list[tuple[RowPlan, Decided]]:
    progress.phase("Règles métier", len(plans))
    decided: list[tuple[RowPlan, Decided]] = []
    for plan in plans:
        outcome = decide(app, plan)
        if isinstance(outcome, RowError):
            report.errors.append(outcome)
        elif outcome is None:
            report.already.append(plan)
        else:
            decided.append((plan, outcome))
            report.imported.append(plan)
        progress.advance()
    return decided


def _store(app: ConventionsApp, decided: list[tuple[RowPlan, Decided]], report: Report, progress: Progress) -> None:
    progress.phase("Enregistrement", len(decided))
    for plan, error in store_rows(app, decided, progress.advance):
        report.imported.remove(plan)
        report.errors.append(error)
    report.stored = bool(report.imported)
