#!/usr/bin/env bash
# Scale benchmark (issue 4): the ledger with 10^4, 10^5 and 10^6 unspent notes.
#
# For each size: creates a fresh PostgreSQL database, adds that many filler
# notes with `cbdc seed` (commitments to zero, balanced, without proofs: see
# ledger/service/src/store/seed.rs; `cbdc audit` refuses such a database, the
# supply-only audit passes), times the live supply audit
# (`cbdc audit --supply-only`) AUDIT_RUNS times and reports the median and the
# audit's peak memory, then runs `cbdc bench` against the ledger on it (`throughput_at_size`,
# below) and drops the database. Everything it prints goes to stdout; progress
# and logs to stderr.
#
# Settings (environment):
#   DATABASE_URL_BASE   server URL without a database   (postgres://postgres@127.0.0.1:5432)
#   SCALE_SIZES         unspent notes per run            ("10000 100000 1000000")
#   SCALE_NOTES_PER_TX  filler notes per kernel, 1..256  (256)
#   AUDIT_RUNS          timed audits per size            (5)
#   SCALE_THROUGHPUT    0: skip the throughput run at each size       (1)
#   SCALE_TRANSACTIONS  transfers per throughput run      (5000)
#   SCALE_CLIENTS       clients per throughput run        (64)
#   BENCH_PORT          the ledger's port                (7481)
#   CARGO_TARGET_DIR    where cargo builds               (target)
set -euo pipefail
cd "$(dirname "$0")/.."

BASE=${DATABASE_URL_BASE:-postgres://postgres@127.0.0.1:5432}
SIZES=${SCALE_SIZES:-10000 100000 1000000}
PER_TX=${SCALE_NOTES_PER_TX:-256}
RUNS=${AUDIT_RUNS:-5}
SCALE_TRANSACTIONS=${SCALE_TRANSACTIONS:-5000}
SCALE_CLIENTS=${SCALE_CLIENTS:-64}
PORT=${BENCH_PORT:-7481}
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
if ! "$CBDC" seed --help >/dev/null 2>&1; then
    echo "this cbdc has no 'seed' subcommand" >&2
    exit 1
fi
print_machine
make_keys

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# ---- throughput at each size --------------------------------------------------
# Starts the ledger on the seeded database (with the key that signed the
# filler's blocks), runs `cbdc bench` with SCALE_CLIENTS clients and
# SCALE_TRANSACTIONS transfers as scripts/bench-ledger.sh does, and reports the
# ledger's peak memory under that load. Issue 4 asks for the throughput at 10^5
# and 10^6 notes to be within 20 % of the 10^4 figure.
throughput_at_size() {
    local notes=$1 url=$2
    if [ "${SCALE_THROUGHPUT:-1}" != 1 ]; then
        echo "throughput: skipped (SCALE_THROUGHPUT=0)"
        return
    fi
    start_ledger "$url"
    echo "($notes filler notes)"
    run_bench "$SCALE_CLIENTS" "$SCALE_TRANSACTIONS"
    stop_ledger
}
# -----------------------------------------------------------------------------

for notes in $SIZES; do
    DB="cbdc_scale_$$_$notes"
    url="$BASE/$DB"
    echo "## $notes unspent notes ($PER_TX per kernel)"
    psql -qX "$BASE/postgres" -c "CREATE DATABASE $DB" >/dev/null
    echo "load before: $(load_average)"
    echo "\$ cbdc seed --yes --notes $notes --notes-per-transaction $PER_TX"
    "$CBDC" seed --yes --database-url "$url" --block-key "$WORK/ledger.json" \
        --notes "$notes" --notes-per-transaction "$PER_TX"
    echo "\$ cbdc audit --supply-only   ($RUNS runs)"
    : >"$WORK/audit-times"
    : >"$WORK/audit-peaks"
    for _ in $(seq "$RUNS"); do
        # `cbdc audit --supply-only` prints "...; <seconds> s" (the audit alone,
        # without opening the store); GNU time adds the process's peak RSS.
        line=$(/usr/bin/time -f 'peak_kb %M' -o "$WORK/time" \
            "$CBDC" audit --database-url "$url" --supply-only)
        echo "$line"
        echo "$line" | sed -n 's/.*; \([0-9.]*\) s$/\1/p' >>"$WORK/audit-times"
        sed -n 's/^peak_kb //p' "$WORK/time" >>"$WORK/audit-peaks"
    done
    echo "supply audit, median of $RUNS: $(median <"$WORK/audit-times") s;" \
        "peak memory $(sort -n "$WORK/audit-peaks" | tail -1 | awk '{ printf "%.0f MB", $1 / 1024 }')"
    echo "load after: $(load_average)"
    throughput_at_size "$notes" "$url"
    psql -qX "$BASE/postgres" -c "DROP DATABASE $DB WITH (FORCE)" >/dev/null
    DB=""
    echo
done
