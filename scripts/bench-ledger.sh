#!/usr/bin/env bash
# Benchmarks the ledger service on PostgreSQL, next to a plain-SQL baseline.
#
# Creates a fresh database, generates officer, bank and block keys with
# `cbdc keygen`, starts `cbdc ledger serve` (release build) with two officers
# (threshold 2), runs `cbdc bench` with 1, 16 and 64 clients, reports the
# server's peak memory, stops it and drops the database. Then runs the same
# kind of transfer as plain SQL with pgbench (scripts/pgbench-utxo*.sql) on a
# second fresh database, with the same client counts. Everything it prints
# goes to stdout; progress and logs to stderr.
#
# Settings (environment):
#   DATABASE_URL_BASE  server URL without a database  (postgres://postgres@127.0.0.1:5432)
#   BENCH_CLIENTS      client counts, in order         ("1 16 64")
#   BENCH_N1           transactions with 1 client      (2000)
#   BENCH_N            transactions with more clients  (10000)
#   BENCH_PORT         the ledger's port               (7480)
#   PGBENCH_SECONDS    duration of each pgbench run    (20)
#   CARGO_TARGET_DIR   where cargo builds              (target)
set -euo pipefail
cd "$(dirname "$0")/.."

BASE=${DATABASE_URL_BASE:-postgres://postgres@127.0.0.1:5432}
CLIENT_COUNTS=${BENCH_CLIENTS:-"1 16 64"}
N1=${BENCH_N1:-2000}
N=${BENCH_N:-10000}
PORT=${BENCH_PORT:-7480}
PGBENCH_SECONDS=${PGBENCH_SECONDS:-20}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
DB="cbdc_bench_$$"
PGDB="cbdc_bench_sql_$$"
WORK=$(mktemp -d)
SERVER_PID=""

cleanup() {
    stop_ledger >/dev/null 2>&1 || true
    psql -qX "$BASE/postgres" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
    psql -qX "$BASE/postgres" -c "DROP DATABASE IF EXISTS $PGDB WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# shellcheck source=scripts/bench-common.sh
. scripts/bench-common.sh
print_machine
make_keys
psql -qX "$BASE/postgres" -c "CREATE DATABASE $DB" >/dev/null
start_ledger "$BASE/$DB"

bench() {
    local clients=$1 n=$2
    echo "## cbdc bench: $clients client(s), $n transactions"
    echo "load before: $(load_average)"
    local before after
    before=$(pg_counters)
    run_bench "$clients" "$n"
    after=$(pg_counters)
    # Setup (fan-out) transfers count too: about n + n/15 in all.
    pg_report "$before" "$after" "$n"
    echo "load after: $(load_average)"
    echo
}
for clients in $CLIENT_COUNTS; do
    if [ "$clients" = 1 ]; then bench 1 "$N1"; else bench "$clients" "$N"; fi
done

echo "## ledger /metrics at the end (setup and all runs)"
curl -fsS "$LEDGER_URL/metrics" | grep -E '^cbdc_ledger_(verify_seconds|commit_seconds|batch_size)_(sum|count)|^cbdc_ledger_transactions_(accepted|rejected)_total'
echo
echo "## ledger process memory at the end"
stop_ledger
echo

psql -qX "$BASE/postgres" -c "DROP DATABASE $DB WITH (FORCE)" >/dev/null

# Enough notes for both runs at well over the rate measured here.
NOTES=$((PGBENCH_SECONDS * 20000))
psql -qX "$BASE/postgres" -c "CREATE DATABASE $PGDB" >/dev/null
psql -qX "$BASE/$PGDB" -v ON_ERROR_STOP=1 -v notes="$NOTES" -f scripts/pgbench-utxo-init.sql >/dev/null
for clients in $CLIENT_COUNTS; do
    # PostgreSQL's default max_connections is 100: pgbench holds one per client.
    if [ "$clients" -gt 90 ]; then
        echo "## pgbench: $clients clients exceed PostgreSQL's connection limit; skipped"
        echo
        continue
    fi
    jobs=$((clients < $(nproc) ? clients : $(nproc)))
    echo "## pgbench plain-SQL UTXO transfer: $clients client(s), ${PGBENCH_SECONDS} s"
    echo "load before: $(load_average)"
    echo "\$ pgbench -n -f scripts/pgbench-utxo.sql -c $clients -j $jobs -T $PGBENCH_SECONDS"
    rm -f "$WORK"/pgbench_log.*
    (cd "$WORK" && pgbench -n -f "$OLDPWD/scripts/pgbench-utxo.sql" -c "$clients" -j "$jobs" \
        -T "$PGBENCH_SECONDS" -l --log-prefix=pgbench_log "$BASE/$PGDB" 2>&1) |
        grep -E 'processed|failed|latency|^tps'
    # Per-transaction log: the third field is the latency in microseconds.
    cat "$WORK"/pgbench_log.* | awk '{print $3}' | sort -n | awk '
        { v[NR] = $1 }
        END { printf "latency ms: p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n",
              v[int(NR*0.50)+1]/1000, v[int(NR*0.90)+1]/1000, v[int(NR*0.99)+1]/1000, v[NR]/1000 }'
    echo
done
echo "## plain-SQL check: spent notes = transactions, value conserved"
psql -qXAt "$BASE/$PGDB" -c "SELECT (SELECT count(*) FROM utxo_transactions) AS transactions,
    count(*) FILTER (WHERE spent_by IS NOT NULL) AS spent,
    sum(amount) FILTER (WHERE spent_by IS NULL) = $NOTES * 1000 AS conserved FROM utxo_notes"
