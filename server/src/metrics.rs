//! The server's metrics, in the Prometheus text format (`prometheus-client`),
//! served at `GET /metrics` by `crate::app`. One registry per process; each replica is scraped
//! on its own. The names and what they count are listed in docs/metrics.md.

use std::sync::LazyLock;
use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// A label set of one `code` (a reject or error code, `snake_case`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Code {
    pub code: String,
}

/// Every metric of the process.
pub struct Metrics {
    registry: Registry,
    /// Open sync connections (authenticated).
    pub connections: Gauge,
    /// Sync connections opened since start.
    pub connections_opened: Counter,
    /// Durable acks sent (`Sync` replies after a commit).
    pub acks: Counter,
    /// Change sets refused, by reject code.
    pub rejections: Family<Code, Counter>,
    /// Connections ended by the server, by error code.
    pub connection_errors: Family<Code, Counter>,
    /// Seconds per commit transaction (`Committer::commit`), all writers.
    pub commit_seconds: Histogram,
    /// Pages the change feeds broadcast.
    pub feed_pages: Counter,
    /// Connections that fell behind their feed and caught up by query.
    pub feed_lagged: Counter,
    /// Change queries a connection ran itself, not the feed: its catch-up
    /// after the handshake, a lag or gap, or a change of its read scope.
    pub catch_up_queries: Counter,
    /// Seconds per compliance run of one community.
    pub compliance_seconds: Histogram,
    /// Photo bytes received through tus.
    pub upload_bytes: Counter,
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix("fieldsync");
        let m = Metrics {
            connections: Gauge::default(),
            connections_opened: Counter::default(),
            acks: Counter::default(),
            rejections: Family::default(),
            connection_errors: Family::default(),
            // 0.5 ms … ~8 s.
            commit_seconds: Histogram::new(exponential_buckets(0.0005, 2.0, 15)),
            feed_pages: Counter::default(),
            catch_up_queries: Counter::default(),
            feed_lagged: Counter::default(),
            // 1 ms … ~32 s.
            compliance_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            upload_bytes: Counter::default(),
            registry: Registry::default(),
        };
        registry.register(
            "sync_connections",
            "Open sync connections",
            m.connections.clone(),
        );
        registry.register(
            "sync_connections_opened",
            "Sync connections opened",
            m.connections_opened.clone(),
        );
        registry.register("sync_acks", "Durable acks sent", m.acks.clone());
        registry.register(
            "sync_rejections",
            "Change sets refused, by reject code",
            m.rejections.clone(),
        );
        registry.register(
            "sync_connection_errors",
            "Connections ended by the server, by error code",
            m.connection_errors.clone(),
        );
        registry.register(
            "commit_seconds",
            "Seconds per commit transaction",
            m.commit_seconds.clone(),
        );
        registry.register(
            "feed_pages",
            "Pages the change feeds broadcast",
            m.feed_pages.clone(),
        );
        registry.register(
            "feed_lagged",
            "Connections that fell behind their change feed",
            m.feed_lagged.clone(),
        );
        registry.register(
            "sync_catch_up_queries",
            "Change queries connections ran themselves (handshake, lag, scope change)",
            m.catch_up_queries.clone(),
        );
        registry.register(
            "compliance_run_seconds",
            "Seconds per compliance run of one community",
            m.compliance_seconds.clone(),
        );
        registry.register(
            "upload_bytes",
            "Photo bytes received through tus",
            m.upload_bytes.clone(),
        );
        Metrics { registry, ..m }
    }

    /// The text exposition, with the gauges read at scrape time:
    /// `feed_backlog` pages queued in the change feeds.
    pub fn render(&self, feed_backlog: usize) -> String {
        let mut registry = Registry::with_prefix("fieldsync");
        let backlog = Gauge::<i64>::default();
        backlog.set(feed_backlog as i64);
        registry.register(
            "feed_backlog_pages",
            "Pages queued in the change feeds for their slowest connection",
            backlog,
        );
        let mut out = String::new();
        use prometheus_client::encoding::text::{encode_eof, encode_registry};
        encode_registry(&mut out, &self.registry)
            .and_then(|()| encode_registry(&mut out, &registry))
            .and_then(|()| encode_eof(&mut out))
            .expect("writing to a string does not fail");
        out
    }
}

/// The process's metrics.
pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// Counts `code` in `family`.
pub fn count(family: &Family<Code, Counter>, code: impl serde::Serialize) {
    let code = serde_json::to_value(code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "other".into());
    family.get_or_create(&Code { code }).inc();
}

/// Observes the seconds since `start` in `histogram`.
pub fn observe_since(histogram: &Histogram, start: Instant) {
    histogram.observe(start.elapsed().as_secs_f64());
}
