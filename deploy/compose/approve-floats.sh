#!/bin/sh
# The compose trial's one-shot `approve-floats`, once both gateways are ready.
#
# A gateway whose float is below its `float.low` asks the central bank for
# `target - float` by itself: an issuance proposal, which the gateway shows as
# `open_proposal` at GET /v1/operator/float. Two officers must approve it
# (threshold 2). This script waits for each bank's proposal and approves it as
# officer 1 and officer 2 — in production two officers do so, each from the
# officer's own machine, after `cbdc issue show` — then waits until the
# gateway has credited its float. A bank whose float is already there is left
# alone, so running this again changes nothing.
set -eu

keys=${CBDC_KEYS_DIR:-/var/lib/cbdc/keys}
ledger=${CBDC_LEDGER_URL:-http://ledger:7400}

float_of() {
  curl -fsS -H "Authorization: Bearer $2" "$1/v1/operator/float"
}

field() {
  # A field of the gateway's (compact) JSON answer: a number or a string.
  sed -n "s/.*\"$1\":\"\{0,1\}\([0-9a-f]*\)\"\{0,1\}[,}].*/\1/p"
}

approve() {
  bank=$1
  url=$2
  token=$3
  approved=""
  tries=0
  while :; do
    answer=$(float_of "$url" "$token") || answer=""
    balance=$(printf '%s' "$answer" | field balance)
    proposal=$(printf '%s' "$answer" | field open_proposal)
    if [ "${balance:-0}" -gt 0 ]; then
      echo "approve-floats: $bank's float is $balance minor units"
      return 0
    fi
    if [ -n "$proposal" ] && [ "$proposal" != "$approved" ]; then
      echo "approve-floats: $bank asks for its float: proposal $proposal"
      cbdc issue show --ledger "$ledger" --key "$keys/officers/officer-1.json" --proposal "$proposal"
      for officer in officer-1 officer-2; do
        # After an interrupted run officer 1's approval is there already
        # (409 duplicate_approval): go on to officer 2.
        cbdc issue approve --ledger "$ledger" --key "$keys/officers/$officer.json" --proposal "$proposal" \
          || echo "approve-floats: $officer did not approve (above); going on"
      done
      approved=$proposal
    fi
    tries=$((tries + 1))
    if [ "$tries" -gt 120 ]; then
      echo "approve-floats: $bank's float did not arrive within 120 s" >&2
      return 1
    fi
    sleep 1
  done
}

approve bank-a "${GATEWAY_A_URL:-http://gateway-a:7500}" "$BANK_A_OPERATOR_TOKEN"
approve bank-b "${GATEWAY_B_URL:-http://gateway-b:7500}" "$BANK_B_OPERATOR_TOKEN"
