"""Read models fed by the event log: conventions list, portfolio, ledger, calendar, history."""
