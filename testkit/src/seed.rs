//! Monasca-shaped test data.
//!
//! Every point looks like what the Monasca persister writes: measurement =
//! metric name, tags `_tenant_id`, `_region`, `hostname` plus the metric's
//! dimensions, fields `value` (float, or integer for [`ValueKind::Integer`]
//! metrics) and `value_meta` (a JSON text, sometimes with quotes and
//! backslashes). Values are pseudo-random but fully determined by the spec.
//!
//! Timestamps: each host of each tenant reports every `interval`, at
//! `start_ns + k * interval + offset`, where `offset` (less than a second and
//! less than the interval) is fixed per (tenant, host); only times inside
//! `[start_ns, end_ns)` and inside the tenant's own window are written.

use crate::line::{escape_field_string, escape_measurement, escape_tag, format_float};
use crate::server::InfluxServer;
use anyhow::{bail, Context, Result};
use std::fmt::Write as _;
use std::time::Duration;

/// Lines per `/write` request in [`seed()`].
pub const BATCH_LINES: usize = 5000;

const NS_PER_WEEK: i64 = 7 * 24 * 3600 * 1_000_000_000;

/// The type of a metric's `value` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// `value` is a float (what Monasca normally writes).
    Float,
    /// `value` is an integer (`value=200i`).
    Integer,
}

/// One tenant; it may start late or stop early.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantSpec {
    /// The `_tenant_id` tag value.
    pub id: String,
    /// First possible timestamp of this tenant (inclusive); `None` = the dataset's start.
    pub start_ns: Option<i64>,
    /// End of this tenant's data (exclusive); `None` = the dataset's end.
    pub end_ns: Option<i64>,
}

impl TenantSpec {
    /// A tenant that reports over the whole dataset window.
    pub fn new(id: &str) -> Self {
        TenantSpec {
            id: id.to_string(),
            start_ns: None,
            end_ns: None,
        }
    }

    /// Restricts the tenant to `[start_ns, end_ns)` (intersected with the dataset window).
    pub fn window(mut self, start_ns: Option<i64>, end_ns: Option<i64>) -> Self {
        self.start_ns = start_ns;
        self.end_ns = end_ns;
        self
    }
}

/// One metric (measurement).
#[derive(Debug, Clone, PartialEq)]
pub struct MetricSpec {
    /// Measurement name, e.g. `cpu.idle_perc`.
    pub name: String,
    /// Type of the `value` field.
    pub value_kind: ValueKind,
    /// Extra dimensions (tags) besides `_tenant_id`, `_region`, `hostname`.
    pub dimensions: Vec<(String, String)>,
}

impl MetricSpec {
    /// A metric with a float `value` and no extra dimensions.
    pub fn float(name: &str) -> Self {
        MetricSpec {
            name: name.to_string(),
            value_kind: ValueKind::Float,
            dimensions: Vec::new(),
        }
    }

    /// A metric with an integer `value` and no extra dimensions.
    pub fn integer(name: &str) -> Self {
        MetricSpec {
            value_kind: ValueKind::Integer,
            ..Self::float(name)
        }
    }

    /// Adds a dimension (tag).
    pub fn dim(mut self, key: &str, value: &str) -> Self {
        self.dimensions.push((key.to_string(), value.to_string()));
        self
    }
}

/// A whole dataset: tenants x hosts x metrics x time.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetSpec {
    /// The tenants.
    pub tenants: Vec<TenantSpec>,
    /// The metrics, same for every tenant and host.
    pub metrics: Vec<MetricSpec>,
    /// Hosts per tenant, named `<tenant>-host-<n>`.
    pub hosts_per_tenant: usize,
    /// Reporting interval of each host.
    pub interval: Duration,
    /// Dataset start, inclusive (ns since the epoch).
    pub start_ns: i64,
    /// Dataset end, exclusive (ns since the epoch).
    pub end_ns: i64,
    /// The `_region` tag value.
    pub region: String,
}

impl DatasetSpec {
    /// A Monasca-like dataset covering `[now_ns - weeks, now_ns)`: five metrics
    /// (`cpu.idle_perc`, `mem.free_mb`, `disk.space_used_perc` with a `device`
    /// dimension, `vm.net.in_bytes_sec`, and the integer-valued `http_status`),
    /// two hosts per tenant, region `RegionOne`.
    pub fn monasca(tenants: &[&str], weeks: u32, interval: Duration, now_ns: i64) -> Self {
        DatasetSpec {
            tenants: tenants.iter().map(|t| TenantSpec::new(t)).collect(),
            metrics: vec![
                MetricSpec::float("cpu.idle_perc")
                    .dim("service", "compute")
                    .dim("component", "vm"),
                MetricSpec::float("mem.free_mb")
                    .dim("service", "compute")
                    .dim("component", "vm"),
                MetricSpec::float("disk.space_used_perc")
                    .dim("service", "compute")
                    .dim("device", "/dev/vda1"),
                MetricSpec::float("vm.net.in_bytes_sec")
                    .dim("service", "compute")
                    .dim("component", "vm"),
                MetricSpec::integer("http_status")
                    .dim("service", "monitoring")
                    .dim("url", "http://api.example/v2.0"),
            ],
            hosts_per_tenant: 2,
            interval,
            start_ns: now_ns - i64::from(weeks) * NS_PER_WEEK,
            end_ns: now_ns,
            region: "RegionOne".to_string(),
        }
    }

    /// Total number of points the spec describes (what [`seed()`] writes).
    pub fn point_count(&self) -> u64 {
        self.tenants.iter().map(|t| self.count_for(t)).sum()
    }

    /// Number of points of one tenant (0 for an unknown tenant).
    pub fn tenant_point_count(&self, tenant: &str) -> u64 {
        self.tenants
            .iter()
            .filter(|t| t.id == tenant)
            .map(|t| self.count_for(t))
            .sum()
    }

    /// First and last timestamp (both inclusive) of one tenant's points;
    /// `None` for an unknown tenant or one without points.
    pub fn tenant_time_range(&self, tenant: &str) -> Option<(i64, i64)> {
        let iv = self.interval_ns();
        let mut range: Option<(i64, i64)> = None;
        for t in self.tenants.iter().filter(|t| t.id == tenant) {
            let (lo, hi) = self.window(t);
            for h in 0..self.hosts_per_tenant {
                let off = self.offset(&t.id, h);
                let (a, b) = self.k_range(lo, hi, off);
                if a >= b || self.metrics.is_empty() {
                    continue;
                }
                let first = self.start_ns + a * iv + off;
                let last = self.start_ns + (b - 1) * iv + off;
                range = Some(match range {
                    Some((f, l)) => (f.min(first), l.max(last)),
                    None => (first, last),
                });
            }
        }
        range
    }

    /// The host names of one tenant.
    pub fn hosts(&self, tenant: &str) -> Vec<String> {
        (0..self.hosts_per_tenant)
            .map(|h| host_name(tenant, h))
            .collect()
    }

    fn interval_ns(&self) -> i64 {
        i64::try_from(self.interval.as_nanos())
            .unwrap_or(i64::MAX)
            .max(1)
    }

    /// `[lo, hi)` of a tenant.
    fn window(&self, t: &TenantSpec) -> (i64, i64) {
        let lo = t.start_ns.map_or(self.start_ns, |s| s.max(self.start_ns));
        let hi = t.end_ns.map_or(self.end_ns, |e| e.min(self.end_ns));
        (lo, hi)
    }

    fn offset(&self, tenant: &str, host: usize) -> i64 {
        let cap = self.interval_ns().min(1_000_000_000);
        (mix(hash_str(tenant) ^ (host as u64).wrapping_mul(0x9E37_79B9)) % cap as u64) as i64
    }

    /// Grid indexes k with `lo <= start + k*iv + off < hi`, as a half-open range.
    fn k_range(&self, lo: i64, hi: i64, off: i64) -> (i64, i64) {
        let iv = self.interval_ns() as i128;
        let base = self.start_ns as i128 + off as i128;
        let first = ceil_div(lo as i128 - base, iv).max(0);
        let end = ceil_div(hi as i128 - base, iv).max(first);
        (first as i64, end as i64)
    }

    fn count_for(&self, t: &TenantSpec) -> u64 {
        let (lo, hi) = self.window(t);
        (0..self.hosts_per_tenant)
            .map(|h| {
                let (a, b) = self.k_range(lo, hi, self.offset(&t.id, h));
                (b - a) as u64 * self.metrics.len() as u64
            })
            .sum()
    }
}

fn ceil_div(a: i128, b: i128) -> i128 {
    -((-a).div_euclid(b))
}

fn host_name(tenant: &str, h: usize) -> String {
    format!("{tenant}-host-{h}")
}

/// FNV-1a.
fn hash_str(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// splitmix64 finaliser.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Pre-encoded series of one (tenant, host, metric).
#[derive(Debug, Clone)]
struct Series {
    /// Measurement and tags, escaped, without the trailing space.
    key: String,
    kind: ValueKind,
    seed: u64,
    off: i64,
    /// Grid index range `[k0, k1)`.
    k0: i64,
    k1: i64,
}

/// Iterator over the line-protocol lines of a [`DatasetSpec`], in time order
/// of the grid (all series at grid step k, then k+1, ...). Made by [`lines()`].
#[derive(Debug, Clone)]
pub struct Lines {
    series: Vec<Series>,
    start_ns: i64,
    interval_ns: i64,
    k: i64,
    k_end: i64,
    idx: usize,
}

/// Streams the lines of `spec` (no trailing newlines), without holding the
/// whole dataset in memory. Deterministic for a given spec. Panics if a name
/// in the spec cannot be written as line protocol (see [`crate::line`]).
pub fn lines(spec: &DatasetSpec) -> Lines {
    match try_lines(spec) {
        Ok(l) => l,
        Err(e) => panic!("{e:#}"),
    }
}

/// Like [`lines()`] but an unwritable name is an `Err` instead of a panic.
pub fn try_lines(spec: &DatasetSpec) -> Result<Lines> {
    let mut series = Vec::new();
    for t in &spec.tenants {
        let (lo, hi) = spec.window(t);
        for h in 0..spec.hosts_per_tenant {
            let host = host_name(&t.id, h);
            let off = spec.offset(&t.id, h);
            let (k0, k1) = spec.k_range(lo, hi, off);
            for m in &spec.metrics {
                let mut tags: Vec<(&str, &str)> = vec![
                    ("_tenant_id", t.id.as_str()),
                    ("_region", spec.region.as_str()),
                    ("hostname", host.as_str()),
                ];
                for (k, v) in &m.dimensions {
                    tags.push((k.as_str(), v.as_str()));
                }
                tags.retain(|(_, v)| !v.is_empty());
                tags.sort();
                for pair in tags.windows(2) {
                    if pair[0].0 == pair[1].0 {
                        bail!("metric {:?} repeats the tag {:?}", m.name, pair[0].0);
                    }
                }
                let mut key = escape_measurement(&m.name)?;
                for (k, v) in tags {
                    key.push(',');
                    key.push_str(&escape_tag(k).with_context(|| format!("tag key {k:?}"))?);
                    key.push('=');
                    key.push_str(&escape_tag(v).with_context(|| format!("tag value {v:?}"))?);
                }
                let seed = hash_str(&format!("{}\u{0}{}\u{0}{}", t.id, host, m.name));
                series.push(Series {
                    key,
                    kind: m.value_kind,
                    seed,
                    off,
                    k0,
                    k1,
                });
            }
        }
    }
    let k_start = series.iter().map(|s| s.k0).min().unwrap_or(0);
    let k_end = series.iter().map(|s| s.k1).max().unwrap_or(0);
    Ok(Lines {
        series,
        start_ns: spec.start_ns,
        interval_ns: spec.interval_ns(),
        k: k_start,
        k_end,
        idx: 0,
    })
}

impl Iterator for Lines {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        while self.k < self.k_end {
            while self.idx < self.series.len() {
                let s = &self.series[self.idx];
                self.idx += 1;
                if self.k < s.k0 || self.k >= s.k1 {
                    continue;
                }
                let t = self.start_ns + self.k * self.interval_ns + s.off;
                let r = mix(s.seed ^ (self.k as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
                let mut line = String::with_capacity(s.key.len() + 80);
                line.push_str(&s.key);
                line.push_str(" value=");
                match s.kind {
                    // Two decimals; one point in 8 is a whole number, written `42.0`.
                    ValueKind::Float => {
                        let v = if r.is_multiple_of(8) {
                            ((r >> 8) % 1000) as f64
                        } else {
                            ((r >> 8) % 100_000) as f64 / 100.0
                        };
                        line.push_str(&format_float(v).expect("finite"));
                    }
                    ValueKind::Integer => {
                        const CODES: [i64; 5] = [200, 200, 200, 404, 503];
                        let _ = write!(line, "{}i", CODES[((r >> 8) % 5) as usize]);
                    }
                }
                line.push_str(",value_meta=\"");
                if r.is_multiple_of(10) {
                    let meta = format!(
                        r#"{{"msg": "check \"{}\" said: C:\\tmp\\{}", "code": {}}}"#,
                        self.k,
                        r % 97,
                        r % 7
                    );
                    line.push_str(&escape_field_string(&meta));
                } else {
                    line.push_str("{}");
                }
                let _ = write!(line, "\" {t}");
                return Some(line);
            }
            self.idx = 0;
            self.k += 1;
        }
        None
    }
}

/// Creates `db` (if missing) and writes every point of `spec` in batches of
/// [`BATCH_LINES`] lines. Returns the number of points written, which equals
/// [`DatasetSpec::point_count`].
pub fn seed(server: &InfluxServer, db: &str, spec: &DatasetSpec) -> Result<u64> {
    server.create_database(db)?;
    let mut written = 0u64;
    let mut batch = String::new();
    let mut n = 0usize;
    for line in try_lines(spec)? {
        batch.push_str(&line);
        batch.push('\n');
        n += 1;
        if n == BATCH_LINES {
            server.write_lines(db, &batch)?;
            written += n as u64;
            batch.clear();
            n = 0;
        }
    }
    if n > 0 {
        server.write_lines(db, &batch)?;
        written += n as u64;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> DatasetSpec {
        let mut spec = DatasetSpec::monasca(
            &["t1", "t2"],
            1,
            Duration::from_secs(3600),
            1_700_000_000_000_000_000,
        );
        spec.tenants[1] =
            TenantSpec::new("t2").window(Some(spec.start_ns + 3 * 86_400_000_000_000), None);
        spec
    }

    /// point_count() agrees with the number of generated lines, also for a late tenant.
    #[test]
    fn count_matches_lines() {
        let spec = small();
        let n = lines(&spec).count() as u64;
        assert_eq!(n, spec.point_count());
        assert_eq!(
            spec.tenant_point_count("t1") + spec.tenant_point_count("t2"),
            n
        );
        assert!(spec.tenant_point_count("t2") < spec.tenant_point_count("t1"));
        for t in ["t1", "t2"] {
            let times: Vec<i64> = lines(&spec)
                .filter(|l| l.contains(&format!("_tenant_id={t},")))
                .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
                .collect();
            let expected = (*times.iter().min().unwrap(), *times.iter().max().unwrap());
            assert_eq!(spec.tenant_time_range(t), Some(expected), "{t}");
        }
        assert_eq!(spec.tenant_time_range("nobody"), None);
        // 1 week of hourly points, 2 hosts, 5 metrics.
        assert_eq!(spec.tenant_point_count("t1"), 168 * 2 * 5);
    }

    /// The same spec always gives the same lines; timestamps stay in the window.
    #[test]
    fn deterministic_and_in_window() {
        let spec = small();
        let a: Vec<String> = lines(&spec).collect();
        let b: Vec<String> = lines(&spec).collect();
        assert_eq!(a, b);
        for l in &a {
            let t: i64 = l.rsplit(' ').next().unwrap().parse().unwrap();
            assert!(t >= spec.start_ns && t < spec.end_ns, "{l}");
        }
        assert!(a
            .iter()
            .any(|l| l.starts_with("http_status,") && l.contains("value=200i")));
        assert!(a.iter().any(|l| l.contains(r#"\"msg\""#)));
    }
}
