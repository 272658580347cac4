#!/usr/bin/env bash
# Checks what deploy/ ships with Prometheus's own promtool (Debian's package `prometheus`):
# the alert rules' syntax, their unit cases (alerts.test.yml), and every query of the Grafana
# dashboard (each made a recording rule, so promtool parses it as Prometheus would).
set -euo pipefail
cd "$(dirname "$0")"
promtool check rules prometheus/alerts.yml
(cd prometheus && promtool test rules alerts.test.yml)
rules=$(mktemp --suffix=.yml)
trap 'rm -f "$rules"' EXIT
python3 - grafana/warranty-gateway.json > "$rules" <<'PY'
import json, sys
dashboard = json.load(open(sys.argv[1]))
print("groups:\n  - name: dashboard\n    rules:")
for panel in dashboard["panels"]:
    for target in panel["targets"]:
        print(f"      - record: dashboard_panel_{panel['id']}_{target['refId']}")
        print(f"        expr: {json.dumps(target['expr'])}")
PY
echo "the dashboard's queries:"
promtool check rules "$rules"
