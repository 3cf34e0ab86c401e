//! What a copy run did: its figures and the chunks that still failed.

use crate::plan::Chunk;
use serde::Serialize;

/// A chunk (or piece of one) that could not be copied.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct FailedChunk {
    /// The chunk as last tried.
    pub chunk: Chunk,
    /// The query that failed.
    pub query: String,
    /// The server's (or transport's) error.
    pub error: String,
    /// Attempts made.
    pub attempts: u32,
}

/// What a copy run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Outcome {
    /// Chunks (or pieces) copied successfully.
    pub copied: u64,
    /// Of those, closed ones recorded in the ledger.
    pub recorded: u64,
    /// Points the server reported written.
    pub points: u64,
    /// Of those, points of open chunks: copied, not verified or recorded (the next
    /// run copies them again; a final run closes them).
    pub open_points: u64,
    /// Chunks split into smaller ones after failures.
    pub splits: u64,
    /// Retries of transient failures.
    pub retries: u64,
    /// Chunks left entirely to the retention horizon by the time they ran.
    pub expired: u64,
    /// What still failed.
    pub failed: Vec<FailedChunk>,
    /// The run was stopped before every chunk ran.
    pub interrupted: bool,
    /// Planned chunks that neither completed nor failed: not started, or abandoned in
    /// flight (unrecorded) when the run was stopped.
    pub not_run: u64,
    /// The run halted at a failure that says a server cannot work (out of open files
    /// or disk space): the one error line, naming the server, its message and the fix.
    /// Set on a chunk's outcome too, when the halt cut it short (it counts as not run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub halted: Option<String>,
}

impl Outcome {
    /// Adds another outcome's figures and failures to this one (not `interrupted`; the
    /// first halt stays).
    pub fn merge(&mut self, o: Outcome) {
        if self.halted.is_none() {
            self.halted = o.halted;
        }
        self.copied += o.copied;
        self.recorded += o.recorded;
        self.points += o.points;
        self.open_points += o.open_points;
        self.splits += o.splits;
        self.retries += o.retries;
        self.expired += o.expired;
        self.failed.extend(o.failed);
        self.not_run += o.not_run;
    }
}
