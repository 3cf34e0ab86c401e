//! The JSON answers of `/query`, as plain values.

use serde::Deserialize;
use std::collections::BTreeMap;

/// One series of a statement result.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct Series {
    /// Measurement or result name.
    #[serde(default)]
    pub name: String,
    /// Group-by tags, if any.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Column names.
    #[serde(default)]
    pub columns: Vec<String>,
    /// Rows.
    #[serde(default)]
    pub values: Vec<Vec<serde_json::Value>>,
    /// More rows of this series follow (in the next object of a chunked answer), or
    /// the server cut it short (`[http] max-row-limit` on a non-chunked answer).
    #[serde(default)]
    pub partial: bool,
}

impl Series {
    /// Index of a column by name.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }
}

/// The result of one statement.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct StatementResult {
    /// Which statement of the request this answers (0 for the first).
    #[serde(default)]
    pub statement_id: usize,
    /// Series returned.
    #[serde(default)]
    pub series: Vec<Series>,
    /// Statement-level error.
    #[serde(default)]
    pub error: Option<String>,
    /// More of this statement's answer follows (chunked answers), or it was cut short.
    #[serde(default)]
    pub partial: bool,
}

#[derive(Debug, Deserialize)]
pub(super) struct QueryResponse {
    #[serde(default)]
    pub(super) results: Vec<StatementResult>,
    #[serde(default)]
    pub(super) error: Option<String>,
}

/// The `written` figure of a `SELECT ... INTO` result.
pub fn written(r: &StatementResult) -> u64 {
    r.series
        .iter()
        .filter_map(|s| {
            let i = s.column("written")?;
            s.values.first()?.get(i)?.as_u64()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The written count is read from the `result` series of SELECT INTO.
    #[test]
    fn written_count() {
        let r: StatementResult = serde_json::from_str(
            r#"{"statement_id":0,"series":[{"name":"result","columns":["time","written"],"values":[[0,42]]}]}"#,
        )
        .unwrap();
        assert_eq!(written(&r), 42);
    }
}
