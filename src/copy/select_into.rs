//! Server-side copies: `SELECT ... INTO` on the server that holds both the source and
//! the target databases, plain ([`SelectInto`]) or with a rewrite ([`RewrittenSelectInto`]).
//!
//! A rewrite is the optional changes made on the way to the target: tags dropped (for
//! example the now-redundant tenant tag) and measurements renamed by regex. Applied to
//! points when they are streamed ([`crate::influx::lineproto`]) and, server-side, by
//! rewriting the `SELECT INTO` statements.
//!
//! The ledger does not record transforms: coverage says which source points reached
//! which target database, whatever they were renamed to.

use crate::config::TenantSettings;
use crate::copy::transfer::{ManyResults, Transfer};
use crate::core::rewrite::Rewrite;
use crate::influx::answer::written;
use crate::influx::client::Client;
use crate::influx::error::ClientError;
use crate::influx::multi::{self, STATEMENTS_PER_REQUEST};
use crate::influx::statement::{self as influxql, Rp};
use crate::plan::Chunk;
use futures::future::BoxFuture;
use std::collections::{BTreeMap, BTreeSet};

/// Server-side copy: one `SELECT * INTO ... GROUP BY *` per chunk, on the server
/// that holds both the source and the target databases.
#[derive(Debug, Clone)]
pub struct SelectInto<'a> {
    /// Client of the server.
    pub client: &'a Client,
    /// Source database and retention policy.
    pub source: Rp<'a>,
    /// Tenant tag keys (per measurement).
    pub tenants: &'a TenantSettings,
}

impl Transfer for SelectInto<'_> {
    fn target_url(&self) -> &str {
        ""
    }

    fn describe(&self, chunk: &Chunk) -> String {
        let target = Rp {
            db: &chunk.target,
            rp: &chunk.target_rp,
        };
        influxql::select_into(
            &self.source,
            &target,
            &chunk.measurements,
            self.tenants.tag_of_batch(&chunk.measurements),
            &chunk.tenant,
            chunk.window,
        )
    }

    fn transfer<'a>(&'a self, chunk: &'a Chunk) -> BoxFuture<'a, Result<u64, ClientError>> {
        Box::pin(async move {
            let q = self.describe(chunk);
            let r = self.client.query(Some(self.source.db), &q).await?;
            Ok(written(&r))
        })
    }

    fn transfer_many<'a>(&'a self, chunks: &'a [Chunk], concurrency: usize) -> ManyResults<'a> {
        let per_chunk = chunks.iter().map(|c| vec![self.describe(c)]).collect();
        Box::pin(copy_together(
            self.client,
            self.source.db,
            per_chunk,
            concurrency,
        ))
    }
}

/// Statements in one request when `n` are sent `concurrency` requests at a time: spread
/// over at least `concurrency` requests (the server runs a request's statements one
/// after the other), at most [`STATEMENTS_PER_REQUEST`] to a request.
pub fn per_request(n: usize, concurrency: usize) -> usize {
    n.div_ceil(concurrency.max(1))
        .clamp(1, STATEMENTS_PER_REQUEST)
}

/// Runs each chunk's statements, many chunks to a request ([`multi::query_each`]), and
/// returns each chunk's points written, or the error of its first failed statement.
/// `None` when a request failed as a whole; statements it ran wrote points, and
/// writing them again changes nothing.
pub async fn copy_together(
    client: &Client,
    db: &str,
    per_chunk: Vec<Vec<String>>,
    concurrency: usize,
) -> Option<Vec<Result<u64, ClientError>>> {
    let flat: Vec<String> = per_chunk.iter().flatten().cloned().collect();
    let size = per_request(flat.len(), concurrency);
    let mut results = match multi::query_each(client, Some(db), &flat, size, concurrency).await {
        Ok(r) => r.into_iter(),
        Err(e) => {
            tracing::info!(error = %e, statements = flat.len(), "copying open windows together failed; copying them one by one");
            return None;
        }
    };
    let mut out = Vec::with_capacity(per_chunk.len());
    for statements in &per_chunk {
        let mut chunk: Result<u64, ClientError> = Ok(0);
        for r in results.by_ref().take(statements.len()) {
            chunk = match (chunk, r) {
                (Ok(points), Ok(r)) => Ok(points + written(&r)),
                (Err(e), _) | (Ok(_), Err(e)) => Err(e),
            };
        }
        out.push(chunk);
    }
    Some(out)
}

/// The `SELECT INTO` statements that copy one chunk with a rewrite. Measurements that
/// keep their names share one statement into `:MEASUREMENT`; a renamed measurement
/// cannot use `:MEASUREMENT` and gets a statement of its own. With dropped tags each
/// statement groups by the union of the other tag keys of its measurements: a tag key
/// left out of the list would be lost for the measurements that have it, and one a
/// measurement lacks is reported empty and not written.
pub fn statements(
    source: &Rp<'_>,
    chunk: &Chunk,
    tag: &str,
    tag_keys: &BTreeMap<String, BTreeSet<String>>,
    rewrite: &Rewrite,
) -> Vec<String> {
    let target = Rp {
        db: &chunk.target,
        rp: &chunk.target_rp,
    };
    let group = |ms: &[String]| -> Option<Vec<String>> {
        if rewrite.drop_tags.is_empty() {
            return None;
        }
        let keys: BTreeSet<&String> = ms
            .iter()
            .flat_map(|m| tag_keys.get(m).into_iter().flatten())
            .filter(|k| !rewrite.drop_tags.contains(*k))
            .collect();
        Some(keys.into_iter().cloned().collect())
    };
    let (kept, renamed): (Vec<String>, Vec<String>) = chunk
        .measurements
        .iter()
        .cloned()
        .partition(|m| rewrite.measurement(m) == m.as_str());
    let mut out = Vec::new();
    let statement = |into: Option<&str>, ms: &[String]| {
        influxql::select_into_as(
            source,
            &target,
            into,
            ms,
            tag,
            &chunk.tenant,
            chunk.window,
            group(ms).as_deref(),
        )
    };
    if !kept.is_empty() {
        out.push(statement(None, &kept));
    }
    for m in &renamed {
        out.push(statement(
            Some(&rewrite.measurement(m)),
            std::slice::from_ref(m),
        ));
    }
    out
}

/// Server-side copy with a rewrite: the statements of [`statements`], one after the
/// other, on the server that holds source and targets.
#[derive(Debug, Clone)]
pub struct RewrittenSelectInto<'a> {
    /// Client of the server.
    pub client: &'a Client,
    /// Source database and retention policy.
    pub source: Rp<'a>,
    /// Tenant tag keys (per measurement).
    pub tenants: &'a TenantSettings,
    /// Tag keys per measurement (from discovery).
    pub tag_keys: &'a BTreeMap<String, BTreeSet<String>>,
    /// The rewrite.
    pub rewrite: &'a Rewrite,
}

impl RewrittenSelectInto<'_> {
    fn tag(&self, chunk: &Chunk) -> &str {
        self.tenants.tag_of_batch(&chunk.measurements)
    }
}

impl Transfer for RewrittenSelectInto<'_> {
    fn target_url(&self) -> &str {
        ""
    }

    fn describe(&self, chunk: &Chunk) -> String {
        statements(
            &self.source,
            chunk,
            self.tag(chunk),
            self.tag_keys,
            self.rewrite,
        )
        .join("; ")
    }

    fn transfer<'a>(&'a self, chunk: &'a Chunk) -> BoxFuture<'a, Result<u64, ClientError>> {
        Box::pin(async move {
            let mut points = 0;
            // A failure part way leaves earlier statements' points written; the copier
            // retries the whole chunk, and writing a point twice changes nothing.
            for q in statements(
                &self.source,
                chunk,
                self.tag(chunk),
                self.tag_keys,
                self.rewrite,
            ) {
                points += written(&self.client.query(Some(self.source.db), &q).await?);
            }
            Ok(points)
        })
    }

    fn transfer_many<'a>(&'a self, chunks: &'a [Chunk], concurrency: usize) -> ManyResults<'a> {
        let per_chunk = chunks
            .iter()
            .map(|c| statements(&self.source, c, self.tag(c), self.tag_keys, self.rewrite))
            .collect();
        Box::pin(copy_together(
            self.client,
            self.source.db,
            per_chunk,
            concurrency,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::interval::Interval;
    use crate::core::window::TimeUnit;

    fn chunk(ms: &[&str]) -> Chunk {
        Chunk {
            tenant: "x".into(),
            target: "t".into(),
            target_rp: "autogen".into(),
            measurements: ms.iter().map(|s| s.to_string()).collect(),
            window: Interval::new(0, 10),
            unit: TimeUnit::Week,
            closed: true,
            retention_ns: None,
        }
    }

    fn keys(spec: &[(&str, &[&str])]) -> BTreeMap<String, BTreeSet<String>> {
        spec.iter()
            .map(|(m, ks)| (m.to_string(), ks.iter().map(|k| k.to_string()).collect()))
            .collect()
    }

    const SRC: Rp<'static> = Rp {
        db: "s",
        rp: "autogen",
    };

    /// Open windows are spread over at least as many requests as run at once, and no
    /// request carries more than the multi-statement cap.
    #[test]
    fn statements_spread_over_the_requests_in_flight() {
        assert_eq!(per_request(80, 2), 40);
        assert_eq!(per_request(3, 2), 2);
        assert_eq!(per_request(1, 4), 1);
        assert_eq!(per_request(0, 0), 1);
        assert_eq!(per_request(5_000, 4), STATEMENTS_PER_REQUEST);
    }

    /// Dropping a tag groups a batch by the union of the other tag keys of all its
    /// measurements, never by `*`, and selects only fields.
    #[test]
    fn drop_tag_groups_by_union_of_other_keys() {
        let r = Rewrite {
            drop_tags: ["_tenant_id".to_string()].into(),
            ..Rewrite::default()
        };
        let k = keys(&[
            ("a", &["_tenant_id", "host"]),
            ("b", &["_tenant_id", "dev"]),
        ]);
        let q = statements(&SRC, &chunk(&["a", "b"]), "_tenant_id", &k, &r);
        assert_eq!(q.len(), 1);
        assert!(
            q[0].starts_with("SELECT *::field INTO \"t\".\"autogen\".:MEASUREMENT"),
            "{}",
            q[0]
        );
        assert!(q[0].ends_with(r#"GROUP BY "dev","host""#), "{}", q[0]);
    }

    /// A renamed measurement gets its own statement into its new name; the others
    /// share one; no rewrite gives the plain statement.
    #[test]
    fn renamed_measurements_get_their_own_statement() {
        let r = Rewrite {
            renames: vec![(regex::Regex::new(r"^cpu\.").unwrap(), "c_".into())],
            ..Rewrite::default()
        };
        let k = keys(&[]);
        let q = statements(
            &SRC,
            &chunk(&["cpu.idle", "mem", "cpu.user"]),
            "_tenant_id",
            &k,
            &r,
        );
        assert_eq!(q.len(), 3);
        assert!(
            q[0].contains(":MEASUREMENT FROM \"s\".\"autogen\".\"mem\" "),
            "{}",
            q[0]
        );
        assert!(
            q[1].contains(r#"INTO "t"."autogen"."c_idle" FROM "s"."autogen"."cpu.idle""#),
            "{}",
            q[1]
        );
        assert!(q[2].ends_with("GROUP BY *"), "{}", q[2]);
        let plain = statements(&SRC, &chunk(&["a"]), "_tenant_id", &k, &Rewrite::default());
        assert_eq!(
            plain,
            vec![influxql::select_into(
                &SRC,
                &Rp {
                    db: "t",
                    rp: "autogen"
                },
                &["a".into()],
                "_tenant_id",
                "x",
                Interval::new(0, 10)
            )]
        );
    }
}
