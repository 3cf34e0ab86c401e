//! Complete answers or an error: a chunked `/query` answer put back together
//! statement by statement, and refused when it is still marked `partial`. Pure.
//!
//! Every query asks for a chunked answer because InfluxDB 1.x cuts a non-chunked one
//! at `[http] max-row-limit` rows and only flags the cut; chunked answers are never
//! cut. In them `partial: true` means "more follows": on a result, more objects of the
//! same statement; on a series, its rows continue in the next object. An answer whose
//! last word is still `partial` was cut short (a server setting, or something between
//! us and the server), and is never read as data.

use crate::influx::answer::{QueryResponse, Series, StatementResult};
use crate::influx::error::ClientError;
use crate::influx::lines::LineSplitter;

/// Rows per object of a chunked answer: InfluxDB's own default, so that the server
/// batches `SELECT ... INTO` writes exactly as it does for a non-chunked request.
pub const CHUNK_ROWS: usize = 10_000;

/// The longest statement text an error quotes.
const QUOTED_CHARS: usize = 160;

/// Statement results being put back together from the objects of one answer.
#[derive(Debug, Default)]
pub struct Assembler {
    results: Vec<StatementResult>,
}

impl Assembler {
    /// Adds the next result of the answer: a continuation of the statement before it
    /// is merged into it (rows of the same series appended), another statement's result
    /// starts a new one.
    pub fn push(&mut self, r: StatementResult) {
        let Some(last) = self
            .results
            .last_mut()
            .filter(|l| l.statement_id == r.statement_id)
        else {
            self.results.push(r);
            return;
        };
        if r.error.is_some() {
            // InfluxDB reports a failure after data this way; the failure wins.
            last.error = r.error;
            last.partial = false;
            return;
        }
        for s in r.series {
            match last.series.last_mut().filter(|l| same_series(l, &s)) {
                Some(l) => {
                    l.values.extend(s.values);
                    l.partial = s.partial;
                }
                None => last.series.push(s),
            }
        }
        last.partial = r.partial;
    }

    /// The complete results, in statement order; an answer still marked partial at its
    /// end is [`ClientError::Partial`] naming the statement (`query` is the request's
    /// text).
    pub fn finish(self, url: &str, query: &str) -> Result<Vec<StatementResult>, ClientError> {
        if let Some(cut) = self.results.iter().find(|r| is_cut(r)) {
            return Err(ClientError::Partial {
                url: url.to_string(),
                statement: statement_text(query, cut.statement_id),
            });
        }
        Ok(self.results)
    }
}

/// Whether a finished result still says more was to follow. A failed statement is
/// reported by its error instead.
fn is_cut(r: &StatementResult) -> bool {
    r.error.is_none() && (r.partial || r.series.iter().any(|s| s.partial))
}

/// Rows of `b` continue series `a`: InfluxDB's own test (name and tags), plus the
/// columns, without which the rows could not be read together.
fn same_series(a: &Series, b: &Series) -> bool {
    a.name == b.name && a.tags == b.tags && a.columns == b.columns
}

/// Reads a whole `/query` body (one JSON object per line when chunked, one object when
/// not) into complete statement results. A top-level error is
/// [`ClientError::Statement`]; statement errors stay in their results.
pub fn assemble(url: &str, query: &str, body: &[u8]) -> Result<Vec<StatementResult>, ClientError> {
    let mut lines = LineSplitter::default();
    lines.push(body);
    let mut assembler = Assembler::default();
    let mut read = |line: &[u8]| -> Result<(), ClientError> {
        if line.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        let obj: QueryResponse = serde_json::from_slice(line).map_err(|e| ClientError::Decode {
            url: url.to_string(),
            reason: e.to_string(),
        })?;
        if let Some(message) = obj.error {
            return Err(ClientError::Statement { message });
        }
        obj.results.into_iter().for_each(|r| assembler.push(r));
        Ok(())
    };
    while let Some(line) = lines.next_line() {
        read(&line)?;
    }
    read(&lines.take_rest())?;
    assembler.finish(url, query)
}

/// The text of statement `id` of a request, shortened for one line of error. Splitting
/// at `;` can misplace a statement holding a quoted `;`: then the whole text is quoted.
pub fn statement_text(query: &str, id: usize) -> String {
    let parts: Vec<&str> = query
        .split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    let text = match parts.get(id) {
        Some(p) if parts.len() > 1 => p,
        _ => query.trim(),
    };
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().count() <= QUOTED_CHARS {
        return text;
    }
    let mut short: String = text.chars().take(QUOTED_CHARS).collect();
    short.push('…');
    short
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assemble_lines(lines: &[&str]) -> Result<Vec<StatementResult>, ClientError> {
        assemble(
            "http://db:8086",
            "SHOW TAG VALUES; SELECT 1",
            lines.join("\n").as_bytes(),
        )
    }

    /// A series continued across objects (partial on the series and the result) comes
    /// back as one series with every row; the next statement's result stays apart.
    #[test]
    fn continued_series_are_joined() {
        let r = assemble_lines(&[
            r#"{"results":[{"statement_id":0,"series":[{"name":"m","tags":{"t":"a"},"columns":["time","v"],"values":[[1,1],[2,2]],"partial":true}],"partial":true}]}"#,
            r#"{"results":[{"statement_id":0,"series":[{"name":"m","tags":{"t":"a"},"columns":["time","v"],"values":[[3,3]]},{"name":"m","tags":{"t":"b"},"columns":["time","v"],"values":[[4,4]]}]}]}"#,
            r#"{"results":[{"statement_id":1,"series":[{"name":"n","columns":["time","w"],"values":[[5,5]]}]}]}"#,
            "",
        ])
        .unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].series.len(), 2);
        assert_eq!(r[0].series[0].values.len(), 3);
        assert!(!r[0].series[0].partial);
        assert_eq!(r[0].series[1].tags["t"], "b");
        assert_eq!(r[1].statement_id, 1);
        assert_eq!(r[1].series[0].name, "n");
    }

    /// SHOW TAG VALUES sends one object per measurement, none partial: all are kept,
    /// in order, as one result.
    #[test]
    fn one_object_per_measurement() {
        let r = assemble_lines(&[
            r#"{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["key","value"],"values":[["_tenant_id","t1"]]}]}]}"#,
            r#"{"results":[{"statement_id":0,"series":[{"name":"mem","columns":["key","value"],"values":[["_tenant_id","t1"],["_tenant_id","t2"]]}]}]}"#,
        ])
        .unwrap();
        assert_eq!(r.len(), 1);
        let names: Vec<_> = r[0].series.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["cpu", "mem"]);
    }

    /// An answer ending with partial on the result, or on a series (how a non-chunked
    /// answer cut at max-row-limit looks), is an error naming the statement and the
    /// setting, never data.
    #[test]
    fn answers_ending_partial_are_refused() {
        for last in [
            r#"{"results":[{"statement_id":1,"series":[{"name":"n","columns":["v"],"values":[[1]]}],"partial":true}]}"#,
            r#"{"results":[{"statement_id":1,"series":[{"name":"n","columns":["v"],"values":[[1]],"partial":true}]}]}"#,
        ] {
            let first = r#"{"results":[{"statement_id":0}]}"#;
            let e = assemble_lines(&[first, last]).unwrap_err();
            assert!(
                matches!(&e, ClientError::Partial { statement, .. } if statement == "SELECT 1")
            );
            let text = e.to_string();
            assert!(text.contains("`SELECT 1`"), "{text}");
            assert!(text.contains("max-row-limit"), "{text}");
            assert!(!text.contains('\n'), "{text}");
            assert_eq!(e.class(), crate::influx::error::FailureClass::Permanent);
        }
    }

    /// A statement that failed after sending data keeps its error, not the data; a
    /// top-level error is an error; a body that is not JSON does not decode.
    #[test]
    fn errors_are_kept_or_returned() {
        let r = assemble_lines(&[
            r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["v"],"values":[[1]],"partial":true}],"partial":true}]}"#,
            r#"{"results":[{"statement_id":0,"error":"query-timeout limit exceeded"}]}"#,
        ])
        .unwrap();
        assert_eq!(r[0].error.as_deref(), Some("query-timeout limit exceeded"));
        let e = assemble_lines(&[r#"{"error":"error parsing query: found X"}"#]).unwrap_err();
        assert!(matches!(e, ClientError::Statement { .. }));
        assert!(matches!(
            assemble_lines(&["{nope"]).unwrap_err(),
            ClientError::Decode { .. }
        ));
        assert!(assemble_lines(&[""]).unwrap().is_empty());
    }

    /// A non-chunked answer (one object, as a server that ignores `chunked` sends)
    /// reads the same.
    #[test]
    fn non_chunked_answer_reads() {
        let body = br#"{"results":[{"statement_id":0,"series":[{"name":"databases","columns":["name"],"values":[["monasca"]]}]}]}"#;
        let r = assemble("u", "SHOW DATABASES", body).unwrap();
        assert_eq!(r[0].series[0].values.len(), 1);
    }

    /// Statements are picked from multi-statement requests and shortened to one line.
    #[test]
    fn statement_texts() {
        assert_eq!(statement_text("SHOW DATABASES", 0), "SHOW DATABASES");
        assert_eq!(statement_text("SELECT 1; SELECT 2", 1), "SELECT 2");
        assert_eq!(statement_text("SELECT 1;\n  SELECT\n 2", 1), "SELECT 2");
        assert_eq!(statement_text("SELECT 1", 5), "SELECT 1");
        let long = format!("SELECT {}", "x".repeat(500));
        assert_eq!(statement_text(&long, 0).chars().count(), QUOTED_CHARS + 1);
    }
}
