#!/usr/bin/env bash
# The main job on the embedded SQLite store, start to finish:
#  1. simulate a portfolio of 200 conventions across six CPAMs from 2023 to November 2026, day by
#     day, with plausible operator actions and the nightly job recording what falls due;
#  2. bring the read models up to date; 3. show the portfolio dashboard, the operators' work
#     queue, a list, and one convention with its history; 4. create a demo operator of CPAM 281 and
#     serve the operators' web pages (DEMO_SERVE=0: stop before serving).
# Deterministic (seed 1); running it again changes nothing but the demo operator's token.
set -euo pipefail
C=".venv/bin/conventions"
export CONVENTIONS_DATA_DIR="${CONVENTIONS_DATA_DIR:-data}"
TODAY="${DEMO_TODAY:-2026-11-30}"

$C simulate --from 2023-01-01 --to "$TODAY" --conventions 200 --seed 1
$C project
$C dashboard
$C due --today "$TODAY" --cpam 281
$C list --cpam 281 --status suspended
ID=$($C list --cpam 281 --per-page 1 --json | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
$C show "$ID"
$C history "$ID"
echo "Données dans $CONVENTIONS_DATA_DIR ; essayer : $C estimate --option FULL --tier BASE --effective 2025-03-01"

# The operators' web pages, on the same data and the same day as the simulation.
$C users revoke demo >/dev/null 2>&1 || true
TOKEN=$($C users add demo --role operator --cpam 281 2>/dev/null)
HOST="${CONVENTIONS_HTTP_HOST:-127.0.0.1}"
PORT="${CONVENTIONS_HTTP_PORT:-8000}"
echo
echo "Pages des opérateurs : http://$HOST:$PORT/web/"
echo "  se connecter avec le nom « demo » (opérateur de la CPAM 281) et le jeton : $TOKEN"
echo "  (voir docs/web.md ; arrêter le serveur avec Ctrl-C)"
if [ "${DEMO_SERVE:-1}" != "0" ]; then
  CONVENTIONS_TODAY="$TODAY" exec $C serve --host "$HOST" --port "$PORT"
fi
