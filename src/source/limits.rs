//! The server's own limits, from `SHOW DIAGNOSTICS` (admin only): what one statement
//! may read (`max-select-point`, `max-select-series`), how long it may run
//! (`query-timeout`), how many rows an answer holds (`max-row-limit`), what a
//! database may grow to (`max-series-per-database`, `max-values-per-tag`), and the
//! CPUs the server uses (`GOMAXPROCS`); and from `SHOW STATS FOR 'shard'` the series
//! index its shards use (`tsi1` keeps more files open). Chunks are sized under them
//! and `plan` shows them; without admin rights they are unknown and the defaults apply.

use crate::config::FALLBACK_CONCURRENCY;
use crate::influx::answer::StatementResult;
use crate::influx::client::Client;
use crate::influx::error::ClientError;
use serde::Serialize;

/// What `SHOW DIAGNOSTICS` reports; `None` for a value it does not list. 0 means no
/// limit, as in InfluxDB's configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ServerLimits {
    /// `[coordinator] max-select-point`.
    pub max_select_point: Option<u64>,
    /// `[coordinator] max-select-series`.
    pub max_select_series: Option<u64>,
    /// `[coordinator] query-timeout`, as the server writes it ("0s": none).
    pub query_timeout: Option<String>,
    /// `[http] max-row-limit`.
    pub max_row_limit: Option<u64>,
    /// `[data] max-series-per-database`.
    pub max_series_per_database: Option<u64>,
    /// `[data] max-values-per-tag`.
    pub max_values_per_tag: Option<u64>,
    /// The server's `GOMAXPROCS`: CPUs it runs queries on.
    pub gomaxprocs: Option<u64>,
    /// `[data] index-version` (`inmem` or `tsi1`), as its newest shard reports it
    /// (the `indexType` tag of `SHOW STATS FOR 'shard'`, which 1.6.7 does not send;
    /// `SHOW DIAGNOSTICS` never lists it).
    pub index: Option<String>,
}

/// The series index of the newest shard (highest id) in a `SHOW STATS FOR 'shard'`
/// answer: new shards, the targets' among them, get the server's configured index;
/// older ones keep the index they were made with.
pub fn index_from_stats(r: &StatementResult) -> Option<String> {
    r.series
        .iter()
        .filter(|s| s.name == "shard")
        .filter_map(|s| {
            let id: u64 = s.tags.get("id")?.parse().ok()?;
            Some((id, s.tags.get("indexType")?))
        })
        .max_by_key(|(id, _)| *id)
        .map(|(_, index)| index.clone())
}

/// Reads the limits out of a `SHOW DIAGNOSTICS` answer.
pub fn from_diagnostics(r: &StatementResult) -> ServerLimits {
    let value = |series: &str, column: &str| {
        let s = r.series.iter().find(|s| s.name == series)?;
        s.values.first()?.get(s.column(column)?).cloned()
    };
    let number = |series: &str, column: &str| value(series, column)?.as_u64();
    ServerLimits {
        max_select_point: number("config-coordinator", "max-select-point"),
        max_select_series: number("config-coordinator", "max-select-series"),
        query_timeout: value("config-coordinator", "query-timeout")
            .and_then(|v| v.as_str().map(str::to_string)),
        max_row_limit: number("config-httpd", "max-row-limit"),
        max_series_per_database: number("config-data", "max-series-per-database"),
        max_values_per_tag: number("config-data", "max-values-per-tag"),
        gomaxprocs: number("runtime", "GOMAXPROCS"),
        index: None,
    }
}

/// The server's limits, or `None` when it will not say (no admin rights, or an older
/// server): the run then keeps its defaults, and `plan` says so.
pub async fn server_limits(client: &Client) -> Option<ServerLimits> {
    match client.query(None, "SHOW DIAGNOSTICS").await {
        Ok(r) => {
            let mut limits = from_diagnostics(&r);
            // Admin like SHOW DIAGNOSTICS; an answer without the tag leaves it unknown.
            limits.index = match client.query(None, "SHOW STATS FOR 'shard'").await {
                Ok(stats) => index_from_stats(&stats),
                Err(e) => {
                    tracing::debug!(error = %e, "cannot read SHOW STATS FOR 'shard'");
                    None
                }
            };
            Some(limits)
        }
        // Read first thing in a run: the next statement reports a server that cannot
        // be reached, in the one line a setup error gets.
        Err(
            e @ (ClientError::Unreachable { .. }
            | ClientError::Dropped { .. }
            | ClientError::Timeout { .. }),
        ) => {
            tracing::debug!(error = %e, "cannot read SHOW DIAGNOSTICS");
            None
        }
        Err(e) => {
            tracing::info!(error = %e, "cannot read SHOW DIAGNOSTICS (needs admin): server limits unknown, defaults apply");
            None
        }
    }
}

/// Copies to run at once when the settings leave it to the server: a quarter of its
/// CPUs, at least 2, so production queries and writes keep the rest.
pub fn concurrency_for(gomaxprocs: u64) -> usize {
    usize::try_from(gomaxprocs / 4).unwrap_or(usize::MAX).max(2)
}

/// Queries in flight at once, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Concurrency {
    /// Queries in flight at once.
    pub value: usize,
    /// Where the value comes from.
    pub from: ConcurrencyFrom,
}

/// Where a run's concurrency comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ConcurrencyFrom {
    /// `--concurrency`, `run.concurrency` or `ITM__RUN__CONCURRENCY`.
    Setting,
    /// [`concurrency_for`] the server's `GOMAXPROCS`.
    Server {
        /// What the server reported.
        gomaxprocs: u64,
    },
    /// The server did not say (no admin rights): [`FALLBACK_CONCURRENCY`].
    Fallback,
}

/// The concurrency a run uses: the one set wins; else a quarter of the server's CPUs
/// ([`concurrency_for`]); else, without `SHOW DIAGNOSTICS`, [`FALLBACK_CONCURRENCY`].
pub fn choose_concurrency(setting: Option<usize>, limits: Option<&ServerLimits>) -> Concurrency {
    let (value, from) = match (setting, limits.and_then(|l| l.gomaxprocs)) {
        (Some(n), _) => (n, ConcurrencyFrom::Setting),
        (None, Some(g)) => (
            concurrency_for(g),
            ConcurrencyFrom::Server { gomaxprocs: g },
        ),
        (None, None) => (FALLBACK_CONCURRENCY, ConcurrencyFrom::Fallback),
    };
    Concurrency { value, from }
}

impl Concurrency {
    /// Why, for `plan`.
    pub fn reason(&self) -> String {
        match self.from {
            ConcurrencyFrom::Setting => "set by --concurrency / run.concurrency".into(),
            ConcurrencyFrom::Server { gomaxprocs } => format!(
                "a quarter of the server's GOMAXPROCS {gomaxprocs}, at least 2, leaving the rest to production traffic; --concurrency overrides"
            ),
            ConcurrencyFrom::Fallback => format!(
                "the server's CPUs are unknown (SHOW DIAGNOSTICS needs admin rights): {FALLBACK_CONCURRENCY}; --concurrency overrides"
            ),
        }
    }
}

impl ServerLimits {
    /// Lines for `plan`: each known limit, 0 shown as "none".
    pub fn render(&self) -> String {
        let n = |v: Option<u64>| match v {
            None => "unknown".to_string(),
            Some(0) => "none".to_string(),
            Some(x) => x.to_string(),
        };
        format!(
            "server limits (SHOW DIAGNOSTICS): max-select-point {}, max-select-series {}, query-timeout {}, max-row-limit {}, max-series-per-database {}, max-values-per-tag {}, GOMAXPROCS {}, index {}\n",
            n(self.max_select_point),
            n(self.max_select_series),
            match self.query_timeout.as_deref() {
                None => "unknown",
                Some("0s") => "none",
                Some(t) => t,
            },
            n(self.max_row_limit),
            n(self.max_series_per_database),
            n(self.max_values_per_tag),
            n(self.gomaxprocs),
            self.index.as_deref().unwrap_or("unknown"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The limits are read from the series and columns InfluxDB 1.6.7 answers with;
    /// a missing series leaves its values unknown.
    #[test]
    fn reads_diagnostics() {
        let r: StatementResult = serde_json::from_str(
            r#"{"series":[
              {"name":"config-coordinator","columns":["log-queries-after","max-concurrent-queries","max-select-buckets","max-select-point","max-select-series","query-timeout","write-timeout"],"values":[["0s",0,0,5000000,100000,"1m0s","10s"]]},
              {"name":"config-data","columns":["max-series-per-database","max-values-per-tag"],"values":[[1000000,100000]]},
              {"name":"runtime","columns":["GOARCH","GOMAXPROCS","GOOS","version"],"values":[["amd64",16,"linux","go1.19.8"]]}]}"#,
        )
        .unwrap();
        let l = from_diagnostics(&r);
        assert_eq!(l.max_select_point, Some(5_000_000));
        assert_eq!(l.max_select_series, Some(100_000));
        assert_eq!(l.query_timeout.as_deref(), Some("1m0s"));
        assert_eq!(l.max_row_limit, None);
        assert_eq!(l.max_series_per_database, Some(1_000_000));
        assert_eq!(l.max_values_per_tag, Some(100_000));
        assert_eq!(l.gomaxprocs, Some(16));
        let text = l.render();
        assert!(text.contains("max-select-point 5000000"), "{text}");
        assert!(text.contains("max-row-limit unknown"), "{text}");
    }

    /// The index is the newest shard's, as 1.8+ tag it; 1.6.7's untagged shards leave
    /// it unknown.
    #[test]
    fn reads_index_from_shard_stats() {
        let stats = |tags: &str| -> StatementResult {
            serde_json::from_str(&format!(r#"{{"series":[{tags}]}}"#)).unwrap()
        };
        let r = stats(
            r#"{"name":"shard","tags":{"database":"a","id":"9","indexType":"tsi1"},"columns":["diskBytes"],"values":[[1]]},
               {"name":"shard","tags":{"database":"a","id":"10","indexType":"inmem"},"columns":["diskBytes"],"values":[[1]]},
               {"name":"shard","tags":{"database":"b","id":"2","indexType":"tsi1"},"columns":["diskBytes"],"values":[[1]]}"#,
        );
        assert_eq!(index_from_stats(&r).as_deref(), Some("inmem"));
        let r = stats(
            r#"{"name":"shard","tags":{"database":"a","id":"1","engine":"tsm1"},"columns":["diskBytes"],"values":[[1]]}"#,
        );
        assert_eq!(index_from_stats(&r), None);
    }

    /// A quarter of the server's CPUs, never fewer than two.
    #[test]
    fn concurrency_from_cpus() {
        assert_eq!(concurrency_for(1), 2);
        assert_eq!(concurrency_for(2), 2);
        assert_eq!(concurrency_for(16), 4);
        assert_eq!(concurrency_for(64), 16);
    }

    /// A concurrency that is set wins over the server's CPUs; "auto" takes a quarter of
    /// them; without `SHOW DIAGNOSTICS` (or without GOMAXPROCS in it) it is 2.
    #[test]
    fn setting_wins_then_server_then_fallback() {
        let cpus = |g| ServerLimits {
            gomaxprocs: Some(g),
            ..ServerLimits::default()
        };
        let c = choose_concurrency(Some(3), Some(&cpus(32)));
        assert_eq!((c.value, c.from), (3, ConcurrencyFrom::Setting));
        let c = choose_concurrency(None, Some(&cpus(32)));
        assert_eq!(c.value, 8);
        assert_eq!(c.from, ConcurrencyFrom::Server { gomaxprocs: 32 });
        assert!(c.reason().contains("GOMAXPROCS 32"), "{}", c.reason());
        let c = choose_concurrency(None, None);
        assert_eq!((c.value, c.from), (2, ConcurrencyFrom::Fallback));
        assert!(c.reason().contains("needs admin"), "{}", c.reason());
        let c = choose_concurrency(None, Some(&ServerLimits::default()));
        assert_eq!((c.value, c.from), (2, ConcurrencyFrom::Fallback));
    }
}
