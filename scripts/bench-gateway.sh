#!/usr/bin/env bash
# Benchmarks a bank's gateway on PostgreSQL: customers' payments through its
# internal API onto a real ledger, next to the proving ceiling measured in the
# same run.
#
# Creates two fresh databases (the ledger's and the bank's), generates the
# ledger's block key, two officers (threshold 2) and the bank's wallet keys
# with `cbdc keygen`, starts `cbdc ledger serve` (release build), admits the
# bank (`cbdc bank admit`), issues it a float through maker–checker
# (`cbdc issue propose` and two approvals), then for each replica count
# starts that many `cbdc gateway serve` replicas of the bank on the one
# gateway database and runs `cbdc bench --target gateway` with 1, 16 and 64
# clients. Each `cbdc bench` run first builds BASELINE transfers with the
# core's build_transfer on all cores (nothing else running) and reports the
# payments per second as a share of that rate. Stops everything and drops the
# databases. Everything it prints goes to stdout; progress and logs to stderr.
#
# Settings (environment):
#   DATABASE_URL_BASE  server URL without a database  (postgres://postgres@127.0.0.1:5432)
#   BENCH_CLIENTS      client counts, in order         ("1 16 64")
#   BENCH_REPLICAS     gateway replica counts          ("1 2")
#   BENCH_N1           payments with 1 client          (300)
#   BENCH_N            payments with more clients      (2000)
#   BENCH_BASELINE     transfers the baseline builds   (1000)
#   BENCH_PORT         the ledger's port; gateways take the next ones (7480)
#   CARGO_TARGET_DIR   where cargo builds              (target)
#   BENCH_LOGS         a directory to keep the services' logs in (none)
#   CBDC_BIN           a cbdc binary to use instead of building one
set -euo pipefail
cd "$(dirname "$0")/.."

BASE=${DATABASE_URL_BASE:-postgres://postgres@127.0.0.1:5432}
CLIENT_COUNTS=${BENCH_CLIENTS:-"1 16 64"}
REPLICA_COUNTS=${BENCH_REPLICAS:-"1 2"}
N1=${BENCH_N1:-300}
N=${BENCH_N:-2000}
BASELINE=${BENCH_BASELINE:-1000}
PORT=${BENCH_PORT:-7480}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
DB="cbdc_bench_$$"
GWDB="cbdc_bench_gateway_$$"
WORK=$(mktemp -d)
SERVER_PID=""
GATEWAY_PIDS=()
BANK_ID=bench-bank
INTERNAL_TOKEN="bench-internal-token-$$"
OPERATOR_TOKEN="bench-operator-token-$$"

stop_gateways() {
    for pid in "${GATEWAY_PIDS[@]}"; do
        grep -E '^VmHWM' "/proc/$pid/status" 2>/dev/null | sed "s/^VmHWM/gateway $pid peak resident (VmHWM)/" || true
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    GATEWAY_PIDS=()
}

cleanup() {
    stop_gateways >/dev/null 2>&1 || true
    if [ -n "${BENCH_LOGS:-}" ]; then mkdir -p "$BENCH_LOGS" && cp "$WORK"/*.log "$BENCH_LOGS"/ 2>/dev/null || true; fi
    stop_ledger >/dev/null 2>&1 || true
    psql -qX "$BASE/postgres" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
    psql -qX "$BASE/postgres" -c "DROP DATABASE IF EXISTS $GWDB WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# shellcheck source=scripts/bench-common.sh
. scripts/bench-common.sh
print_machine
make_keys
psql -qX "$BASE/postgres" -c "CREATE DATABASE $DB" >/dev/null
psql -qX "$BASE/postgres" -c "CREATE DATABASE $GWDB" >/dev/null
start_ledger "$BASE/$DB"

# The bank, admitted and given a float large enough for every run
# (each payment is at most 100 minor units).
"$CBDC" bank --ledger "$LEDGER_URL" --key "$WORK/officer-1.json" admit \
    --id "$BANK_ID" --name "Benchmark bank" --wallet-file "$WORK/bank.json" >&2
FLOAT=100000000
proposal=$("$CBDC" issue --ledger "$LEDGER_URL" --key "$WORK/officer-1.json" \
    propose --bank "$BANK_ID" --amount "$FLOAT" |
    sed -n 's/^  "id": "\([0-9a-f]*\)".*/\1/p' | head -n 1)
[ -n "$proposal" ] || { echo "no proposal id in cbdc issue propose's answer" >&2; exit 2; }
for officer in officer-1 officer-2; do
    "$CBDC" issue --ledger "$LEDGER_URL" --key "$WORK/$officer.json" \
        approve --proposal "$proposal" >/dev/null
done

# The float policy is off (0, 0): the benchmark must not propose or redeem.
cat >"$WORK/gateway.toml" <<EOF
bank_id = "$BANK_ID"
bank_keys = "$WORK/bank.json"
ledger_url = "$LEDGER_URL"
database_url = "$BASE/$GWDB"
kek = "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
kek_id = "bench"
operator_tokens = ["$OPERATOR_TOKEN"]
internal_tokens = ["$INTERNAL_TOKEN"]

[float]
low = 0
high = 0
target = 0
EOF

# Starts replica $1 (1-based) on port PORT+$1 and waits until it is ready.
start_gateway() {
    local i=$1 port=$((PORT + $1))
    "$CBDC" gateway serve --config "$WORK/gateway.toml" \
        --listen "127.0.0.1:$port" --replica "gateway-$i" \
        2>"$WORK/gateway-$i.log" &
    local pid=$!
    GATEWAY_PIDS+=("$pid")
    for _ in $(seq 300); do
        curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && return 0
        kill -0 "$pid" 2>/dev/null || { cat "$WORK/gateway-$i.log" >&2; return 1; }
        sleep 0.1
    done
    echo "gateway $i did not answer on port $port" >&2
    return 1
}

for replicas in $REPLICA_COUNTS; do
    gateways=()
    for i in $(seq 1 "$replicas"); do
        start_gateway "$i"
        gateways+=(--gateway "http://127.0.0.1:$((PORT + i))")
    done
    # The follower credits the issued float from the ledger's feed.
    for _ in $(seq 300); do
        curl -fsS -H "Authorization: Bearer $OPERATOR_TOKEN" "http://127.0.0.1:$((PORT + 1))/v1/operator/float" |
            grep -q '"balance":[1-9]' && break
        sleep 0.1
    done
    for clients in $CLIENT_COUNTS; do
        n=$N
        [ "$clients" = 1 ] && n=$N1
        echo "## cbdc bench --target gateway: $replicas replica(s), $clients client(s), $n payments"
        echo "load before: $(load_average)"
        echo "\$ cbdc bench --target gateway --ledger $LEDGER_URL ${gateways[*]} --internal-token … --operator-token … --transactions $n --clients $clients --baseline $BASELINE"
        "$CBDC" bench --target gateway --ledger "$LEDGER_URL" "${gateways[@]}" \
            --internal-token "$INTERNAL_TOKEN" --operator-token "$OPERATOR_TOKEN" \
            --transactions "$n" --clients "$clients" --baseline "$BASELINE"
        echo "load after: $(load_average)"
        echo
    done
    echo "## gateway memory ($replicas replica(s))"
    stop_gateways
    echo
done

echo "## ledger /metrics at the end"
curl -fsS "$LEDGER_URL/metrics" | grep -E '^cbdc_ledger_transactions_(accepted|rejected)_total' | grep -v ' 0$' || true
stop_ledger
