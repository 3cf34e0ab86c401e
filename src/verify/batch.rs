//! Many chunks checked in a few requests: the checks of chunks with the same window,
//! tenant tag and fields share one source statement grouped by the tenant tag, and
//! the target statements (one per chunk: each tenant has its own database) go a
//! hundred to a request.
//!
//! Why: on many small tenants, one check per chunk costs a request and a statement
//! planned over the source's series index per chunk; the grouped statement reads
//! the same points once for a hundred tenants (measured in docs/BENCHMARKS.md, issue
//! 13). What a check proves is unchanged: per chunk and measurement, the same counts
//! and sums as [`Verifier::try_check`] compares.

use crate::core::interval::Interval;
use crate::influx::answer::StatementResult;
use crate::influx::error::ClientError;
use crate::influx::multi;
use crate::influx::statement::{self as influxql, Rp};
use crate::verify::figures::{
    checked_fields, figures_query, series_figures, CheckedField, ChunkCheck, Figures, Subject,
    Verifier,
};
use std::collections::{BTreeMap, BTreeSet};

/// Tenants in one grouped source statement.
pub const TENANTS_PER_STATEMENT: usize = 100;

/// What chunks must share to be checked by one grouped source statement.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct GroupKey {
    source_db: String,
    source_rp: String,
    tag: String,
    window: Interval,
    fields: Vec<(String, u8)>,
}

/// The grouped source statement: the figures of `fields` in `measurements`, for the
/// listed tenants only, one series per measurement and tenant.
pub fn grouped_query(
    from: &Rp<'_>,
    measurements: &[String],
    fields: &[CheckedField],
    tag: &str,
    tenants: &[&str],
    window: Interval,
) -> String {
    let plain = figures_query(from, measurements, fields, None, window);
    let filter: Vec<String> = tenants
        .iter()
        .map(|t| influxql::tenant_filter(tag, t))
        .collect();
    // figures_query ends with "WHERE time >= a AND time < b": the tenant filter goes in
    // front of the time range, the grouping after it.
    let (head, time) = plain
        .split_once(" WHERE ")
        .expect("figures statements have a WHERE clause");
    format!(
        "{head} WHERE ({}) AND {time} GROUP BY {}",
        filter.join(" OR "),
        influxql::ident(tag)
    )
}

/// Reads a grouped statement's answer: figures per tenant (the `tag` of each series).
pub fn parse_grouped(
    r: &StatementResult,
    fields: &[CheckedField],
    tag: &str,
) -> Result<BTreeMap<String, Figures>, String> {
    let mut out: BTreeMap<String, Figures> = BTreeMap::new();
    for s in &r.series {
        let tenant = s
            .tags
            .get(tag)
            .ok_or_else(|| format!("series {:?} is not grouped by {tag:?}", s.name))?;
        if let Some(per_field) = series_figures(s, fields)? {
            out.entry(tenant.clone())
                .or_default()
                .entry(s.name.clone())
                .or_default()
                .extend(per_field);
        }
    }
    Ok(out)
}

/// A statement's own result, or its error as a [`ClientError`].
fn answered(r: Result<StatementResult, ClientError>) -> Result<StatementResult, ClientError> {
    let r = r?;
    match &r.error {
        Some(e) => Err(ClientError::Statement {
            message: e.to_string(),
        }),
        None => Ok(r),
    }
}

impl Verifier<'_> {
    /// Checks many chunks in few requests; each chunk gets its own check or error, in
    /// order. A chunk whose grouped statement failed (a server limit, say) gets that
    /// error: the caller checks it alone.
    pub async fn try_check_many(
        &self,
        subjects: &[Subject],
        now_ns: i64,
    ) -> Vec<Result<ChunkCheck, ClientError>> {
        let mut out: Vec<Option<Result<ChunkCheck, ClientError>>> =
            subjects.iter().map(|_| None).collect();
        let mut groups: BTreeMap<GroupKey, Vec<usize>> = BTreeMap::new();
        for (i, s) in subjects.iter().enumerate() {
            match self.window_to_check(s, now_ns) {
                Ok(window) => {
                    groups.entry(self.group_key(s, window)).or_default().push(i);
                }
                Err(done) => out[i] = Some(Ok(*done)),
            }
        }
        let (statements, plan) = self.source_statements(subjects, &groups);
        let targets: Vec<(usize, String)> = groups
            .iter()
            .flat_map(|(k, ix)| ix.iter().map(move |&i| (i, k.window)))
            .map(|(i, w)| (i, self.target_query(&subjects[i], w)))
            .collect();
        let target_statements: Vec<String> = targets.iter().map(|(_, q)| q.clone()).collect();
        let per = multi::STATEMENTS_PER_REQUEST;
        // Side by side: each request runs its statements on one server core.
        let (source, target) = futures::join!(
            multi::query_each(self.client, None, &statements, per, 1),
            multi::query_each(self.target_client(), None, &target_statements, per, 1)
        );
        let source = match source {
            Ok(s) => s,
            Err(e) => return fail_all(out, &e),
        };
        let target = match target {
            Ok(t) => t,
            Err(e) => return fail_all(out, &e),
        };
        let mut target_of: BTreeMap<usize, Result<StatementResult, ClientError>> = targets
            .iter()
            .map(|(i, _)| *i)
            .zip(target.into_iter().map(answered))
            .collect();
        for ((key, members), answer) in plan.into_iter().zip(source) {
            let fields = self.fields_of(&subjects[members[0]]);
            let grouped = answered(answer).and_then(|r| {
                parse_grouped(&r, &fields, &key.tag)
                    .map_err(|e| self.undecodable(format!("source figures: {e}")))
            });
            for i in members {
                let s = &subjects[i];
                let result = match (&grouped, target_of.remove(&i).expect("target asked")) {
                    (Err(e), _) => Err(shared(e)),
                    (_, Err(e)) => Err(e),
                    (Ok(by_tenant), Ok(t)) => crate::verify::figures::parse_figures(&t, &fields)
                        .map_err(|e| self.undecodable(format!("target figures: {e}")))
                        .map(|b| {
                            let empty = Figures::new();
                            let a = by_tenant.get(&s.tenant).unwrap_or(&empty);
                            self.judge(s, key.window, a, &b)
                        }),
                };
                out[i] = Some(result);
            }
        }
        out.into_iter()
            .map(|r| r.expect("every subject answered"))
            .collect()
    }

    fn fields_of(&self, s: &Subject) -> Vec<CheckedField> {
        checked_fields(self.fields, &s.measurements)
    }

    fn group_key(&self, s: &Subject, window: Interval) -> GroupKey {
        GroupKey {
            source_db: s.source_db.clone(),
            source_rp: s.source_rp.clone(),
            tag: self.tenants.tag_of_batch(&s.measurements).to_string(),
            window,
            fields: self
                .fields_of(s)
                .into_iter()
                .map(|f| (f.name, f.sum as u8))
                .collect(),
        }
    }

    /// One source statement per group and per [`TENANTS_PER_STATEMENT`] tenants of
    /// it, with the members each statement answers for.
    fn source_statements(
        &self,
        subjects: &[Subject],
        groups: &BTreeMap<GroupKey, Vec<usize>>,
    ) -> (Vec<String>, Vec<(GroupKey, Vec<usize>)>) {
        let mut statements = Vec::new();
        let mut plan = Vec::new();
        for (key, members) in groups {
            let mut by_tenant: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
            for &i in members {
                by_tenant.entry(&subjects[i].tenant).or_default().push(i);
            }
            let tenants: Vec<(&str, Vec<usize>)> = by_tenant.into_iter().collect();
            for part in tenants.chunks(TENANTS_PER_STATEMENT) {
                let ids: Vec<usize> = part.iter().flat_map(|(_, ix)| ix.clone()).collect();
                let measurements: BTreeSet<&String> = ids
                    .iter()
                    .flat_map(|&i| &subjects[i].measurements)
                    .collect();
                let measurements: Vec<String> = measurements.into_iter().cloned().collect();
                let names: Vec<&str> = part.iter().map(|(t, _)| *t).collect();
                let from = Rp {
                    db: &key.source_db,
                    rp: &key.source_rp,
                };
                let fields = self.fields_of(&subjects[ids[0]]);
                statements.push(grouped_query(
                    &from,
                    &measurements,
                    &fields,
                    &key.tag,
                    &names,
                    key.window,
                ));
                plan.push((key.clone(), ids));
            }
        }
        (statements, plan)
    }

    fn undecodable(&self, reason: String) -> ClientError {
        ClientError::Decode {
            url: self.client.url().to_string(),
            reason,
        }
    }
}

/// A failure shared by several chunks, each of which gets its own copy of the text:
/// the caller checks every one of them alone, which gives each its own error.
fn shared(e: &ClientError) -> ClientError {
    ClientError::Statement {
        message: e.to_string(),
    }
}

/// Every subject not yet answered gets `e`.
fn fail_all(
    out: Vec<Option<Result<ChunkCheck, ClientError>>>,
    e: &ClientError,
) -> Vec<Result<ChunkCheck, ClientError>> {
    out.into_iter()
        .map(|r| r.unwrap_or_else(|| Err(shared(e))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::figures::SumKind;

    fn fields() -> Vec<CheckedField> {
        vec![
            CheckedField {
                name: "value".into(),
                sum: SumKind::Float,
            },
            CheckedField {
                name: "value_meta".into(),
                sum: SumKind::None,
            },
        ]
    }

    /// The grouped statement filters to the listed tenants (quoted), keeps the time
    /// range and groups by the tenant tag.
    #[test]
    fn grouped_query_text() {
        let from = Rp {
            db: "monasca",
            rp: "autogen",
        };
        let q = grouped_query(
            &from,
            &["cpu".to_string(), "mem".to_string()],
            &fields(),
            "_tenant_id",
            &["a", "o'b"],
            Interval::new(10, 20),
        );
        assert_eq!(
            q,
            "SELECT count(\"value\"::field) AS \"c0\", sum(\"value\"::field) AS \"s0\", \
             count(\"value_meta\"::field) AS \"c1\" FROM \"monasca\".\"autogen\".\"cpu\",\
             \"monasca\".\"autogen\".\"mem\" WHERE (\"_tenant_id\"::tag = 'a' OR \
             \"_tenant_id\"::tag = 'o\\'b') AND time >= 10 AND time < 20 GROUP BY \"_tenant_id\""
        );
    }

    /// A grouped answer splits into figures per tenant and measurement; a series
    /// without the tag is an error, not figures of nobody.
    #[test]
    fn grouped_answer_parsed_per_tenant() {
        let r: StatementResult = serde_json::from_value(serde_json::json!({
            "statement_id": 0,
            "series": [
                {"name": "cpu", "tags": {"_tenant_id": "a"}, "columns": ["time", "c0", "s0", "c1"],
                 "values": [[0, 3, 1.5, 3]]},
                {"name": "mem", "tags": {"_tenant_id": "a"}, "columns": ["time", "c0", "s0", "c1"],
                 "values": [[0, 2, 4, null]]},
                {"name": "cpu", "tags": {"_tenant_id": "b"}, "columns": ["time", "c0", "s0", "c1"],
                 "values": [[0, 1, 7, 1]]}
            ]
        }))
        .unwrap();
        let by = parse_grouped(&r, &fields(), "_tenant_id").unwrap();
        assert_eq!(by.len(), 2);
        assert_eq!(by["a"]["cpu"]["value"].count, 3);
        assert_eq!(by["a"]["mem"]["value"].count, 2);
        assert!(!by["a"]["mem"].contains_key("value_meta"));
        assert_eq!(by["b"]["cpu"]["value_meta"].count, 1);
        assert!(parse_grouped(&r, &fields(), "tenant_id").is_err());
    }
}
