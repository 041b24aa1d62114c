#!/usr/bin/env bash
# Fuzzes every operation of the wallet API against its OpenAPI document with
# schemathesis, with an app key, wallet tokens and an operator token.
#
# Starts a devnet (`cbdc devnet`: the ledger and the gateways of bank-a and
# bank-b, embedded databases) in a temporary directory on free ports of
# 127.0.0.1, then a wallet API of its own in front of those two gateways
# (`cbdc wallet-api serve --config FILE`, on a SQLite file, or on
# FUZZ_WALLET_API_DATABASE_URL) with rate limits high enough that the fuzzer
# is not simply answered 429, and registers its app with `cbdc wallet-api app
# add`. Through that wallet API it makes real objects: wallets at both banks
# (the payer's funded from a deposit account its bank's operator opens and
# links), payments to the same bank and to the other, a fund and a defund,
# payment requests paid, open and cancelled. Then it runs schemathesis on the
# wallet API's /openapi.json in three passes:
#   role     every check, with the right credentials per route: the app key
#            (X-Cbdc-App-Key) on every /v1 route but the operator's, and on
#            the routes of a wallet (/v1/wallets/{wallet_id}/…) also the
#            token of the wallet in the path (the payer's when the path names
#            a wallet it does not know); the operator token on /v1/operator/…
#            (the main pass)
#   none     no credentials: every /v1 route must refuse (401)
#   swapped  real credentials in the wrong place: the key of a revoked app on
#            the app routes (401), another wallet's token on a wallet's
#            routes (403 wrong_wallet), a wallet token as the operator token
#            (401): no /v1 route may answer 2xx
# The credentials are put on each request by scripts/fuzz_wallet_api_hooks.py
# from a secrets file this script writes. Stops everything and removes its
# directory; exits 1 if any pass found a failure, 2 on a setup error. Needs
# `pip install schemathesis` (4.x), python3 and curl.
#
# What is configured and why (the report of each pass says what it found):
#   - positive_data_acceptance also takes 401 and 403 (the none and swapped
#     passes are refused everywhere, as documented; in the role pass a
#     generated wallet id is not the token's wallet: 403 wrong_wallet), 404
#     (an id the document admits need not exist, nor a bank), 409 (a reused
#     Idempotency-Key, a request not open any more) and 422 (a schema-valid
#     request refused for a documented rule: a limit, funds, no linked
#     account) everywhere; 5xx is left to not_a_server_error.
#   - it also takes 400 on POST /v1/wallets/{wallet_id}/payments only: `to`
#     is a bech32m address and `uri` a `cbdc:` URI, whose checksums and
#     grammar JSON Schema cannot express, and the body is "exactly one of"
#     three shapes. The hooks' check `cbdc_wallet_api_valid_input_understood`
#     keeps that route honest: a schema-valid payment refused with 400 for
#     anything but those (for its JSON, say, or its Idempotency-Key) is a
#     failure.
#   - known ids (the wallets, payments, payment requests and their URIs, the
#     payees' addresses) are mixed into path and body values with
#     probability 0.5, so the 200 answers of the routes that take ids are
#     checked against their schemas too. What the fuzzer may revoke is kept
#     apart: DELETE …/token and the operator's revoke-tokens get wallets of
#     their own, the operator's app revoke a second app (and the hooks send
#     a revocation of the pass's own app or wallets, whose ids schemathesis
#     also learns from the answers, for those instead), so that the role
#     pass keeps its credentials to the end.
#   - --request-timeout 30: a payment waits for the ledger's receipt; on a
#     loaded machine a debug build may take seconds.
#   - GET …/events is a stream that does not end: --request-timeout would
#     cut every case of it that is let in, so the role pass leaves it out
#     (wallet-api/tests/http.rs reads its first events instead); the none
#     and swapped passes keep it, as it must refuse them at once.
#
# Settings (environment): those of scripts/fuzz-common.sh, and
#   FUZZ_PASSES                  ("role none swapped")
#   FUZZ_OUT                     (target/fuzz-wallet-api)
#   FUZZ_WALLET_API_DATABASE_URL the wallet API's database (a SQLite file in
#                                the temporary directory)
set -euo pipefail
. "$(dirname "$0")/fuzz-common.sh"
fuzz_init fuzz-wallet-api "role none swapped" "role none swapped" target/fuzz-wallet-api
fuzz_tools
fuzz_cbdc_bin
fuzz_devnet
BANK_A=$(fuzz_gateway_url bank-a)
BANK_B=$(fuzz_gateway_url bank-b)
[ -n "$BANK_A" ] && [ -n "$BANK_B" ] || { tail -20 "$DEVNET_LOG" >&2; die "the devnet printed no gateway URLs on 127.0.0.1"; }

# The wallet API under test, in front of both gateways.
OPERATOR_TOKEN=fuzz-operator-$(python3 -c 'import secrets; print(secrets.token_hex(16))')
python3 - "$KEYS" "$BANK_A" "$BANK_B" "${FUZZ_WALLET_API_DATABASE_URL:-$WORK/wallet-api.sqlite}" "$OPERATOR_TOKEN" >"$WORK/wallet-api.toml" <<'PY' || die "cannot write the wallet API's configuration"
import json, sys
keys, bank_a, bank_b, database, operator = sys.argv[1:6]
print('listen = "127.0.0.1:0"')
print(f"database_url = {json.dumps(database)}")
print(f"operator_tokens = [{json.dumps(operator)}]")
print('replica = "fuzz-wallet-api"')
print("poll_interval_ms = 100")
for bank, name, url in (("bank-a", "Bank A", bank_a), ("bank-b", "Bank B", bank_b)):
    token = json.load(open(f"{keys}/{bank}-gateway.json", encoding="utf-8"))["internal_token"]
    print(f'\n[[banks]]\nid = "{bank}"\nname = "{name}"\nurl = "{url}"\ninternal_token = {json.dumps(token)}')
for scope in ("app_rate", "token_rate"):
    print(f"\n[{scope}]\nper_second = 100000\nburst = 100000")
PY
fuzz_background env -u DATABASE_URL "$CBDC_BIN" wallet-api serve --config "$WORK/wallet-api.toml" >"$WORK/wallet-api.log" 2>&1
fuzz_wait_for_line "${FUZZ_PIDS[0]}" "$WORK/wallet-api.log" "^wallet API listening on " 120
WALLET_API=$(sed -n 's|^wallet API listening on \(http://[0-9.:]*\)$|\1|p' "$WORK/wallet-api.log" | head -1)
curl -fsS "$WALLET_API/readyz" >/dev/null || die "$WALLET_API/readyz does not answer"
app_add() {
    "$CBDC_BIN" wallet-api app add --url "$WALLET_API" --token "$OPERATOR_TOKEN" --name "$1" >"$WORK/$2.json" \
        || die "cbdc wallet-api app add --name '$1' failed"
}
app_add "fuzz app" app
app_add "fuzz app to revoke" revoked-app
echo "fuzz-wallet-api: fuzzing the wallet API at $WALLET_API" >&2

# Known objects, for the dictionaries of the schemathesis configuration; the
# credentials, for the hooks.
SECRETS=$WORK/fuzz-secrets.json
python3 - "$WALLET_API" "$OPERATOR_TOKEN" "$WORK/app.json" "$WORK/revoked-app.json" "$BANK_A" "$KEYS/bank-a-gateway.json" "$SECRETS" >"$WORK/schemathesis.toml" <<'PY' || die "the setup failed"
import json, sys, time
sys.path.insert(0, "scripts")
from fuzz_common import acceptance, operation, values
import fuzz_common

api, operator_token, app_file, revoked_file, bank_a, bank_a_secrets, secrets_out = sys.argv[1:8]
app_key = json.load(open(app_file, encoding="utf-8"))["app_key"]
revoked = json.load(open(revoked_file, encoding="utf-8"))
bank_a_operator = json.load(open(bank_a_secrets, encoding="utf-8"))["operator_token"]

def wallet_api(method, path, body=None, token=None, key=None, ok=(200, 201)):
    headers = {"X-Cbdc-App-Key": app_key}
    if token is not None:
        headers.update(fuzz_common.bearer(token))
    if key is not None:
        headers["Idempotency-Key"] = key
    return fuzz_common.call(api, method, path, body, headers, ok)

def open_wallet(bank, phone):
    return wallet_api("POST", "/v1/wallets", {"bank": bank, "phone": phone})

payer = open_wallet("bank-a", "+15550200001")
payee = open_wallet("bank-a", "+15550200002")
elsewhere = open_wallet("bank-b", "+15550200003")
outsider = open_wallet("bank-a", "+15550200004")  # its token goes where it does not belong (swapped)
to_drop = open_wallet("bank-a", "+15550200005")  # DELETE …/token revokes its token
to_revoke = open_wallet("bank-a", "+15550200006")  # the operator's revoke-tokens
fuzz_common.call(api, "POST", f"/v1/operator/apps/{revoked['app_id']}/revoke", headers=fuzz_common.bearer(operator_token))

# The payer's bank links it a deposit account with cash (an operator's job).
def bank(method, path, body=None):
    return fuzz_common.call(bank_a, method, path, body, fuzz_common.bearer(bank_a_operator))

customer = bank("GET", f"/v1/operator/customers/by-address?address={payer['address']}")
customer_id = customer["customer"]["customer_id"]
account = bank("POST", f"/v1/operator/customers/{customer_id}/accounts")["account_id"]
bank("POST", f"/v1/operator/accounts/{account}/deposits", {"amount": 1_000_000, "reference": "fuzz-cash-1"})
bank("POST", f"/v1/operator/wallets/{customer['wallets'][0]['wallet_id']}/link", {"account_id": account})

w, t = payer["wallet_id"], payer["token"]
payments = [
    wallet_api("POST", f"/v1/wallets/{w}/fund", {"amount": 500_000}, t, "fuzz-fund-1")["payment_id"],
    wallet_api("POST", f"/v1/wallets/{w}/payments", {"to": payee["address"], "amount": 10_000}, t, "fuzz-pay-1")["payment_id"],
    wallet_api("POST", f"/v1/wallets/{w}/payments", {"to": elsewhere["address"], "amount": 10_000}, t, "fuzz-pay-2")["payment_id"],
    wallet_api("POST", f"/v1/wallets/{w}/defund", {"amount": 1_000}, t, "fuzz-defund-1")["payment_id"],
]
# Payment requests of the payee: one paid by the payer, one cancelled, two open.
def new_request(amount, reference):
    return wallet_api("POST", f"/v1/wallets/{payee['wallet_id']}/requests", {"amount": amount, "reference": reference}, payee["token"])

paid = new_request(2_000, "fuzz paid")
paying = wallet_api("POST", f"/v1/wallets/{w}/payments", {"request_id": paid["request_id"]}, t, "fuzz-pay-3")
payments.append(paying["payment_id"])
cancelled = new_request(3_000, "fuzz cancelled")
wallet_api("POST", f"/v1/wallets/{payee['wallet_id']}/requests/{cancelled['request_id']}/cancel", token=payee["token"])
open_requests = [new_request(1_000, "fuzz open 1"), new_request(4_000, "fuzz open 2")]
deadline = time.monotonic() + 30
while wallet_api("GET", f"/v1/requests/{paid['request_id']}")["state"] != "paid":
    if time.monotonic() > deadline:
        sys.exit("setup: the paid payment request was not paid within 30 s")
    time.sleep(0.2)

json.dump(
    {
        "app_key": app_key,
        "revoked_app_key": revoked["app_key"],
        "revoked_app_id": revoked["app_id"],
        "operator_token": operator_token,
        "payer": w,
        "tokens": {x["wallet_id"]: x["token"] for x in (payer, payee, elsewhere)},
        "outsider_wallet": outsider["wallet_id"],
        "outsider_token": outsider["token"],
        "to_drop": [to_drop["wallet_id"], to_drop["token"]],
        "to_revoke": to_revoke["wallet_id"],
    },
    open(secrets_out, "w", encoding="utf-8"),
)

acceptance(["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"])
requests = [paid, cancelled, *open_requests]
values("wallet_ids", [payer["wallet_id"], payee["wallet_id"], elsewhere["wallet_id"]])
values("payment_ids", payments)
values("addresses", [payee["address"], elsewhere["address"]])
values("request_ids", [r["request_id"] for r in requests])
values("uris", [r["uri"] for r in open_requests])
values("banks", ["bank-a", "bank-b"])
values("to_drop", [to_drop["wallet_id"]])
values("to_revoke", [to_revoke["wallet_id"]])
values("app_ids", [revoked["app_id"]])
wallet = {"path.wallet_id": "wallet_ids"}
operation(["POST /v1/wallets"], {"body.bank": "banks"})
operation(
    ["GET /v1/wallets/{wallet_id}", "GET /v1/wallets/{wallet_id}/history", "GET /v1/wallets/{wallet_id}/requests",
     "POST /v1/wallets/{wallet_id}/fund", "POST /v1/wallets/{wallet_id}/defund", "POST /v1/wallets/{wallet_id}/requests"],
    wallet,
)
operation(
    ["POST /v1/wallets/{wallet_id}/payments"],
    {**wallet, "body.to": "addresses", "body.request_id": "request_ids", "body.uri": "uris"},
    ["2xx", "3xx", "400", "401", "403", "404", "409", "422", "429", "5xx"],
)
operation(["GET /v1/wallets/{wallet_id}/payments/{payment_id}"], {**wallet, "path.payment_id": "payment_ids"})
operation(["POST /v1/wallets/{wallet_id}/requests/{request_id}/cancel"], {**wallet, "path.request_id": "request_ids"})
operation(
    ["GET /v1/requests/{request_id}", "GET /v1/requests/{request_id}/qr.png", "GET /v1/requests/{request_id}/qr.svg"],
    {"path.request_id": "request_ids"},
)
operation(["DELETE /v1/wallets/{wallet_id}/token"], {"path.wallet_id": "to_drop"})
operation(["POST /v1/operator/wallets/{wallet_id}/revoke-tokens"], {"path.wallet_id": "to_revoke"})
operation(["POST /v1/operator/apps/{app_id}/revoke"], {"path.app_id": "app_ids"})
PY

FUZZ_URL=$WALLET_API/openapi.json
FUZZ_HOOKS=$ROOT/scripts/fuzz_wallet_api_hooks.py
FUZZ_ENV=(CBDC_FUZZ_SECRETS="$SECRETS")
FUZZ_ARGS=(--request-timeout 30)
# The stream of a wallet's events does not end (see above): the role pass, whose
# requests are let in, leaves it out; the others must be refused at once.
FUZZ_ROLE_ARGS=(--exclude-name "GET /v1/wallets/{wallet_id}/events")
fuzz_passes
