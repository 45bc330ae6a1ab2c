#!/usr/bin/env bash
# A lifecycle on the embedded SQLite store: sign, hire, tick, suspend, reactivate, attainment, pay.
set -euo pipefail
C=".venv/bin/conventions"
export CONVENTIONS_DATA_DIR="${CONVENTIONS_DATA_DIR:-data}"
ID=$($C sign --number DEMO-001 --cpam 281 --rpps 10000000009 --name "Martin" --specialty general_practice \
  --sector 1 --option FULL --percentile 50 --patients 1000 --target 1200 --signed 2025-02-01 \
  --effective 2025-03-01 --command-id demo-sign --actor demo 2>/dev/null || \
  $C show "$(python3 -c 'import uuid;print(uuid.uuid5(uuid.uuid5(uuid.NAMESPACE_URL,"https://cpam-conventions.invalid/conventions"),"convention:281:DEMO-001"))')" --json | python3 -c 'import json,sys;print(json.load(sys.stdin)["id"])')
echo "convention $ID"
$C hire "$ID" --date 2025-03-01 --fte 1 --profile nurse --command-id demo-hire --actor demo
$C tick --today 2026-04-30 --actor demo
$C pay "$ID" --instalment y1-full --date 2025-03-20 --reference VIR-2025-001 --command-id demo-pay1 --actor demo
$C suspend "$ID" --from 2026-05-01 --ground long_absence --agreement-date 2026-05-03 --command-id demo-susp --actor demo
$C reactivate "$ID" --from 2026-09-01 --command-id demo-react --actor demo
$C tick --today 2028-08-01 --actor demo
$C attainment "$ID" --year 3 --patients 1080 --date 2028-07-15 --command-id demo-att3 --actor demo
$C tick --today 2028-08-01 --actor demo
$C show "$ID"
