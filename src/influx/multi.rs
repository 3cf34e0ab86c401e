//! Many statements in few requests. InfluxDB 1.x runs the statements of one `/query`
//! request in order and stops at the first that fails: that one and every later one
//! come back as `"not executed"` (or not at all), and the real error text is lost
//! (checked on 1.6.7, docs/INFLUXDB-NOTES.md). So only a statement with a result of
//! its own counts as run; the others are sent again, each alone, which gives each
//! one its own result or its own error.

use crate::influx::answer::StatementResult;
use crate::influx::client::Client;
use crate::influx::error::ClientError;
use futures::stream::{self, StreamExt, TryStreamExt};

/// Statements sent in one request by default: small enough that a request stays well
/// under the server's form size and a failure re-sends few statements alone.
pub const STATEMENTS_PER_REQUEST: usize = 100;

/// Runs `statements` against `db`, `per_request` to a request and `concurrency`
/// requests at a time, and returns each statement's own result or error, in order. A
/// request that fails as a whole (transport, HTTP status, parse error) fails the call.
pub async fn query_each(
    client: &Client,
    db: Option<&str>,
    statements: &[String],
    per_request: usize,
    concurrency: usize,
) -> Result<Vec<Result<StatementResult, ClientError>>, ClientError> {
    query_each_map(client, db, statements, per_request, concurrency, |r| r).await
}

/// [`query_each`], with each statement's result or error reduced by `keep` as soon as
/// its request is answered: only what `keep` returns is held until every request is
/// answered, not thousands of whole answers (e.g. a count each).
pub async fn query_each_map<T, F>(
    client: &Client,
    db: Option<&str>,
    statements: &[String],
    per_request: usize,
    concurrency: usize,
    keep: F,
) -> Result<Vec<T>, ClientError>
where
    F: Fn(Result<StatementResult, ClientError>) -> T,
{
    let keep = &keep;
    // The futures are made before they are streamed: a closure mapping the stream
    // would keep the future from being `Send` (callers box it as a `BoxFuture`).
    let requests: Vec<_> = statements
        .chunks(per_request.max(1))
        .map(|group| async move {
            let answers = run_group(client, db, group).await?;
            Ok::<Vec<T>, ClientError>(answers.into_iter().map(keep).collect())
        })
        .collect();
    let groups: Vec<Vec<T>> = stream::iter(requests)
        .buffered(concurrency.max(1))
        .try_collect()
        .await?;
    Ok(groups.into_iter().flatten().collect())
}

/// One request for `group`; statements it did not run are sent again alone.
async fn run_group(
    client: &Client,
    db: Option<&str>,
    group: &[String],
) -> Result<Vec<Result<StatementResult, ClientError>>, ClientError> {
    let results = if group.len() == 1 {
        Vec::new()
    } else {
        client.query_all(db, &group.join(";\n")).await?
    };
    // Taken out, not cloned: a group's answers are held once.
    let mut results: Vec<Option<StatementResult>> = results.into_iter().map(Some).collect();
    let mut out = Vec::with_capacity(group.len());
    for (i, statement) in group.iter().enumerate() {
        match results.get_mut(i).and_then(Option::take) {
            Some(r) if r.error.is_none() => out.push(Ok(r)),
            _ => out.push(client.query(db, statement).await),
        }
    }
    Ok(out)
}
