#!/usr/bin/env bash
# The full journal audit (issue 9): replay, re-verification of every
# transaction and the comparison of every table, for journals of N real
# transfers, in batches (the default) and one by one (`--one-by-one`, the
# baseline), in the same run on the same database.
#
# For each size: a fresh PostgreSQL database, a ledger on it loaded by
# `cbdc bench` with N pre-built transfers (plus the fan-out transfers that
# make their inputs, all real: range proofs, kernels, owner signatures), the
# ledger stopped, then `cbdc audit` timed AUDIT_RUNS times each way; the
# audit's wall time and peak memory are printed.
#
# Settings (environment):
#   DATABASE_URL_BASE   server URL without a database   (postgres://postgres@127.0.0.1:5432)
#   AUDIT_SIZES         transfers per journal            ("10000 100000")
#   AUDIT_RUNS          timed audits per size and mode   (3)
#   BENCH_CLIENTS       clients loading the ledger       (64)
#   BENCH_PORT          the ledger's port                (7482)
#   CARGO_TARGET_DIR    where cargo builds               (target)
set -euo pipefail
cd "$(dirname "$0")/.."

BASE=${DATABASE_URL_BASE:-postgres://postgres@127.0.0.1:5432}
SIZES=${AUDIT_SIZES:-10000 100000}
RUNS=${AUDIT_RUNS:-3}
CLIENTS=${BENCH_CLIENTS:-64}
PORT=${BENCH_PORT:-7482}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
WORK=$(mktemp -d)
DB=""
SERVER_PID=""

cleanup() {
    stop_ledger >/dev/null 2>&1 || true
    if [ -n "$DB" ]; then
        psql -qX "$BASE/postgres" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# shellcheck source=scripts/bench-common.sh
. scripts/bench-common.sh

# One timed audit: prints "seconds peak_kb" from the audit's own timing line
# and /usr/bin/time's maximum resident set.
timed_audit() {
    local url=$1; shift
    local err
    err=$(/usr/bin/time -f 'peak_kb %M' "$CBDC" audit --database-url "$url" \
        --ledger-key "$WORK/ledger.json" "$@" 2>&1 >"$WORK/audit.out") || {
        echo "$err" >&2; return 1; }
    local seconds peak
    seconds=$(echo "$err" | sed -n 's/.*; \([0-9.]*\) s$/\1/p')
    peak=$(echo "$err" | sed -n 's/^peak_kb //p')
    echo "$seconds $peak"
}

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

print_machine
make_keys
for n in $SIZES; do
    DB="cbdc_bench_audit_$n"
    psql -qX "$BASE/postgres" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
    psql -qX "$BASE/postgres" -c "CREATE DATABASE $DB" >/dev/null
    url="$BASE/$DB"
    echo "## journal of $n transfers"
    start_ledger "$url"
    run_bench "$CLIENTS" "$n" | tail -n 5
    stop_ledger >/dev/null
    psql -qX "$url" -c "VACUUM ANALYZE" >/dev/null
    "$CBDC" audit --database-url "$url" --ledger-key "$WORK/ledger.json" 2>/dev/null
    for mode in batch one-by-one; do
        flag=()
        [ "$mode" = one-by-one ] && flag=(--one-by-one)
        : >"$WORK/times"
        for _ in $(seq "$RUNS"); do
            timed_audit "$url" "${flag[@]}" >>"$WORK/times"
        done
        echo "audit ($mode), $RUNS runs: seconds $(cut -d' ' -f1 "$WORK/times" | tr '\n' ' ')" \
            "median $(cut -d' ' -f1 "$WORK/times" | median) s;" \
            "peak memory $(cut -d' ' -f2 "$WORK/times" | sort -n | tail -n 1) KB"
    done
    psql -qX "$BASE/postgres" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
    DB=""
    echo
done
