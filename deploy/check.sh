#!/usr/bin/env bash
# Checks what deploy/ ships with Prometheus's own promtool (Debian's package `prometheus`):
# the alert rules' syntax, their unit cases (alerts.test.yml), and every query of the Grafana
# dashboard (each made a recording rule, so promtool parses it as Prometheus would); and the
# systemd units (the service, the backup and its timer) with `systemd-analyze verify` (Debian's package `systemd`).
set -euo pipefail
cd "$(dirname "$0")"
promtool check rules prometheus/alerts.yml
(cd prometheus && promtool test rules alerts.test.yml)
rules=$(mktemp --suffix=.yml)
units=$(mktemp -d)
trap 'rm -f "$rules"; rm -rf "$units"' EXIT
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
echo "the systemd units:"
# verify wants ExecStart's program to exist: the units as installed, with true(1) standing in
# for the binary. An unknown key is only a warning to systemd: any output fails the check.
for unit in warranty-gateway.service warranty-gateway-backup.service warranty-gateway-backup.timer; do
  sed "s|/usr/local/bin/warranty-gateway|$(command -v true)|" "systemd/$unit" > "$units/$unit"
done
for unit in warranty-gateway.service warranty-gateway-backup.service warranty-gateway-backup.timer; do
  said=$(systemd-analyze verify "$units/$unit" 2>&1) || { echo "$unit: $said"; exit 1; }
  if [ -n "$said" ]; then
    echo "$unit: $said"
    exit 1
  fi
done
echo "SUCCESS"
