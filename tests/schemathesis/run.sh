#!/usr/bin/env bash
# Drives the real gateway with schemathesis (from PyPI), generating requests from openapi.yaml
# with every check on: it finds what the document says that the server does not do (or the
# other way round), and any 5xx. Installs schemathesis into a venv under target/, builds and
# starts the gateway on a throwaway database and port, signs a v2 token and a v3 token (with a
# fresh key pair), runs, stops.
#
#   bash tests/schemathesis/run.sh                            # the same requests every time
#   SEED=random MAX_EXAMPLES=2000 MAX_TIME=600 bash tests/schemathesis/run.sh   # explore further
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)

VERSION=4.32.5
VENV=target/schemathesis-venv
if [ ! -x "$VENV/bin/schemathesis" ] || ! "$VENV/bin/schemathesis" --version | grep -q "$VERSION"; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$VERSION"
fi
# hypothesis describes a lambda (for its reports) by parsing the lambda's whole module with
# `ast`, and CPython 3.11 aborts that deep in schemathesis's generation ("SystemError: AST
# constructor recursion depth mismatch"), which schemathesis reports as a crash of its run: with
# seed 1 it crashed five runs in five on the v3 POST bodies. A description is only text, so the
# venv's sitecustomize lets a failed one read "<unknown>" instead.
SITE=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
cat > "$SITE/sitecustomize.py" <<'PY'
# Written by warranty-gateway's tests/schemathesis/run.sh (see there).
def _describe_lambdas_safely():
    try:
        from hypothesis.internal import lambda_sources
    except ImportError:
        return
    describe = lambda_sources._lambda_description

    def described(f, *args, **kwargs):
        try:
            return describe(f, *args, **kwargs)
        except SystemError:
            return "lambda: <unknown>"

    lambda_sources._lambda_description = described


_describe_lambdas_safely()
PY
cargo build --locked --quiet
BIN=target/debug/warranty-gateway

DIR=$(mktemp -d)
# A v3 key pair for the partner: its public key in the config, its private key signs the v3 token.
"$BIN" keygen --out "$DIR/keys" > /dev/null
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$DIR/config.toml" <<TOML
[server]
bind = "127.0.0.1:$PORT"

[database]
path = "gateway.sqlite3"

[v3]
audience = "https://warranty.example.com/api/v3"
sandbox_audience = "https://sandbox.warranty.example.com/api/v3"

[[partners]]
company = "tirecompany"
partner_id = 1001
secret = "schemathesis-run-secret-0123456789abcdef-0123456789"
plan_term_months = 36
v3_issuer = "6102b521f403f42ddcde7ae5"
v3_public_key_file = "keys/public.pem"

# An admin: the admin operations (the audit log, a test tenant's reset) are fuzzed too, not
# only their 403.
[[operators]]
name = "schemathesis"
role = "admin"
secret = "schemathesis-operator-secret-0123456789abcdef-01234"
TOML
"$BIN" --config "$DIR/config.toml" > "$DIR/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$DIR"' EXIT
python3 - "$PORT" <<'PY'
import sys, time, urllib.request
for _ in range(100):
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/healthz", timeout=1)
        sys.exit(0)
    except Exception:
        time.sleep(0.1)
sys.exit("the gateway did not start")
PY
export WARRANTY_GATEWAY_TOKEN
WARRANTY_GATEWAY_TOKEN=$("$BIN" token --company tirecompany --config "$DIR/config.toml")
# The operators' routes take an operator's token (schemathesis.toml).
export WARRANTY_GATEWAY_OPERATOR_TOKEN
WARRANTY_GATEWAY_OPERATOR_TOKEN=$("$BIN" token --operator schemathesis --expires-in-hours 12 --config "$DIR/config.toml")
# v3's operations take a v3 token (schemathesis.toml): the sandbox, the tenant v2's requests reach.
export WARRANTY_GATEWAY_V3_TOKEN
WARRANTY_GATEWAY_V3_TOKEN=$("$BIN" token --v3 --company tirecompany --key "$DIR/keys/private.pem" --sandbox \
  --expires-in-minutes 1440 --config "$DIR/config.toml")

# By default the same requests every run (a fixed seed and number of cases per operation), so
# a finding reproduces; SEED=random and MAX_TIME=N explore further.
ARGS=(--max-examples "${MAX_EXAMPLES:-100}")
[ "${SEED:-1}" = random ] || ARGS+=(--seed "${SEED:-1}")
[ -z "${MAX_TIME:-}" ] || ARGS+=(--max-time "$MAX_TIME")
# openapi.yaml carries no `examples` keyword: with one inside a body (it had one on V3Date),
# schemathesis's examples phase draws each of the body's other fields on its own, and hypothesis
# crashed there in about one run in three, three times running in one case.
# schemathesis itself still sometimes crashes inside hypothesis, in its coverage phase on the
# same body ("Runtime Error: AST constructor recursion depth mismatch": CPython 3.11's ast module
# miscounting while hypothesis describes a lambda, a bug of the tool's Python, not a finding):
# such a run is tried again, up to five times. A run with a failed check, or any other error,
# is never retried.
# hooks.py gives each generated v3 create an invoiceNumber of its own: else nearly all were 409
# (the generator draws "0" again and again), and no new id led on to GET, metadata or PATCH.
export SCHEMATHESIS_HOOKS="$ROOT/tests/schemathesis/hooks.py"
# Every check runs by default. `--checks all` on the command line would also outrank
# schemathesis.toml's per-operation `enabled = false`: with it, use_after_free judged a GET of a
# test tenant after its reset (DELETE), which answers 204 by design, and failed a run that
# happened on that chain.
for attempt in 1 2 3 4 5; do
  set +e
  # From the throwaway folder: hypothesis keeps its cache (.hypothesis/) where it runs.
  (cd "$DIR" && "$ROOT/$VENV/bin/schemathesis" --config-file "$ROOT/tests/schemathesis/schemathesis.toml" \
    run "$ROOT/openapi.yaml" --url "http://127.0.0.1:$PORT" --workers 2 --no-color "${ARGS[@]}") \
    > "$DIR/report.txt" 2>&1
  code=$?
  set -e
  cat "$DIR/report.txt"
  [ "$code" -eq 0 ] && exit 0
  # A CI log may keep only its tail, and a crash's tracebacks are long: the findings again, last.
  echo "== schemathesis's findings (again, from its FAILURES section above)"
  sed -n '/^=* FAILURES =*$/,/^=* SUMMARY =*$/p' "$DIR/report.txt" | grep -v '^=* SUMMARY =*$' || true
  errors=$(sed -n '/^Errors:/,/^$/p' "$DIR/report.txt" | grep -v '^Errors:' | grep -v '^$' || true)
  if grep -q '^Failures:' "$DIR/report.txt" || [ -z "$errors" ] || echo "$errors" | grep -vq 'Runtime Error'; then
    exit "$code"
  fi
  echo "== schemathesis crashed inside itself (attempt $attempt of 5); running it again"
done
exit 1
