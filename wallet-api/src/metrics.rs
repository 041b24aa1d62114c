//! The wallet API's Prometheus metrics (`GET /metrics`), namespace
//! `cbdc_wallet_api`: HTTP requests by route and status and their latency,
//! payments by outcome, rate-limit refusals by scope, open notification
//! streams; plus `cbdc_build_info` and the process's `process_*` series.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

use crate::auth::Scope;

const NAMESPACE: &str = "cbdc_wallet_api";

const GIT_COMMIT: &str = match option_env!("CBDC_GIT_COMMIT") {
    Some(commit) => commit,
    None => "unknown",
};

/// How a payment through the API ended (each exported at zero from the start).
pub const OUTCOMES: [&str; 5] = ["final", "pending", "failed", "refused", "unanswered"];

pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub request_seconds: HistogramVec,
    pub payments: IntCounterVec,
    pub rate_limited: IntCounterVec,
    pub streams_open: IntGauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
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
                "payments, funds and defunds through the API by outcome",
            )
            .namespace(NAMESPACE),
            &["outcome"],
        )
        .expect("metric");
        for outcome in OUTCOMES {
            payments.with_label_values(&[outcome]);
        }
        let rate_limited = IntCounterVec::new(
            Opts::new(
                "rate_limited_total",
                "requests refused 429 by a rate limit, by scope (app, token)",
            )
            .namespace(NAMESPACE),
            &["scope"],
        )
        .expect("metric");
        for scope in [Scope::App, Scope::Token] {
            rate_limited.with_label_values(&[scope.as_str()]);
        }
        let streams_open = IntGauge::with_opts(
            Opts::new("streams_open", "notification streams open now").namespace(NAMESPACE),
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
        let metrics = Metrics {
            registry,
            requests,
            request_seconds,
            payments,
            rate_limited,
            streams_open,
        };
        for collector in [
            Box::new(metrics.requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(metrics.request_seconds.clone()),
            Box::new(metrics.payments.clone()),
            Box::new(metrics.rate_limited.clone()),
            Box::new(metrics.streams_open.clone()),
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

    pub fn rate_limited(&self, scope: Scope) {
        self.rate_limited.with_label_values(&[scope.as_str()]).inc();
    }

    pub fn payment(&self, outcome: &str) {
        self.payments.with_label_values(&[outcome]).inc();
    }

    pub fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding of metrics");
        String::from_utf8(out).expect("metrics are UTF-8")
    }
}
