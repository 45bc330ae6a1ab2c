#!/usr/bin/env bash
# The main job on the embedded SQLite store, start to finish:
#  1. simulate a portfolio of 200 conventions across six CPAMs from 2023 to November 2026, day by
#     day, with plausible operator actions and the nightly job recording what falls due;
#  2. bring the read models up to date; 3. show the portfolio dashboard, the operators' work
#     queue, a list, and one convention with its history.
# Deterministic (seed 1); running it again changes nothing.
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
