//! What can go wrong talking to InfluxDB, and the class of each failure.
//!
//! Errors are classified here, explicitly, because the copier decides from the class
//! whether to retry, split a chunk or give up ([`ClientError::class`]).

use std::time::Duration;

/// What kind of failure an error is, which decides what the copier does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// Worth retrying as is: the server was unreachable, restarting or overloaded.
    Transient,
    /// The query was too large for the server (limits, timeouts, a dropped
    /// connection): split the chunk rather than retry it whole.
    TooBig,
    /// Retrying cannot help: bad credentials, no permission, a parse error, a missing
    /// database.
    Permanent,
    /// The server itself cannot work (out of open files, out of disk space): no chunk
    /// can succeed until an operator fixes it, so the run stops at the first one,
    /// rather than retrying, splitting or failing chunk after chunk
    /// ([`server_advice`] says what fixes it).
    Server,
}

/// An error talking to InfluxDB.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No TCP connection could be made.
    #[error("cannot reach InfluxDB at {url}: {reason}")]
    Unreachable {
        /// Server URL.
        url: String,
        /// The innermost cause, e.g. `Connection refused (os error 111)`.
        reason: String,
    },
    /// The connection broke while the query ran.
    #[error("connection to InfluxDB at {url} dropped during the query: {reason}")]
    Dropped {
        /// Server URL.
        url: String,
        /// The innermost cause.
        reason: String,
    },
    /// The request took longer than the query timeout.
    #[error("query to InfluxDB at {url} timed out after {}", humantime::format_duration(*.after))]
    Timeout {
        /// Server URL.
        url: String,
        /// The timeout that expired.
        after: Duration,
    },
    /// The server refused the credentials (HTTP 401).
    #[error("authentication failed at {url} for user {user:?}: {message}")]
    Auth {
        /// Server URL.
        url: String,
        /// User name sent (empty when none).
        user: String,
        /// The server's message.
        message: String,
    },
    /// An InfluxDB 2.x server refused the API token (HTTP 401).
    #[error("the API token was refused at {url} (check target.token_file or ITM__TARGET__TOKEN): {message}")]
    TokenRefused {
        /// Server URL.
        url: String,
        /// The server's message.
        message: String,
    },
    /// Any other non-success HTTP status.
    #[error("InfluxDB at {url} answered HTTP {status}: {message}")]
    Http {
        /// Server URL.
        url: String,
        /// HTTP status code.
        status: u16,
        /// The server's error message or body.
        message: String,
    },
    /// A statement failed (reported inside an HTTP 200 response).
    #[error("{message}")]
    Statement {
        /// The server's error text.
        message: String,
    },
    /// The answer ended still marked `partial`: the server (its `[http] max-row-limit`)
    /// or something in between cut it short. Never read as data.
    #[error("incomplete answer from InfluxDB at {url} to `{statement}`: it ends marked \"partial\" (cut short, as the server's [http] max-row-limit cuts answers, or by a proxy in between); refusing to use it")]
    Partial {
        /// Server URL.
        url: String,
        /// The statement, shortened to one line.
        statement: String,
    },
    /// The response was not what InfluxDB sends.
    #[error("unexpected response from InfluxDB at {url}: {reason}")]
    Decode {
        /// Server URL.
        url: String,
        /// What did not parse.
        reason: String,
    },
    /// The TLS handshake was refused: the server's certificate is not trusted, or the
    /// server does not speak TLS. One line: the server, what was wrong, what fixes it.
    #[error("TLS refused for InfluxDB at {url}: {problem}; fix: {fix}")]
    Tls {
        /// Server URL.
        url: String,
        /// What was wrong, in words.
        problem: String,
        /// The setting (or certificate change) that fixes it.
        fix: String,
    },
    /// The client could not be built (TLS settings).
    #[error("cannot set up HTTP client: {0}")]
    Setup(String),
    /// A point read from the source cannot be written as line protocol unchanged.
    #[error(transparent)]
    Unwritable(#[from] crate::influx::lineproto::EncodeError),
    /// A copy that the server confirmed, but whose target still misses points after it
    /// was copied again (verification): copying once more would not help.
    #[error("{message}")]
    Unverified {
        /// What differs: measurements and figures.
        message: String,
    },
    /// A local file (export or import) could not be read or written.
    #[error("file {path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// What failed.
        reason: String,
    },
}

impl ClientError {
    /// The server the error came from, when the error names it (a statement's error
    /// does not).
    pub fn url(&self) -> Option<&str> {
        match self {
            ClientError::Unreachable { url, .. }
            | ClientError::Dropped { url, .. }
            | ClientError::Timeout { url, .. }
            | ClientError::Auth { url, .. }
            | ClientError::TokenRefused { url, .. }
            | ClientError::Http { url, .. }
            | ClientError::Partial { url, .. }
            | ClientError::Decode { url, .. }
            | ClientError::Tls { url, .. } => Some(url),
            ClientError::Statement { .. }
            | ClientError::Setup(_)
            | ClientError::Unwritable(_)
            | ClientError::Unverified { .. }
            | ClientError::File { .. } => None,
        }
    }

    /// Classifies the error; see [`FailureClass`].
    pub fn class(&self) -> FailureClass {
        match self {
            ClientError::Unreachable { .. } => FailureClass::Transient,
            ClientError::Dropped { .. } | ClientError::Timeout { .. } => FailureClass::TooBig,
            ClientError::Auth { .. }
            | ClientError::TokenRefused { .. }
            | ClientError::Setup(_)
            | ClientError::Tls { .. }
            | ClientError::Decode { .. }
            | ClientError::Partial { .. }
            | ClientError::Unwritable(_)
            | ClientError::File { .. }
            | ClientError::Unverified { .. } => FailureClass::Permanent,
            ClientError::Http {
                status, message, ..
            } => match status {
                401 | 403 => FailureClass::Permanent,
                500..=599 => classify_message(message).unwrap_or(FailureClass::Transient),
                _ => classify_message(message).unwrap_or(FailureClass::Permanent),
            },
            ClientError::Statement { message } => {
                classify_message(message).unwrap_or(FailureClass::Permanent)
            }
        }
    }
}

/// The server's error texts that say it cannot work at all ([`FailureClass::Server`]),
/// each with what the operator does about it.
const SERVER: &[(&str, &str)] = &[
    (
        "too many open files",
        // Each database holds about 9 files open (docs/RUNBOOK.md): thousands of
        // tenant databases outgrow the default limit.
        "influxd reached its open-file limit: raise LimitNOFILE in its systemd unit (systemctl edit influxdb), restart it, then run again to continue",
    ),
    (
        "no space left on device",
        "the server's disk is full: free space on its data and wal volumes, then run again to continue",
    ),
];

/// What fixes the server's condition a [`FailureClass::Server`] message reports;
/// `None` for any other message.
pub fn server_advice(message: &str) -> Option<&'static str> {
    let m = message.to_ascii_lowercase();
    SERVER
        .iter()
        .find(|(text, _)| m.contains(text))
        .map(|(_, advice)| *advice)
}

/// Classifies the server's error texts that say more than the HTTP status.
fn classify_message(msg: &str) -> Option<FailureClass> {
    // First: whatever else the message says, the server is in no state to work.
    if server_advice(msg).is_some() {
        return Some(FailureClass::Server);
    }
    let m = msg.to_ascii_lowercase();
    const TOO_BIG: &[&str] = &[
        "max-select-point",
        "max-select-series",
        "max-select-buckets",
        "max-row-limit",
        "query-timeout",
        "timeout",
        "query killed",
        "cache-max-memory-size",
        "cache maximum memory size exceeded",
        "out of memory",
        // A statement of a multi-statement request left unrun because the request was
        // cut short (under `query-timeout` the verification's statement pair answers
        // this way): asked again in smaller pieces, it runs.
        "not executed",
    ];
    const TRANSIENT: &[&str] = &[
        "engine is closed",
        "shard is disabled",
        "store is closed",
        "server is shutting down",
        "query interrupted",
        "connection refused",
        "connection reset",
    ];
    const PERMANENT: &[&str] = &[
        "authoriz",
        "authenticat",
        "error parsing query",
        "database not found",
        "retention policy not found",
        "partial write",
        "field type conflict",
    ];
    if PERMANENT.iter().any(|p| m.contains(p)) {
        Some(FailureClass::Permanent)
    } else if TOO_BIG.iter().any(|p| m.contains(p)) {
        Some(FailureClass::TooBig)
    } else if TRANSIENT.iter().any(|p| m.contains(p)) {
        Some(FailureClass::Transient)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stmt(m: &str) -> ClientError {
        ClientError::Statement { message: m.into() }
    }

    /// Limits and timeouts mean "split"; auth, parse and missing-database errors mean
    /// "give up"; restarts and 5xx mean "retry".
    #[test]
    fn classification() {
        use FailureClass::*;
        assert_eq!(
            stmt("max-select-point limit exceeded: (10000/1000)").class(),
            TooBig
        );
        assert_eq!(
            stmt("max-select-series limit exceeded: (5/1)").class(),
            TooBig
        );
        assert_eq!(stmt("query-timeout limit exceeded").class(), TooBig);
        assert_eq!(stmt("database not found: x").class(), Permanent);
        assert_eq!(
            stmt("error authorizing query: bob not authorized").class(),
            Permanent
        );
        assert_eq!(
            stmt("partial write: points beyond retention policy dropped=3").class(),
            Permanent
        );
        assert_eq!(stmt("something new").class(), Permanent);
        let http = |status, m: &str| ClientError::Http {
            url: "u".into(),
            status,
            message: m.into(),
        };
        assert_eq!(http(503, "").class(), Transient);
        assert_eq!(http(500, "timeout").class(), TooBig);
        assert_eq!(http(400, "error parsing query: found x").class(), Permanent);
        assert_eq!(http(403, "").class(), Permanent);
        let unreachable = ClientError::Unreachable {
            url: "u".into(),
            reason: "refused".into(),
        };
        assert_eq!(unreachable.class(), Transient);
        let t = ClientError::Timeout {
            url: "u".into(),
            after: Duration::from_secs(1),
        };
        assert_eq!(t.class(), TooBig);
    }

    /// A server out of open files or disk space is the server's condition, not the
    /// chunk's, as a statement error or an HTTP 500, whatever else its text says; the
    /// advice names the fix; other errors get none.
    #[test]
    fn server_conditions() {
        use FailureClass::*;
        let files = "open /var/lib/influxdb/data/monasca_t1/_series/00: too many open files";
        assert_eq!(stmt(files).class(), Server);
        let http = |status, m: &str| ClientError::Http {
            url: "u".into(),
            status,
            message: m.into(),
        };
        assert_eq!(http(500, files).class(), Server);
        assert_eq!(
            http(
                500,
                "write /var/lib/influxdb/wal/x: No space left on device"
            )
            .class(),
            Server
        );
        assert_eq!(
            stmt("error authorizing query: open /x: too many open files").class(),
            Server
        );
        assert!(server_advice(files).unwrap().contains("LimitNOFILE"));
        assert!(server_advice("no space left on device")
            .unwrap()
            .contains("free space"));
        assert_eq!(server_advice("database not found: x"), None);
        assert_eq!(http(500, "x").url(), Some("u"));
        assert_eq!(stmt(files).url(), None);
    }
}
