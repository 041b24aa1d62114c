#!/usr/bin/env bash
# Fuzzes every operation of a bank gateway's API against its OpenAPI document
# with schemathesis, with the gateway's bearer tokens.
#
# Starts a devnet (`cbdc devnet`: the ledger and the gateways of bank-a and
# bank-b, embedded databases) in a temporary directory on free ports of
# 127.0.0.1, makes some real objects on bank-a's gateway (customers, wallets,
# a deposit account, a fund, payments to the same bank and to bank-b, a note
# from bank-b held for an operator), then
# runs schemathesis on bank-a's /openapi.json in three passes:
#   role     every check; the internal token on the internal routes
#            (/v1/wallets…), the operator token on the operator routes
#            (/v1/operator/…) (the main pass)
#   none     no token: every /v1 route must answer 401, as documented
#   swapped  the operator token on the internal routes and the internal token
#            on the operator routes: every /v1 route must answer 403
# The tokens are the devnet's (keys/bank-a-gateway.json), put on each request
# by scripts/fuzz_gateway_hooks.py. Stops the devnet and removes its
# directory; exits 1 if any pass found a failure, 2 on a setup error. Needs
# `pip install schemathesis` (4.x), python3 and curl.
#
# What is configured and why (the report of each pass says what it found):
#   - positive_data_acceptance also takes 401 and 403 (the none and swapped
#     passes refuse every /v1 request, as documented), 404 (an id the
#     document admits need not exist), 409 (a reused Idempotency-Key,
#     `notes_in_flight`) and 422 (a schema-valid request refused for a
#     documented rule: a limit, funds, a frozen wallet, another customer's
#     account) everywhere; 5xx is left to not_a_server_error.
#   - it also takes 400 on POST /v1/wallets/{id}/payments only: `to` is a
#     bech32m address, whose checksum JSON Schema cannot express. The hooks'
#     check `cbdc_gateway_valid_input_understood` keeps that route honest: a
#     schema-valid payment refused with 400 for anything but `bad_address`
#     is a failure.
#   - known ids (wallets, customers, the deposit account, payments, the
#     addresses of bank-a's and bank-b's wallets, the held note) are mixed
#     into path and body values with probability 0.5, so the 200 answers of
#     the routes that take ids are checked against their schemas too.
#   - --request-timeout 30: a payment waits for the ledger's receipt; on a
#     loaded machine a debug build may take seconds (the 10 s response-time
#     limit of schemathesis stays).
#   - --workers 1 and --generation-database none: with FUZZ_SEED, the same
#     run twice sends the same requests (up to the ids the devnet hands out).
#
# Settings (environment):
#   FUZZ_MAX_EXAMPLES  schemathesis --max-examples per operation  (50)
#   FUZZ_SEED          schemathesis --seed                        (1)
#   FUZZ_PASSES        which passes                               ("role none swapped")
#   FUZZ_PHASES        schemathesis --phases                      (all of them)
#   FUZZ_PASS_TIMEOUT  seconds a pass may take before it is killed (420)
#   FUZZ_OUT           where the reports go                       (target/fuzz-gateway)
#   CBDC_BIN           the cbdc binary (else `cargo build -p cbdc`, then
#                      $CARGO_TARGET_DIR/debug/cbdc)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

MAX_EXAMPLES=${FUZZ_MAX_EXAMPLES:-50}
SEED=${FUZZ_SEED:-1}
PASSES=${FUZZ_PASSES:-"role none swapped"}
PHASES=${FUZZ_PHASES:-}
PASS_TIMEOUT=${FUZZ_PASS_TIMEOUT:-420}
OUT=${FUZZ_OUT:-target/fuzz-gateway}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cbdc-fuzz-gateway.XXXXXX")
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

die() { echo "fuzz-gateway: $*" >&2; exit 2; }

for pass in $PASSES; do
    case $pass in
    role | none | swapped) ;;
    *) die "unknown pass $pass (role, none, swapped)" ;;
    esac
done
command -v schemathesis >/dev/null || die "schemathesis is not installed (pip install schemathesis)"
command -v curl >/dev/null || die "curl is needed"
echo "fuzz-gateway: $(schemathesis --version 2>&1 | head -1), python $(python3 -c 'import sys; print(sys.version.split()[0])')" >&2

if [ -z "${CBDC_BIN:-}" ]; then
    cargo build --quiet -p cbdc --bin cbdc || die "cargo build failed"
    CBDC_BIN=${CARGO_TARGET_DIR:-target}/debug/cbdc
fi
[ -x "$CBDC_BIN" ] || die "no cbdc binary at $CBDC_BIN"

# The ledger on a free port; the devnet puts the gateways on the two after it,
# or on ephemeral ports when those are taken, and prints where.
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
env -u DATABASE_URL "$CBDC_BIN" devnet --data-dir "$WORK/devnet" --listen "127.0.0.1:$PORT" >"$WORK/devnet.log" 2>&1 &
DEVNET_PID=$!
for _ in $(seq 1 240); do
    grep -q "^serving until" "$WORK/devnet.log" 2>/dev/null && break
    kill -0 "$DEVNET_PID" 2>/dev/null || { cat "$WORK/devnet.log" >&2; die "the devnet exited"; }
    sleep 0.5
done
grep -q "^serving until" "$WORK/devnet.log" || { tail -20 "$WORK/devnet.log" >&2; die "the devnet did not come up"; }
gateway_url() {
    sed -n "s|^gateway  *$1 \(http://127\.0\.0\.1:[0-9]*\) .*|\1|p" "$WORK/devnet.log" | head -1
}
GATEWAY=$(gateway_url bank-a)
OTHER=$(gateway_url bank-b)
[ -n "$GATEWAY" ] && [ -n "$OTHER" ] || { tail -20 "$WORK/devnet.log" >&2; die "the devnet printed no gateway URLs on 127.0.0.1"; }
curl -fsS "$GATEWAY/readyz" >/dev/null || die "$GATEWAY/readyz does not answer"
KEYS=$WORK/devnet/keys
echo "fuzz-gateway: devnet up (pid $DEVNET_PID, $WORK/devnet); fuzzing bank-a's gateway at $GATEWAY" >&2

# Known objects, for the dictionaries of the schemathesis configuration.
python3 - "$GATEWAY" "$KEYS/bank-a-gateway.json" "$OTHER" "$KEYS/bank-b-gateway.json" >"$WORK/schemathesis.toml" <<'PY'
import json, sys, time, urllib.error, urllib.request

gateway, secrets, other, other_secrets = sys.argv[1:5]
tokens = json.load(open(secrets, encoding="utf-8"))
other_tokens = json.load(open(other_secrets, encoding="utf-8"))

def call(base, token, method, path, body=None, key=None, ok=(200, 201)):
    headers = {"Authorization": f"Bearer {token}"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if key is not None:
        headers["Idempotency-Key"] = key
    request = urllib.request.Request(base + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            status, answer = r.status, json.load(r)
    except urllib.error.HTTPError as e:
        status, answer = e.code, e.read().decode("utf-8", "replace")
    if status not in ok:
        sys.exit(f"setup: {method} {path}: {status} {answer}")
    return answer

def internal(method, path, body=None, key=None):
    return call(gateway, tokens["internal_token"], method, path, body, key)

def operator(method, path, body=None):
    return call(gateway, tokens["operator_token"], method, path, body)

payer = internal("POST", "/v1/wallets", {"phone": "+15550100001"})
payee = internal("POST", "/v1/wallets", {"phone": "+15550100002"})
elsewhere = call(other, other_tokens["internal_token"], "POST", "/v1/wallets", {"phone": "+15550100003"})
account = operator("POST", f"/v1/operator/customers/{payer['customer_id']}/accounts")["account_id"]
operator("POST", f"/v1/operator/accounts/{account}/deposits", {"amount": 1_000_000, "reference": "fuzz-cash-1"})
operator("POST", f"/v1/operator/wallets/{payer['wallet_id']}/link", {"account_id": account})
w = payer["wallet_id"]
payments = [
    internal("POST", f"/v1/wallets/{w}/fund", {"amount": 500_000}, "fuzz-fund-1")["id"],
    internal("POST", f"/v1/wallets/{w}/payments", {"to": payee["address"], "amount": 10_000}, "fuzz-pay-1")["id"],
    internal("POST", f"/v1/wallets/{w}/payments", {"to": elsewhere["address"], "amount": 10_000}, "fuzz-pay-2")["id"],
    internal("POST", f"/v1/wallets/{w}/defund", {"amount": 1_000}, "fuzz-defund-1")["id"],
]
# A note held for an operator: bank-b pays bank-a's frozen payee, which is
# unfrozen once the note is held (so that releasing it can succeed).
def other_call(role, method, path, body=None, key=None):
    return call(other, other_tokens[f"{role}_token"], method, path, body, key)

e = elsewhere["wallet_id"]
other_account = other_call("operator", "POST", f"/v1/operator/customers/{elsewhere['customer_id']}/accounts")["account_id"]
other_call("operator", "POST", f"/v1/operator/accounts/{other_account}/deposits", {"amount": 100_000, "reference": "fuzz-cash-2"})
other_call("operator", "POST", f"/v1/operator/wallets/{e}/link", {"account_id": other_account})
other_call("internal", "POST", f"/v1/wallets/{e}/fund", {"amount": 50_000}, "fuzz-fund-2")
operator("POST", f"/v1/operator/wallets/{payee['wallet_id']}/freeze")
other_call("internal", "POST", f"/v1/wallets/{e}/payments", {"to": payee["address"], "amount": 5_000}, "fuzz-pay-3")
deadline = time.monotonic() + 30
while not (held := [n["note_id"] for n in operator("GET", "/v1/operator/held")]):
    if time.monotonic() > deadline:
        sys.exit("setup: bank-b's payment to a frozen wallet of bank-a was not held within 30 s")
    time.sleep(0.2)
operator("POST", f"/v1/operator/wallets/{payee['wallet_id']}/unfreeze")

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
values("wallet_ids", [payer["wallet_id"], payee["wallet_id"]])
values("customer_ids", [payer["customer_id"], payee["customer_id"]])
values("account_ids", [account])
values("payment_ids", payments)
values("addresses", [payee["address"], elsewhere["address"]])
values("note_ids", held)
wallet = {"path.id": "wallet_ids"}
operation(["GET /v1/wallets/{id}", "PATCH /v1/wallets/{id}", "GET /v1/wallets/{id}/history"], wallet)
operation(["POST /v1/wallets/{id}/fund", "POST /v1/wallets/{id}/defund"], wallet)
operation(
    ["POST /v1/wallets/{id}/payments"],
    {**wallet, "body.to": "addresses"},
    ["2xx", "3xx", "400", "401", "403", "404", "409", "422", "429", "5xx"],
)
operation(["GET /v1/wallets/{id}/payments/{payment_id}"], {**wallet, "path.payment_id": "payment_ids"})
operation(
    ["GET /v1/operator/customers/{id}", "POST /v1/operator/customers/{id}/tier", "POST /v1/operator/customers/{id}/accounts"],
    {"path.id": "customer_ids"},
)
operation(
    ["GET /v1/operator/accounts/{id}", "POST /v1/operator/accounts/{id}/deposits"],
    {"path.id": "account_ids"},
)
operation(["POST /v1/operator/wallets/{id}/link"], {**wallet, "body.account_id": "account_ids"})
operation(
    ["POST /v1/operator/wallets/{id}/freeze", "POST /v1/operator/wallets/{id}/unfreeze", "GET /v1/operator/wallets/{id}/statement"],
    wallet,
)
operation(["POST /v1/operator/held/{note_id}/release"], {"path.note_id": "note_ids"})
PY

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
run_pass() {
    local pass=$1
    rm -f "$OUT/$pass.requests.jsonl"
    local started=$SECONDS rc=0
    # schemathesis keeps its crash cache (for `st replay`) per pass, out of the tree.
    { printf '[cache]\ndirectory = "%s"\n\n' "$OUT/cache-$pass"; cat "$WORK/schemathesis.toml"; } >"$WORK/$pass.toml"
    local phases=()
    [ -n "$PHASES" ] && phases=(--phases "$PHASES")
    CBDC_FUZZ_AUTH=$pass CBDC_FUZZ_SECRETS=$KEYS/bank-a-gateway.json CBDC_FUZZ_LOG=$OUT/$pass.requests.jsonl \
    SCHEMATHESIS_HOOKS=$ROOT/scripts/fuzz_gateway_hooks.py \
        timeout --kill-after=10 "$PASS_TIMEOUT" \
        schemathesis --no-color --config-file "$WORK/$pass.toml" run "$GATEWAY/openapi.json" \
            --checks all --request-timeout 30 "${phases[@]}" \
            --max-examples "$MAX_EXAMPLES" --seed "$SEED" --workers 1 \
            --continue-on-failure --generation-database none \
            --report junit --report-junit-path "$OUT/$pass.junit.xml" \
            >"$OUT/$pass.txt" 2>&1 || rc=$?
    local result
    result=$(grep -E "^=+ .* in [0-9.]+s =+$" "$OUT/$pass.txt" | tail -1 | tr -d '=' | sed 's/^ *//; s/ *$//')
    [ "$rc" = 124 ] && result="killed after ${PASS_TIMEOUT}s"
    echo "fuzz-gateway: pass $pass: ${result:-no summary} (exit $rc, $((SECONDS - started)) s, $OUT/$pass.txt)" >&2
    return "$rc"
}

failed=0
# The main pass alone, the others (which the gateway refuses) side by side.
for pass in $PASSES; do
    [ "$pass" = role ] || continue
    run_pass role || failed=1
done
pids=()
for pass in $PASSES; do
    [ "$pass" = role ] || { run_pass "$pass" & pids+=("$!"); }
done
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done

if [ "$failed" != 0 ]; then
    echo "fuzz-gateway: failures found; the reports are in $OUT" >&2
    exit 1
fi
echo "fuzz-gateway: no failures" >&2
