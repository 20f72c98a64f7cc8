//! Prometheus metrics of one simulated link, served as text on the admin
//! listener's `/metrics`.
//!
//! Request counters are bumped by the HTTPS edge as answers leave; the pool
//! and generation figures are copied from the link's own statistics by the
//! generator task on each tick (and before each scrape), so a scrape never
//! takes the link lock for longer than a copy. Labels are bounded sets
//! (site, method, call, status): SAE IDs are deliberately not labels.

use prometheus::{Encoder, Gauge, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder};

use crate::Site;

/// The metric families.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    /// Keys ready for delivery, per site.
    pub pool_keys: IntGaugeVec,
    /// Key material ready for delivery (bits), per site.
    pub pool_bits: IntGaugeVec,
    /// Secret key bits produced by the link since start.
    pub generated_bits: IntCounter,
    /// Configured secret key rate (bit/s).
    pub secret_key_rate: Gauge,
    /// Current effective generation rate (bit/s): 0 while the link is down
    /// or the pool is full.
    pub generation_rate: Gauge,
    /// API requests by site, method, call and HTTP status.
    pub requests: IntCounterVec,
    /// Keys delivered by site and call.
    pub keys_delivered: IntCounterVec,
    /// Key bits delivered by site and call.
    pub bits_delivered: IntCounterVec,
    /// TLS handshakes that failed (bad or missing client certificate, wrong
    /// protocol, timeout), per site.
    pub tls_handshake_failures: IntCounterVec,
    /// Completed TLS handshakes by site and negotiated key exchange group.
    pub tls_handshakes: IntCounterVec,
    /// Connections whose client certificate yields no usable SAE ID, per site.
    pub identity_failures: IntCounterVec,
    /// Open HTTPS connections, per site.
    pub open_connections: IntGaugeVec,
    /// API requests being answered now (including injected latency), per site.
    pub requests_in_flight: IntGaugeVec,
    /// 1 while the link-down fault is set.
    pub fault_link_down: IntGauge,
    /// Added latency fault (seconds).
    pub fault_latency_seconds: Gauge,
    /// Requests left in the injected 503 burst.
    pub fault_fail_next: IntGauge,
}

fn must<T>(r: prometheus::Result<T>) -> T {
    // The names and labels below are constants; a failure is a programming
    // error caught by the unit test `every_family_is_exposed`.
    match r {
        Ok(v) => v,
        Err(e) => panic!("metric definition: {e}"),
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Creates and registers every family (prefix `qsafe_kme_`).
    pub fn new() -> Self {
        let registry = must(Registry::new_custom(Some("qsafe_kme".into()), None));
        let site = &["site"];
        let m = Self {
            pool_keys: must(IntGaugeVec::new(Opts::new("pool_keys", "Keys ready for delivery at this KME"), site)),
            pool_bits: must(IntGaugeVec::new(
                Opts::new("pool_bits", "Key material ready for delivery at this KME (bits)"),
                site,
            )),
            generated_bits: must(IntCounter::new("generated_bits_total", "Secret key bits produced by the QKD link")),
            secret_key_rate: must(Gauge::new("secret_key_rate_bps", "Configured secret key rate of the link (bit/s)")),
            generation_rate: must(Gauge::new(
                "generation_rate_bps",
                "Effective key generation rate (bit/s): 0 while the link is down or the pool is full",
            )),
            requests: must(IntCounterVec::new(
                Opts::new("requests_total", "ETSI 014 API requests by site, method, call and HTTP status"),
                &["site", "method", "call", "status"],
            )),
            keys_delivered: must(IntCounterVec::new(
                Opts::new("keys_delivered_total", "Keys delivered to SAEs"),
                &["site", "call"],
            )),
            bits_delivered: must(IntCounterVec::new(
                Opts::new("bits_delivered_total", "Key bits delivered to SAEs"),
                &["site", "call"],
            )),
            tls_handshake_failures: must(IntCounterVec::new(
                Opts::new("tls_handshake_failures_total", "TLS handshakes that failed or timed out"),
                site,
            )),
            tls_handshakes: must(IntCounterVec::new(
                Opts::new("tls_handshakes_total", "Completed TLS handshakes by negotiated key exchange group"),
                &["site", "group"],
            )),
            identity_failures: must(IntCounterVec::new(
                Opts::new("identity_failures_total", "Connections whose client certificate yields no usable SAE ID"),
                site,
            )),
            open_connections: must(IntGaugeVec::new(Opts::new("open_connections", "Open HTTPS connections"), site)),
            requests_in_flight: must(IntGaugeVec::new(
                Opts::new("requests_in_flight", "API requests being answered now (injected latency included)"),
                site,
            )),
            fault_link_down: must(IntGauge::new("fault_link_down", "1 while the link-down fault is active")),
            fault_latency_seconds: must(Gauge::new("fault_latency_seconds", "Latency added before each API answer")),
            fault_fail_next: must(IntGauge::new("fault_fail_next", "API requests left in the injected 503 burst")),
            registry,
        };
        let collectors: Vec<Box<dyn prometheus::core::Collector>> = vec![
            Box::new(m.pool_keys.clone()),
            Box::new(m.pool_bits.clone()),
            Box::new(m.generated_bits.clone()),
            Box::new(m.secret_key_rate.clone()),
            Box::new(m.generation_rate.clone()),
            Box::new(m.requests.clone()),
            Box::new(m.keys_delivered.clone()),
            Box::new(m.bits_delivered.clone()),
            Box::new(m.tls_handshake_failures.clone()),
            Box::new(m.tls_handshakes.clone()),
            Box::new(m.identity_failures.clone()),
            Box::new(m.open_connections.clone()),
            Box::new(m.requests_in_flight.clone()),
            Box::new(m.fault_link_down.clone()),
            Box::new(m.fault_latency_seconds.clone()),
            Box::new(m.fault_fail_next.clone()),
        ];
        for c in collectors {
            must(m.registry.register(c));
        }
        // Families with labels appear only once a label set exists: create
        // the per-site series up front so dashboards see zeros, not gaps.
        for s in Site::BOTH {
            m.pool_keys.with_label_values(&[crate::site_label(s)]).set(0);
            m.pool_bits.with_label_values(&[crate::site_label(s)]).set(0);
            m.tls_handshake_failures.with_label_values(&[crate::site_label(s)]);
            m.identity_failures.with_label_values(&[crate::site_label(s)]);
            m.open_connections.with_label_values(&[crate::site_label(s)]).set(0);
            m.requests_in_flight.with_label_values(&[crate::site_label(s)]).set(0);
            for call in ["enc_keys", "dec_keys"] {
                m.keys_delivered.with_label_values(&[crate::site_label(s), call]);
                m.bits_delivered.with_label_values(&[crate::site_label(s), call]);
            }
        }
        m
    }

    /// Counts one answered API request.
    pub fn count_request(&self, site: Site, method: &str, call: &str, status: u16) {
        let method = match method {
            "GET" | "POST" => method,
            _ => "other",
        };
        self.requests.with_label_values(&[crate::site_label(site), method, call, status_label(status)]).inc();
    }

    /// Counts delivered keys.
    pub fn count_delivery(&self, site: Site, call: &str, keys: u64, bits: u64) {
        self.keys_delivered.with_label_values(&[crate::site_label(site), call]).inc_by(keys);
        self.bits_delivered.with_label_values(&[crate::site_label(site), call]).inc_by(bits);
    }

    /// Raises the generated-bits counter to `total` (counters only go up; a
    /// lower `total` is ignored).
    pub fn set_generated_bits(&self, total: u64) {
        let now = self.generated_bits.get();
        if total > now {
            self.generated_bits.inc_by(total - now);
        }
    }

    /// Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::warn!(error = %e, "metrics encoding failed");
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

fn status_label(status: u16) -> &'static str {
    match status {
        200 => "200",
        400 => "400",
        401 => "401",
        404 => "404",
        405 => "405",
        413 => "413",
        415 => "415",
        500 => "500",
        503 => "503",
        _ => "other",
    }
}

/// Content type of [`Metrics::render`].
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_is_exposed() {
        let m = Metrics::new();
        m.count_request(Site::A, "POST", "enc_keys", 200);
        m.count_request(Site::B, "PUT", "dec_keys", 405);
        m.count_delivery(Site::A, "enc_keys", 2, 512);
        m.set_generated_bits(1000);
        m.set_generated_bits(900);
        let text = m.render();
        for family in [
            "qsafe_kme_pool_keys{site=\"A\"} 0",
            "qsafe_kme_pool_bits{site=\"B\"} 0",
            "qsafe_kme_generated_bits_total 1000",
            "qsafe_kme_secret_key_rate_bps",
            "qsafe_kme_generation_rate_bps",
            "qsafe_kme_requests_total{call=\"enc_keys\",method=\"POST\",site=\"A\",status=\"200\"} 1",
            "qsafe_kme_requests_total{call=\"dec_keys\",method=\"other\",site=\"B\",status=\"405\"} 1",
            "qsafe_kme_keys_delivered_total{call=\"enc_keys\",site=\"A\"} 2",
            "qsafe_kme_bits_delivered_total{call=\"enc_keys\",site=\"A\"} 512",
            "qsafe_kme_keys_delivered_total{call=\"dec_keys\",site=\"B\"} 0",
            "qsafe_kme_tls_handshake_failures_total{site=\"A\"} 0",
            "qsafe_kme_identity_failures_total{site=\"B\"} 0",
            "qsafe_kme_open_connections{site=\"A\"} 0",
            "qsafe_kme_requests_in_flight{site=\"B\"} 0",
            "qsafe_kme_fault_link_down 0",
            "qsafe_kme_fault_latency_seconds 0",
            "qsafe_kme_fault_fail_next 0",
        ] {
            assert!(text.contains(family), "missing {family} in\n{text}");
        }
    }
}
