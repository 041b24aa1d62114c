#!/usr/bin/env bash
# Reproduces every figure of BENCHMARKS.md's throughput report (issue 4) in
# one run, each comparison measured side by side on this machine:
#
#   1. verification of 64 transfers: `verify` one by one (the baseline, with
#      bulletproofs' own range proof check inside) against `verify_batch`
#      (criterion, ledger/core/benches/core.rs);
#      and what a batch costs per transfer at 1, 4, 16, 64 and 256 transfers;
#   2. transfers/s and latency end to end through the ledger API onto
#      PostgreSQL at 1, 16, 64 and 256 clients, where the host's CPU went per
#      transfer, PostgreSQL's WAL per transfer, the ledger's peak memory, and
#      the plain-SQL pgbench baseline on the same PostgreSQL (up to 64
#      clients: PostgreSQL's default max_connections is 100)
#      (scripts/bench-ledger.sh);
#   3. the supply audit and throughput with 10^4, 10^5 and 10^6 unspent notes
#      in the store, with the ledger's peak memory at each size
#      (scripts/bench-scale.sh).
#
# It takes about 20-30 minutes on the 2-core machine. Run it on an otherwise
# idle machine: every figure is CPU-bound. The environment settings of the two
# scripts it calls apply (see their headers). Output: stdout, a report in
# Markdown-ish text; progress on stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "# cbdc benchmark report"
echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "load before: $(uptime | sed 's/.*load average/load average/')"
echo

echo "# 1. Verification of 64 transfers: one by one against one batch"
echo '$ cargo bench -p ledger-core --bench core -- "verify 64"'
cargo bench -p ledger-core --bench core -- "verify 64" 2>/dev/null |
    grep -E '^verify 64|time:' | sed 's/^ *//'
echo
echo '$ cargo bench -p ledger-core --bench core -- "verify_batch per size"'
cargo bench -p ledger-core --bench core -- "verify_batch per size" 2>/dev/null |
    grep -E '^verify_batch|time:|thrpt:' | sed 's/^ *//'
echo

echo "# 2. Throughput through the ledger API, with the pgbench baseline"
BENCH_CLIENTS=${BENCH_CLIENTS:-"1 16 64 256"} scripts/bench-ledger.sh
echo

echo "# 3. Scale: 10^4, 10^5, 10^6 unspent notes"
scripts/bench-scale.sh
