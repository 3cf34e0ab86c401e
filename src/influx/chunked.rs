//! Reading a chunked `/query` response as it arrives: InfluxDB sends one JSON object
//! per chunk, each ended by a newline (JSON strings carry newlines escaped, so a raw
//! newline always ends an object). Only the object being read is held in memory.

use crate::influx::answer::{Series, StatementResult};

use crate::influx::client::Client;

use crate::influx::error::ClientError;
use crate::influx::lines::LineSplitter;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct ChunkObject {
    #[serde(default)]
    results: Vec<StatementResult>,
    #[serde(default)]
    error: Option<String>,
}

/// Parses one object of a chunked response into its series, and whether it says more
/// is to follow (`partial` on its last result or last series: the last object of a
/// whole answer never does). An error inside it (InfluxDB reports a failure after data
/// chunks this way) is returned as one.
fn parse_chunk(url: &str, line: &[u8]) -> Result<(Vec<Series>, bool), ClientError> {
    let obj: ChunkObject = serde_json::from_slice(line).map_err(|e| ClientError::Decode {
        url: url.to_string(),
        reason: format!("chunked response object: {e}"),
    })?;
    if let Some(message) = obj.error {
        return Err(ClientError::Statement { message });
    }
    let more = obj
        .results
        .last()
        .is_some_and(|r| r.partial || r.series.last().is_some_and(|s| s.partial));
    let mut out = Vec::new();
    for r in obj.results {
        if let Some(message) = r.error {
            return Err(ClientError::Statement { message });
        }
        out.extend(r.series);
    }
    Ok((out, more))
}

/// A chunked query response being read.
#[derive(Debug)]
pub struct ChunkedResponse {
    client: Client,
    resp: reqwest::Response,
    lines: LineSplitter,
    ended: bool,
    /// The last object read said more was to follow.
    more: bool,
    /// The statement, for the error when the answer ends while more was to follow.
    statement: String,
    /// Counts the request as waiting on the server until the answer is read or
    /// dropped.
    waiting: Option<crate::influx::liveness::InFlight>,
}

impl ChunkedResponse {
    /// Wraps a successful response of [`Client::query_chunked`].
    pub fn new(client: Client, resp: reqwest::Response) -> Self {
        ChunkedResponse {
            client,
            resp,
            lines: LineSplitter::default(),
            ended: false,
            more: false,
            statement: String::new(),
            waiting: None,
        }
    }

    /// The series of the next chunk, or `None` at the end of the response. An answer
    /// that ends while its last object said more was to follow was cut short:
    /// [`ClientError::Partial`].
    pub async fn next_series(&mut self) -> Result<Option<Vec<Series>>, ClientError> {
        loop {
            if let Some(line) = self.lines.next_line() {
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                return self.read(&line).map(Some);
            }
            if self.ended {
                let rest = self.lines.take_rest();
                if !rest.iter().all(u8::is_ascii_whitespace) {
                    return self.read(&rest).map(Some);
                }
                if self.more {
                    return Err(ClientError::Partial {
                        url: self.client.url().to_string(),
                        statement: self.statement.clone(),
                    });
                }
                return Ok(None);
            }
            match self.resp.chunk().await {
                Ok(Some(bytes)) => {
                    if let Some(w) = &self.waiting {
                        w.answered();
                    }
                    self.lines.push(&bytes);
                }
                Ok(None) => {
                    self.ended = true;
                    self.waiting = None;
                }
                Err(e) => return Err(self.client.transport_error(e)),
            }
        }
    }

    fn read(&mut self, line: &[u8]) -> Result<Vec<Series>, ClientError> {
        let (series, more) = parse_chunk(self.client.url(), line)?;
        self.more = more;
        Ok(series)
    }
}

impl Client {
    /// Starts a chunked query (`chunked=true`, `chunk_size` rows per JSON object,
    /// `epoch=ns`) and returns the response to read object by object, so a result of
    /// any size is never held whole.
    pub async fn query_chunked(
        &self,
        db: &str,
        q: &str,
        chunk_size: usize,
    ) -> Result<ChunkedResponse, ClientError> {
        let size = chunk_size.to_string();
        let form: [(&str, &str); 5] = [
            ("q", q),
            ("db", db),
            ("epoch", "ns"),
            ("chunked", "true"),
            ("chunk_size", &size),
        ];
        let (resp, waiting) = self.post_query(&form).await?;
        let status = resp.status();
        if !status.is_success() {
            let body = resp.bytes().await.map_err(|e| self.transport_error(e))?;
            return Err(self.status_error(status, &body));
        }
        let mut answer = ChunkedResponse::new(self.clone(), resp);
        answer.statement = crate::influx::complete::statement_text(q, 0);
        answer.waiting = Some(waiting);
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Data objects give their series and whether more follows; an error object (sent
    /// after data) is an error.
    #[test]
    fn objects_and_errors() {
        let (s, more) = parse_chunk(
            "u",
            br#"{"results":[{"statement_id":0,"series":[{"name":"m","tags":{"t":"x"},"columns":["time","v"],"values":[[1,2]]}],"partial":true}]}"#,
        )
        .unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].tags["t"], "x");
        assert!(more);
        let (_, more) = parse_chunk(
            "u",
            br#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","v"],"values":[[1,2]]}]}]}"#,
        )
        .unwrap();
        assert!(!more);
        let e = parse_chunk(
            "u",
            br#"{"results":[{"statement_id":0,"error":"query-timeout limit exceeded"}]}"#,
        )
        .unwrap_err();
        assert_eq!(e.class(), crate::influx::error::FailureClass::TooBig);
        assert!(parse_chunk("u", b"{not json").is_err());
    }
}
