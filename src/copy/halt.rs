//! Stopping a run at the first failure that says the server itself cannot work (out
//! of open files, out of disk space: [`FailureClass::Server`]): every further chunk
//! would fail the same way, so none starts, and the run ends with one line naming the
//! server, its message and what fixes it.

use crate::influx::error::{server_advice, ClientError, FailureClass};
use std::sync::OnceLock;

/// Whether, and on which failure, the run stopped because a server cannot work; the
/// first such failure wins.
#[derive(Debug, Default)]
pub(crate) struct Halt(OnceLock<String>);

impl Halt {
    /// Stops the run when `e` says the server cannot work; `true` when it did (now or
    /// before). `servers` are those the failed request may have gone to, named when
    /// the error names none.
    pub(crate) fn on(&self, e: &ClientError, servers: &[&str]) -> bool {
        if let Some(line) = halt_line(e, servers) {
            if self.0.set(line).is_ok() {
                tracing::error!(error = %e, "the server cannot work: no new chunk starts");
            }
        }
        self.reason().is_some()
    }

    /// The error line of the failure that stopped the run, once one did.
    pub(crate) fn reason(&self) -> Option<&str> {
        self.0.get().map(String::as_str)
    }
}

/// The one error line for `e` when it says the server cannot work: the server, the
/// server's message and what fixes it.
pub(crate) fn halt_line(e: &ClientError, servers: &[&str]) -> Option<String> {
    if e.class() != FailureClass::Server {
        return None;
    }
    let advice = server_advice(&e.to_string())?;
    let server = match e.url() {
        Some(url) => url.to_string(),
        None => named(servers),
    };
    Some(format!("server {server}: {e}; {advice}"))
}

/// The servers a request may have gone to, once each; files are none.
fn named(servers: &[&str]) -> String {
    let mut out: Vec<&str> = Vec::new();
    for s in servers {
        if !s.is_empty() && !s.starts_with("file://") && !out.contains(s) {
            out.push(s);
        }
    }
    match out.as_slice() {
        [] => "(unknown)".to_string(),
        list => list.join(" or "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stmt(m: &str) -> ClientError {
        ClientError::Statement { message: m.into() }
    }

    /// Out of open files: the line names the server (the source's URL when the
    /// statement error names none and the target is the same server), the server's
    /// message and the fix; a server's own URL wins; other errors stop nothing.
    #[test]
    fn line_names_server_message_and_fix() {
        let e = stmt("open /var/lib/influxdb/data/x/_series/00: too many open files");
        let line = halt_line(&e, &["http://db:8086", ""]).unwrap();
        assert!(
            line.starts_with(
                "server http://db:8086: open /var/lib/influxdb/data/x/_series/00: too many open files; influxd reached its open-file limit: raise LimitNOFILE"
            ),
            "{line}"
        );
        let http = ClientError::Http {
            url: "http://target:8086".into(),
            status: 500,
            message: "write wal: no space left on device".into(),
        };
        let line = halt_line(&http, &["http://source:8086", "file:///x"]).unwrap();
        assert!(line.starts_with("server http://target:8086: "), "{line}");
        assert!(line.contains("free space"), "{line}");
        assert_eq!(halt_line(&stmt("database not found: x"), &[]), None);
        let two = halt_line(&e, &["http://a:1", "http://b:2"]).unwrap();
        assert!(
            two.starts_with("server http://a:1 or http://b:2: "),
            "{two}"
        );
    }

    /// The first failure that says the server cannot work stops the run and is the
    /// one reported; other errors leave it running.
    #[test]
    fn first_server_failure_wins() {
        let h = Halt::default();
        assert!(!h.on(&stmt("database not found: x"), &["http://a:1"]));
        assert_eq!(h.reason(), None);
        assert!(h.on(&stmt("first: too many open files"), &["http://a:1"]));
        assert!(h.on(&stmt("second: too many open files"), &["http://a:1"]));
        assert!(h.reason().unwrap().contains("first"));
    }
}
