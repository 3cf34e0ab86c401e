//! `rollback`'s flags: what planning a tenant database reads (source, tenants, window,
//! ledger, queries), the copy's retries and reports, and its own `--since` and
//! `--dry-run`.

use crate::cli::groups::{
    BatchArgs, CopyArgs, LedgerArgs, QueryArgs, ReportArgs, SourceArgs, TenantArgs, WindowArgs,
};
use crate::cli::overrides::{Overrides, SettingFlags};
use crate::core::window::parse_time_ns;
use clap::Args;

/// `rollback`: copies what the persister wrote into the tenant databases after the
/// switch back into the shared database (`--database`).
#[derive(Debug, Args, Clone, Default)]
pub struct RollbackArgs {
    /// Also print the summary (with --dry-run: the plan) as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// List each tenant database with the chunks and points it would copy back, and
    /// write nothing. Default off; a flag only (no setting).
    #[arg(long)]
    pub dry_run: bool,
    /// Copy back the points at or after this time from every tenant database: a date
    /// (2024-01-01, meaning 00:00 UTC) or RFC 3339 with Z or an offset. Default: per
    /// tenant database, the end of the forward run's records less `window.settle`,
    /// and all of a database the forward run never wrote; a flag only (no setting).
    #[arg(long, value_name = "TIME", value_parser = since)]
    pub since: Option<i64>,
    /// Do not verify: copy only, and say so in the summary. Default: verify; overrides
    /// `run.verify`.
    #[arg(long, help_heading = "Run")]
    pub no_verify: bool,
    /// The source server and the shared database.
    #[command(flatten)]
    pub source: SourceArgs,
    /// Tag key holding the tenant id. Default `_tenant_id`; overrides `tenants.tag`.
    /// (No `--skip-regex`: the way back copies every measurement, since the persister
    /// wrote all of them into the tenant databases after the switch.)
    #[arg(long, value_name = "KEY", help_heading = "Tenants")]
    pub tenant_tag: Option<String>,
    /// Tag key holding the tenant id in one measurement, as MEASUREMENT=KEY
    /// (repeatable). Default `alarm_state_history=tenant_id`, kept unless named;
    /// overrides `tenants.tag_for`.
    #[arg(long, value_name = "MEASUREMENT=KEY", help_heading = "Tenants")]
    pub tenant_tag_for: Vec<String>,
    /// Tenant selection and the naming rule of the tenant databases.
    #[command(flatten)]
    pub tenants: TenantArgs,
    /// Chunk windows and time range.
    #[command(flatten)]
    pub window: WindowArgs,
    /// The ledger and the failure report.
    #[command(flatten)]
    pub ledger: LedgerArgs,
    /// Concurrency and query time limit.
    #[command(flatten)]
    pub queries: QueryArgs,
    /// Measurements per query.
    #[command(flatten)]
    pub batch: BatchArgs,
    /// Retries and pace.
    #[command(flatten)]
    pub copy: CopyArgs,
    /// Report and metrics files.
    #[command(flatten)]
    pub reports: ReportArgs,
}

/// `--since` as nanoseconds since the epoch.
fn since(text: &str) -> Result<i64, String> {
    parse_time_ns(text).map_err(|e| e.to_string())
}

impl SettingFlags for RollbackArgs {
    fn add_to(&self, o: &mut Overrides) {
        o.switch_off("run.verify", self.no_verify);
        o.text("tenants.tag", &self.tenant_tag);
        o.list("tenants.tag_for", &self.tenant_tag_for);
        o.add(&self.source)
            .add(&self.tenants)
            .add(&self.window)
            .add(&self.ledger)
            .add(&self.queries)
            .add(&self.batch)
            .add(&self.copy)
            .add(&self.reports);
    }
}
