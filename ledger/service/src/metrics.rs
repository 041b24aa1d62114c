//! Prometheus metrics of the ledger, served at `/metrics`.
//!
//! Requests by route (the matched pattern, never the raw path, so ids do not
//! explode the label space), method and status; transactions accepted by kind and
//! rejected by reason; batch sizes; verification and commit time; queue depth.
//! No amount, key or personal datum is ever a label.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};
use std::time::Duration;

#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    requests: IntCounterVec,
    request_seconds: HistogramVec,
    accepted: IntCounterVec,
    rejected: IntCounterVec,
    batch_size: Histogram,
    verify_batch_size: Histogram,
    verify_seconds: Histogram,
    commit_seconds: Histogram,
    queue_depth: IntGauge,
    pub notes_unspent: IntGauge,
    pub supply_outstanding: IntGauge,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry =
            Registry::new_custom(Some("cbdc_ledger".into()), None).expect("a valid metrics prefix");
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by route, method and status",
            ),
            &["route", "method", "status"],
        )
        .expect("metric");
        let request_seconds = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency").buckets(
                vec![
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 30.0,
                ],
            ),
            &["route", "method", "status"],
        )
        .expect("metric");
        let accepted = IntCounterVec::new(
            Opts::new(
                "transactions_accepted_total",
                "transactions committed, by kind",
            ),
            &["kind"],
        )
        .expect("metric");
        let rejected = IntCounterVec::new(
            Opts::new(
                "transactions_rejected_total",
                "transactions refused, by reason",
            ),
            &["reason"],
        )
        .expect("metric");
        let batch_size = Histogram::with_opts(
            HistogramOpts::new("batch_size", "transactions per committed batch").buckets(vec![
                1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0,
            ]),
        )
        .expect("metric");
        let verify_batch_size = Histogram::with_opts(
            HistogramOpts::new("verify_batch_size", "transactions per verification batch").buckets(
                vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0],
            ),
        )
        .expect("metric");
        let verify_seconds = Histogram::with_opts(
            HistogramOpts::new("verify_seconds", "time to verify one batch of transactions")
                .buckets(vec![
                    0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064,
                ]),
        )
        .expect("metric");
        let commit_seconds = Histogram::with_opts(
            HistogramOpts::new("commit_seconds", "time to commit one batch").buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
            ]),
        )
        .expect("metric");
        let queue_depth =
            IntGauge::new("queue_depth", "transactions waiting for the writer").expect("metric");
        let notes_unspent =
            IntGauge::new("notes_unspent", "unspent notes at the last audit").expect("metric");
        let supply_outstanding = IntGauge::new(
            "supply_outstanding_minor_units",
            "money in circulation at the last audit (public: issued minus redeemed)",
        )
        .expect("metric");
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(request_seconds.clone()),
            Box::new(accepted.clone()),
            Box::new(rejected.clone()),
            Box::new(batch_size.clone()),
            Box::new(verify_batch_size.clone()),
            Box::new(verify_seconds.clone()),
            Box::new(commit_seconds.clone()),
            Box::new(queue_depth.clone()),
            Box::new(notes_unspent.clone()),
            Box::new(supply_outstanding.clone()),
        ] {
            registry
                .register(collector)
                .expect("metric names are unique");
        }
        Metrics {
            registry,
            requests,
            request_seconds,
            accepted,
            rejected,
            batch_size,
            verify_batch_size,
            verify_seconds,
            commit_seconds,
            queue_depth,
            notes_unspent,
            supply_outstanding,
        }
    }

    pub fn observe_request(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        let status = status.to_string();
        let labels = [route, method, status.as_str()];
        self.requests.with_label_values(&labels).inc();
        self.request_seconds
            .with_label_values(&labels)
            .observe(elapsed.as_secs_f64());
    }

    pub fn accepted(&self, kind: &str) {
        self.accepted.with_label_values(&[kind]).inc();
    }

    pub fn rejected(&self, reason: &str) {
        self.rejected.with_label_values(&[reason]).inc();
    }

    pub fn observe_batch(&self, size: usize) {
        self.batch_size
            .observe(f64::from(u32::try_from(size).unwrap_or(u32::MAX)));
    }

    pub fn observe_verify_batch(&self, size: usize) {
        self.verify_batch_size
            .observe(f64::from(u32::try_from(size).unwrap_or(u32::MAX)));
    }

    pub fn observe_verify(&self, elapsed: Duration) {
        self.verify_seconds.observe(elapsed.as_secs_f64());
    }

    pub fn observe_commit(&self, elapsed: Duration) {
        self.commit_seconds.observe(elapsed.as_secs_f64());
    }

    pub fn queue_depth_add(&self, delta: i64) {
        self.queue_depth.add(delta);
    }

    pub fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding of metrics");
        String::from_utf8(out).expect("metrics are UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}
