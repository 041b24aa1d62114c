//! The gateway's Prometheus metrics (`GET /metrics`), namespace
//! `cbdc_gateway`: payments by kind and outcome, limit refusals by limit,
//! proving time, the follower's lag behind the ledger's feed, the float,
//! the chain check, HTTP requests; plus `cbdc_build_info` and the process's
//! `process_*` series.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

const NAMESPACE: &str = "cbdc_gateway";

const GIT_COMMIT: &str = match option_env!("CBDC_GIT_COMMIT") {
    Some(commit) => commit,
    None => "unknown",
};

/// The limits a refusal can name (each exported at zero from the start).
pub const LIMITS: [&str; 4] = ["balance", "per_payment", "per_day", "payee_balance"];
const KINDS: [&str; 5] = ["pay", "fund", "defund", "sweep", "redeem"];
const OUTCOMES: [&str; 4] = ["final", "pending", "failed", "refused"];
/// The steps of an operation `step_seconds` times: `reserve` (limits and
/// note selection, one write), `prove_wait` (queued for a prover thread),
/// `prove` (building and proving on that thread), `record` (storing the built
/// transaction), `submit` (the ledger's answer, retries included), `confirm`
/// (the receipt and chain check), `finalize` (the credit and debit, one write).
pub const STEPS: [&str; 7] = [
    "reserve",
    "prove_wait",
    "prove",
    "record",
    "submit",
    "confirm",
    "finalize",
];

pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub request_seconds: HistogramVec,
    pub payments: IntCounterVec,
    pub limit_refusals: IntCounterVec,
    pub proving_seconds: Histogram,
    pub submit_seconds: Histogram,
    /// Where an operation's time goes, by step ([`STEPS`]).
    pub step_seconds: HistogramVec,
    pub follower_lag: IntGauge,
    pub follower_cursor: IntGauge,
    pub follower_holder: IntGauge,
    pub notes_credited: IntCounter,
    pub notes_flagged: IntCounter,
    pub float_minor_units: IntGauge,
    pub chain_height: IntGauge,
    pub chain_alarm: IntGauge,
    pub chain_alarms: IntCounterVec,
    pub receipts_refused: IntCounter,
    pub ledger_retries: IntCounter,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let counter = |name: &str, help: &str| {
            IntCounter::with_opts(Opts::new(name, help).namespace(NAMESPACE)).expect("metric")
        };
        let gauge = |name: &str, help: &str| {
            IntGauge::with_opts(Opts::new(name, help).namespace(NAMESPACE)).expect("metric")
        };
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests by route and status")
                .namespace(NAMESPACE),
            &["route", "status"],
        )
        .expect("metric");
        let request_seconds = HistogramVec::new(
            HistogramOpts::new("http_request_seconds", "HTTP request latency by route")
                .namespace(NAMESPACE)
                .buckets(vec![
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
                ]),
            &["route"],
        )
        .expect("metric");
        let payments = IntCounterVec::new(
            Opts::new(
                "payments_total",
                "operations (pay, fund, defund, sweep, redeem) by how they ended",
            )
            .namespace(NAMESPACE),
            &["kind", "outcome"],
        )
        .expect("metric");
        let limit_refusals = IntCounterVec::new(
            Opts::new(
                "limit_refusals_total",
                "payments refused by a tier limit, by limit",
            )
            .namespace(NAMESPACE),
            &["limit"],
        )
        .expect("metric");
        let seconds =
            |name: &str, help: &str| {
                Histogram::with_opts(HistogramOpts::new(name, help).namespace(NAMESPACE).buckets(
                    vec![
                        0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 5.0,
                    ],
                ))
                .expect("metric")
            };
        let proving_seconds = seconds("proving_seconds", "building and proving one transaction");
        let submit_seconds = seconds(
            "submit_seconds",
            "submitting one transaction to the ledger until its checked receipt",
        );
        let step_seconds = HistogramVec::new(
            HistogramOpts::new(
                "step_seconds",
                "time an operation spends in each step (reserve, prove_wait, prove, record, submit, confirm, finalize)",
            )
            .namespace(NAMESPACE)
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 5.0,
            ]),
            &["step"],
        )
        .expect("metric");
        for step in STEPS {
            step_seconds.with_label_values(&[step]);
        }
        let chain_alarms = IntCounterVec::new(
            Opts::new(
                "chain_alarms_total",
                "ledger history alarms raised, by kind",
            )
            .namespace(NAMESPACE),
            &["kind"],
        )
        .expect("metric");
        let build_info = IntGaugeVec::new(
            Opts::new(
                "cbdc_build_info",
                "1, labelled with the version and commit of the running binary",
            ),
            &["version", "git_commit"],
        )
        .expect("metric");
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION"), GIT_COMMIT])
            .set(1);
        for kind in KINDS {
            for outcome in OUTCOMES {
                payments.with_label_values(&[kind, outcome]);
            }
        }
        for limit in LIMITS {
            limit_refusals.with_label_values(&[limit]);
        }
        for kind in ["fork", "rollback", "bad_signature"] {
            chain_alarms.with_label_values(&[kind]);
        }
        let metrics = Metrics {
            requests,
            request_seconds,
            payments,
            limit_refusals,
            proving_seconds,
            submit_seconds,
            step_seconds,
            follower_lag: gauge(
                "follower_lag_events",
                "events of the ledger's feed past the follower's cursor (0 when it has read to the end)",
            ),
            follower_cursor: gauge(
                "follower_cursor",
                "the last event of the feed the follower read",
            ),
            follower_holder: gauge(
                "follower_holder",
                "1 if this replica holds the follower's lease",
            ),
            notes_credited: counter(
                "notes_credited_total",
                "incoming notes credited by the follower",
            ),
            notes_flagged: counter(
                "notes_flagged_total",
                "incoming notes whose memo did not open or opened to a wrong amount",
            ),
            float_minor_units: gauge("float_minor_units", "the bank's float"),
            chain_height: gauge(
                "chain_height",
                "the newest ledger block the gateway checked",
            ),
            chain_alarm: gauge(
                "chain_alarm",
                "1 while a ledger history alarm is unacknowledged",
            ),
            chain_alarms,
            receipts_refused: counter(
                "receipts_refused_total",
                "receipts whose signature or inclusion path did not verify",
            ),
            ledger_retries: counter("ledger_retries_total", "calls to the ledger tried again"),
            registry,
        };
        for collector in [
            Box::new(metrics.requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(metrics.request_seconds.clone()),
            Box::new(metrics.payments.clone()),
            Box::new(metrics.limit_refusals.clone()),
            Box::new(metrics.proving_seconds.clone()),
            Box::new(metrics.submit_seconds.clone()),
            Box::new(metrics.step_seconds.clone()),
            Box::new(metrics.follower_lag.clone()),
            Box::new(metrics.follower_cursor.clone()),
            Box::new(metrics.follower_holder.clone()),
            Box::new(metrics.notes_credited.clone()),
            Box::new(metrics.notes_flagged.clone()),
            Box::new(metrics.float_minor_units.clone()),
            Box::new(metrics.chain_height.clone()),
            Box::new(metrics.chain_alarm.clone()),
            Box::new(metrics.chain_alarms.clone()),
            Box::new(metrics.receipts_refused.clone()),
            Box::new(metrics.ledger_retries.clone()),
            Box::new(build_info),
        ] {
            metrics
                .registry
                .register(collector)
                .expect("metric names are unique");
        }
        #[cfg(target_os = "linux")]
        metrics
            .registry
            .register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ))
            .expect("process metric names are unique");
        metrics
    }

    /// Records `elapsed` of `step` (one of [`STEPS`]).
    pub fn step(&self, step: &str, elapsed: std::time::Duration) {
        self.step_seconds
            .with_label_values(&[step])
            .observe(elapsed.as_secs_f64());
    }

    pub fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding of metrics");
        String::from_utf8(out).expect("metrics are UTF-8")
    }
}
