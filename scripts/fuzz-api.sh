#!/usr/bin/env bash
# Fuzzes every operation of the ledger's API against its OpenAPI document with
# schemathesis, with signed requests (PROTOCOL.md §17, §21).
#
# Starts a devnet (`cbdc devnet`, embedded database) in a temporary directory
# on a free port of 127.0.0.1, then runs schemathesis on its /openapi.json in
# four passes:
#   role     every check; the bank's key for POST /v1/transactions, an
#            officer's for every other route (the main pass)
#   none     no signature: every /v1 route must answer 401, as documented
#   bank     the bank's key everywhere: officer routes must answer 403
#   officer  an officer's key everywhere: POST /v1/transactions must be 403
# The signing is done by scripts/fuzz_api_hooks.py with the reference signer
# of clients/python, on the bytes that go on the wire. Stops the devnet and
# removes its directory; exits 1 if any pass found a failure, 2 on a setup
# error. Needs `pip install schemathesis` (4.x) and python3.
#
# What is configured and why (the report of each pass says what it found):
#   - max_response_time 35 s: GET /v1/events is a documented long poll of up
#     to 30 s (wait_ms), which schemathesis's default 10 s limit would flag.
#   - positive_data_acceptance also takes 422 everywhere: a schema-valid
#     request the ledger refuses for a documented rule (unknown bank, supply
#     ceiling, a transaction that does not verify) is answered 422.
#   - positive_data_acceptance also takes 400 on POST /v1/transactions,
#     /v1/governance and /v1/issuances/{id}/approvals: their bodies carry curve
#     points, scalars, signatures, range proofs (and, for transactions, an
#     opaque binary encoding) whose validity JSON Schema cannot express, and
#     whose decoding failures are 400 by design (PROTOCOL.md §12.1). The hooks'
#     check `cbdc_schema_valid_json_understood` keeps the part that still fits:
#     a schema-valid body refused for its JSON shape, or an id refused for a
#     pattern the document does not state, is a failure on every route.
#   - known ids (notes, transactions, a proposal, owners, the demo bank) are
#     mixed into path, query and body values with probability 0.5, so the
#     200 answers of the GET /v1/{notes,transactions,issuances}/{id} routes are
#     checked against their schemas too.
#
# Settings (environment):
#   FUZZ_MAX_EXAMPLES  schemathesis --max-examples per operation  (50)
#   FUZZ_SEED          schemathesis --seed                        (1)
#   FUZZ_PASSES        which passes                               ("role none bank officer")
#   FUZZ_PASS_TIMEOUT  seconds a pass may take before it is killed (420)
#   FUZZ_OUT           where the reports go                       (target/fuzz-api)
#   CBDC_BIN           the cbdc binary (else `cargo build -p cbdc`, then
#                      $CARGO_TARGET_DIR/debug/cbdc)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

MAX_EXAMPLES=${FUZZ_MAX_EXAMPLES:-50}
SEED=${FUZZ_SEED:-1}
PASSES=${FUZZ_PASSES:-"role none bank officer"}
PASS_TIMEOUT=${FUZZ_PASS_TIMEOUT:-420}
OUT=${FUZZ_OUT:-target/fuzz-api}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cbdc-fuzz.XXXXXX")
DEVNET_PID=""

cleanup() {
    if [ -n "$DEVNET_PID" ] && kill -0 "$DEVNET_PID" 2>/dev/null; then
        kill -TERM "$DEVNET_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$DEVNET_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$DEVNET_PID" 2>/dev/null || true
        wait "$DEVNET_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 2' INT TERM

die() { echo "fuzz-api: $*" >&2; exit 2; }

command -v schemathesis >/dev/null || die "schemathesis is not installed (pip install schemathesis)"
command -v curl >/dev/null || die "curl is needed"
echo "fuzz-api: $(schemathesis --version 2>&1 | head -1), python $(python3 -c 'import sys; print(sys.version.split()[0])')" >&2

if [ -z "${CBDC_BIN:-}" ]; then
    cargo build --quiet -p cbdc --bin cbdc || die "cargo build failed"
    CBDC_BIN=${CARGO_TARGET_DIR:-target}/debug/cbdc
fi
[ -x "$CBDC_BIN" ] || die "no cbdc binary at $CBDC_BIN"

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
LEDGER=http://127.0.0.1:$PORT
env -u DATABASE_URL "$CBDC_BIN" devnet --no-gateways --data-dir "$WORK/devnet" --listen "127.0.0.1:$PORT" >"$WORK/devnet.log" 2>&1 &
DEVNET_PID=$!
for _ in $(seq 1 240); do
    grep -q "^serving until" "$WORK/devnet.log" 2>/dev/null && break
    kill -0 "$DEVNET_PID" 2>/dev/null || { cat "$WORK/devnet.log" >&2; die "the devnet exited"; }
    sleep 0.5
done
grep -q "^serving until" "$WORK/devnet.log" || { tail -20 "$WORK/devnet.log" >&2; die "the devnet did not come up"; }
curl -fsS "$LEDGER/healthz" >/dev/null || die "$LEDGER/healthz does not answer"
echo "fuzz-api: devnet at $LEDGER (pid $DEVNET_PID, $WORK/devnet)" >&2

# Known ids, for the dictionaries of the schemathesis configuration.
KEYS=$WORK/devnet/keys
python3 - "$LEDGER" "$KEYS" "$WORK/devnet.log" >"$WORK/schemathesis.toml" <<'PY'
import json, re, sys, urllib.request
sys.path.insert(0, "clients/python")
import cbdc_request

ledger, keys, log = sys.argv[1:4]
officer = cbdc_request.load_secret(f"{keys}/officer-1.json")

def get(target):
    headers = cbdc_request.sign_request(officer, "GET", target, b"")
    with urllib.request.urlopen(urllib.request.Request(ledger + target, headers=headers), timeout=10) as r:
        return json.load(r)

events = get("/v1/events?after=0&limit=1000")["events"]
devnet = open(log, encoding="utf-8").read()
notes = sorted({e["note_id"] for e in events})
owners = sorted({e["owner"] for e in events})
txs = sorted({e["tx_id"] for e in events} | set(re.findall(r"\btx=([0-9a-f]{64})", devnet)))
proposals = sorted(set(re.findall(r"\bproposal=([0-9a-f]{32})", devnet)))
banks = [p["id"] for p in get("/v1/participants")["participants"] if p.get("role") == "bank"]
if not (notes and owners and txs and proposals and banks):
    sys.exit(f"the devnet has no notes, transactions, proposals or banks: {events}")

def values(name, items):
    print(f"[dictionaries.{name}]\nvalues = {json.dumps(items)}\n")

def operation(names, parameters=None, expected=None):
    print(f"[[operations]]\ninclude-name = {json.dumps(names)}")
    if parameters:
        binding = ", ".join(f'"{k}" = {{ dictionary = "{v}", probability = 0.5 }}' for k, v in parameters.items())
        print(f"parameters = {{ {binding} }}")
    if expected:
        print(f"checks.positive_data_acceptance.expected-statuses = {json.dumps(expected)}")
    print()

print("[checks.positive_data_acceptance]")
print('expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]\n')
values("note_ids", notes)
values("tx_ids", txs)
values("proposal_ids", proposals)
values("owners", owners)
values("banks", banks)
operation(["GET /v1/notes/{id}"], {"path.id": "note_ids"})
operation(["GET /v1/transactions/{id}"], {"path.id": "tx_ids"})
operation(["GET /v1/issuances/{id}"], {"path.id": "proposal_ids"})
operation(["GET /v1/events"], {"query.owner": "owners"})
operation(["POST /v1/issuances"], {"body.bank_id": "banks"})
operation(
    ["POST /v1/issuances/{id}/approvals"],
    {"path.id": "proposal_ids"},
    ["2xx", "3xx", "400", "401", "403", "404", "409", "422", "429", "5xx"],
)
operation(
    ["POST /v1/transactions", "POST /v1/governance"],
    None,
    ["2xx", "3xx", "400", "401", "403", "404", "409", "422", "429", "5xx"],
)
PY

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
run_pass() {
    local pass=$1
    rm -f "$OUT/$pass.requests.jsonl"
    local started=$SECONDS rc=0
    # schemathesis keeps its crash cache (for `st replay`) per pass, out of the tree.
    { printf '[cache]\ndirectory = "%s"\n\n' "$OUT/cache-$pass"; cat "$WORK/schemathesis.toml"; } >"$WORK/$pass.toml"
    CBDC_FUZZ_AUTH=$pass CBDC_FUZZ_KEYS=$KEYS CBDC_FUZZ_LOG=$OUT/$pass.requests.jsonl \
    SCHEMATHESIS_HOOKS=$ROOT/scripts/fuzz_api_hooks.py \
        timeout --kill-after=10 "$PASS_TIMEOUT" \
        schemathesis --no-color --config-file "$WORK/$pass.toml" run "$LEDGER/openapi.json" \
            --checks all --max-response-time 35 --request-timeout 40 \
            --max-examples "$MAX_EXAMPLES" --seed "$SEED" --workers 1 \
            --continue-on-failure --generation-database none \
            --report junit --report-junit-path "$OUT/$pass.junit.xml" \
            >"$OUT/$pass.txt" 2>&1 || rc=$?
    local result
    result=$(grep -E "^=+ .* in [0-9.]+s =+$" "$OUT/$pass.txt" | tail -1 | tr -d '=' | sed 's/^ *//; s/ *$//')
    [ "$rc" = 124 ] && result="killed after ${PASS_TIMEOUT}s"
    echo "fuzz-api: pass $pass: ${result:-no summary} (exit $rc, $((SECONDS - started)) s, $OUT/$pass.txt)" >&2
    return "$rc"
}

failed=0
# The main pass alone, the others (which the ledger mostly refuses) side by side.
for pass in $PASSES; do
    [ "$pass" = role ] || continue
    run_pass role || failed=1
done
pids=()
for pass in $PASSES; do
    case $pass in
    role) ;;
    none | bank | officer) run_pass "$pass" & pids+=("$!") ;;
    *) die "unknown pass $pass (role, none, bank, officer)" ;;
    esac
done
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done

if [ "$failed" != 0 ]; then
    echo "fuzz-api: failures found; the reports are in $OUT" >&2
    exit 1
fi
echo "fuzz-api: no failures" >&2
