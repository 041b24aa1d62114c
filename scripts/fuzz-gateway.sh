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
# What it shares with fuzz-api.sh and fuzz-wallet-api.sh (the settings, the
# devnet, running the passes) is scripts/fuzz-common.sh and fuzz_common.py.
set -euo pipefail
. "$(dirname "$0")/fuzz-common.sh"
fuzz_init fuzz-gateway "role none swapped" "role none swapped" target/fuzz-gateway
fuzz_tools
fuzz_cbdc_bin

# The ledger on a free port; the devnet puts the gateways on the two after it,
# or on ephemeral ports when those are taken, and prints where.
fuzz_devnet
GATEWAY=$(fuzz_gateway_url bank-a)
OTHER=$(fuzz_gateway_url bank-b)
[ -n "$GATEWAY" ] && [ -n "$OTHER" ] || { tail -20 "$DEVNET_LOG" >&2; die "the devnet printed no gateway URLs on 127.0.0.1"; }
curl -fsS "$GATEWAY/readyz" >/dev/null || die "$GATEWAY/readyz does not answer"
echo "fuzz-gateway: fuzzing bank-a's gateway at $GATEWAY" >&2

# Known objects, for the dictionaries of the schemathesis configuration.
python3 - "$GATEWAY" "$KEYS/bank-a-gateway.json" "$OTHER" "$KEYS/bank-b-gateway.json" >"$WORK/schemathesis.toml" <<'PY' || die "the setup failed"
import json, sys, time
sys.path.insert(0, "scripts")
from fuzz_common import acceptance, operation, values
import fuzz_common

gateway, secrets, other, other_secrets = sys.argv[1:5]
tokens = json.load(open(secrets, encoding="utf-8"))
other_tokens = json.load(open(other_secrets, encoding="utf-8"))

def call(base, token, method, path, body=None, key=None):
    headers = fuzz_common.bearer(token)
    if key is not None:
        headers["Idempotency-Key"] = key
    return fuzz_common.call(base, method, path, body, headers)

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

acceptance(["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"])
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

FUZZ_URL=$GATEWAY/openapi.json
FUZZ_HOOKS=$ROOT/scripts/fuzz_gateway_hooks.py
FUZZ_ENV=(CBDC_FUZZ_SECRETS="$KEYS/bank-a-gateway.json")
FUZZ_ARGS=(--request-timeout 30)
fuzz_passes
