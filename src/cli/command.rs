//! The commands and the flags each takes: only the groups of the settings it reads
//! (`commands/*.rs`), so a flag a command would ignore is refused.

use crate::cli::groups::{
    CopyArgs, LedgerArgs, PlanningArgs, QueryArgs, ReadArgs, ReportArgs, RetentionArgs, SourceArgs,
    TargetArgs, TenantArgs, TransformArgs, WriteArgs,
};
use crate::cli::overrides::{Overrides, SettingFlags};
use crate::config::legacy::LegacyOpts;
use clap::{Arg, Args, Subcommand};
use std::path::PathBuf;

/// The commands.
#[derive(Debug, Subcommand, Clone)]
pub enum Command {
    /// Migrate: copy every planned chunk and record closed ones in the ledger.
    Run(RunArgs),
    /// Dry run: show the chunks a run would copy, the databases and retention policies
    /// it would create, and what the ledger already covers. Writes nothing.
    Plan(PlanArgs),
    /// Per tenant: chunks done, verified and failed (ledger and failure report, no
    /// server needed); with --plan also open and pending (plans now, on the server).
    Status(StatusArgs),
    /// Check recorded chunks: count() of every field and sum() of every numeric field,
    /// source (the tenant's points) against target, per measurement. Chunks that agree
    /// are recorded as verified; exits 1 on any difference.
    Verify(VerifyArgs),
    /// Write each planned chunk to a gzip line-protocol file,
    /// DIR/<tenant>/<start>-<end>-<hash>.lp.gz, recording closed ones in the ledger.
    Export(ExportArgs),
    /// Load exported files into per-tenant databases on --target-url, recording
    /// each closed file in the ledger so reruns skip it.
    Import(ImportArgs),
    /// The way back: copy what the persister wrote into the tenant databases after the
    /// switch back into the shared database's default policy, verified and recorded
    /// like `run`; reruns copy only what is new. Never deletes anything.
    Rollback(crate::cli::rollback::RollbackArgs),
}

/// `run`: plans and copies, to the source server itself or to `--target-url`.
#[derive(Debug, Args, Clone, Default)]
pub struct RunArgs {
    /// Also print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// What planning reads.
    #[command(flatten)]
    pub planning: PlanningArgs,
    /// Retries and pace.
    #[command(flatten)]
    pub copy: CopyArgs,
    /// Verify each closed chunk right after copying it: the default (`run.verify`
    /// defaults to true); kept so that older command lines still work.
    #[arg(long, help_heading = "Run", conflicts_with = "no_verify")]
    pub verify: bool,
    /// Do not verify: copy only, and say so in the summary. Default: verify; overrides
    /// `run.verify`.
    #[arg(long, help_heading = "Run")]
    pub no_verify: bool,
    /// The last run, once the persisters write to the tenant databases: nothing is
    /// open, every window up to now is copied, verified and recorded. Refused (exit 2)
    /// while the source still receives points (its shard write counters move, or its
    /// newest point is younger than `window.settle`). Default off; overrides
    /// `window.final`.
    #[arg(long = "final", help_heading = "Run")]
    pub final_run: bool,
    /// Report and metrics files.
    #[command(flatten)]
    pub reports: ReportArgs,
    /// The target server.
    #[command(flatten)]
    pub target: TargetArgs,
    /// Chunked reads (streamed copies).
    #[command(flatten)]
    pub read: ReadArgs,
    /// Write batches (streamed copies).
    #[command(flatten)]
    pub write: WriteArgs,
    /// Tags dropped, measurements renamed.
    #[command(flatten)]
    pub transform: TransformArgs,
}

/// `plan`: plans exactly as `run` does, so it reads what `run` reads up to the first
/// copy (and `--concurrency` for the estimate).
#[derive(Debug, Args, Clone, Default)]
pub struct PlanArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Also count the points to copy per tenant and time one sample read to
    /// estimate the duration (reads only; takes a count query per chunk).
    #[arg(long)]
    pub estimate: bool,
    /// What planning reads.
    #[command(flatten)]
    pub planning: PlanningArgs,
    /// The target server, whose existing databases the plan takes into account.
    #[command(flatten)]
    pub target: TargetArgs,
}

/// The flags `status` reads without `--plan`: the ledger and the failure report.
const STATUS_WITHOUT_PLAN: &[&str] = &["json", "plan", "ledger", "failure_report"];

/// `status`: the ledger and the failure report; with `--plan` it also plans like
/// `run`, so the planning flags are taken with `--plan` only.
#[derive(Debug, Args, Clone, Default)]
#[command(mut_args = only_with("plan", STATUS_WITHOUT_PLAN))]
pub struct StatusArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Contact the server and plan, to show open and pending chunks. The flags other
    /// than --ledger and --failure-report are what planning reads: taken with --plan only.
    #[arg(long)]
    pub plan: bool,
    /// The ledger and failure report; with --plan, what planning reads.
    #[command(flatten)]
    pub planning: PlanningArgs,
    /// With --plan: the target server.
    #[command(flatten)]
    pub target: TargetArgs,
}

/// The flags `verify` reads without `--open`: the source (not its policy: records name
/// theirs), the target server of streamed copies, the tenant tag and selection, the
/// ledger, concurrency and time limit.
const VERIFY_WITHOUT_OPEN: &[&str] = &[
    "json",
    "target_url",
    "target_username",
    "target_password",
    "target_password_file",
    "target_ca_file",
    "target_insecure_skip_verify",
    "target_org",
    "target_token_file",
    "all",
    "open",
    "source_url",
    "database",
    "username",
    "password",
    "password_file",
    "ca_file",
    "insecure_skip_verify",
    "persister_config",
    "tenant_tag",
    "tenant_tag_for",
    "tenant_include",
    "tenant_exclude",
    "ledger",
    "concurrency",
    "query_timeout",
    "liveness_timeout",
];

/// `verify`: the recorded chunks of the source; with `--open` it also plans like `run`,
/// so the flags only planning reads are taken with `--open` only.
#[derive(Debug, Args, Clone, Default)]
#[command(mut_args = only_with("open", VERIFY_WITHOUT_OPEN))]
pub struct VerifyArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Check every recorded chunk again, not only those not yet verified.
    #[arg(long)]
    pub all: bool,
    /// Also check the open chunks a run would copy now (never recorded; they may
    /// differ because points are still arriving). The flags only planning reads
    /// (window, retention, target, ...) are taken with --open only.
    #[arg(long)]
    pub open: bool,
    /// The source, tenants and ledger; with --open, what planning reads.
    #[command(flatten)]
    pub planning: PlanningArgs,
    /// The target server whose records are checked (streamed copies; default: the
    /// source server's own SELECT INTO copies).
    #[command(flatten)]
    pub target: TargetArgs,
}

/// `export`: plans like `run` (for files, so no target server) and reads each chunk
/// into a file.
#[derive(Debug, Args, Clone)]
pub struct ExportArgs {
    /// Directory to write into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// What planning reads.
    #[command(flatten)]
    pub planning: PlanningArgs,
    /// Retries and pace.
    #[command(flatten)]
    pub copy: CopyArgs,
    /// Report and metrics files.
    #[command(flatten)]
    pub reports: ReportArgs,
    /// Chunked reads.
    #[command(flatten)]
    pub read: ReadArgs,
    /// Points per batch in a file.
    #[command(flatten)]
    pub write: WriteArgs,
    /// Tags dropped, measurements renamed.
    #[command(flatten)]
    pub transform: TransformArgs,
}

/// `import`: reads files, not the source; plans targets like `run` (names, retention,
/// tenant selection) and writes to the target server.
#[derive(Debug, Args, Clone)]
pub struct ImportArgs {
    /// Directory written by `export`.
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// Tenant selection and target names.
    #[command(flatten)]
    pub tenants: TenantArgs,
    /// Target retention.
    #[command(flatten)]
    pub retention: RetentionArgs,
    /// The ledger and the failure report.
    #[command(flatten)]
    pub ledger: LedgerArgs,
    /// Concurrency and query time limit.
    #[command(flatten)]
    pub queries: QueryArgs,
    /// Retries and pace.
    #[command(flatten)]
    pub copy: CopyArgs,
    /// Report and metrics files.
    #[command(flatten)]
    pub reports: ReportArgs,
    /// Write batches.
    #[command(flatten)]
    pub write: WriteArgs,
    /// The target server.
    #[command(flatten)]
    pub target: TargetArgs,
}

/// Makes every flag of a command but `mode` and those in `without` require `mode`: the
/// flags the command reads only in that mode.
fn only_with(mode: &'static str, without: &'static [&'static str]) -> impl FnMut(Arg) -> Arg {
    move |a| {
        let id = a.get_id().as_str();
        if id == mode || without.contains(&id) {
            a
        } else {
            a.requires(mode)
        }
    }
}

impl SettingFlags for RunArgs {
    fn add_to(&self, o: &mut Overrides) {
        o.switch("run.verify", self.verify);
        o.switch_off("run.verify", self.no_verify);
        o.switch("window.final", self.final_run);
        o.add(&self.planning)
            .add(&self.copy)
            .add(&self.reports)
            .add(&self.target)
            .add(&self.read)
            .add(&self.write)
            .add(&self.transform);
    }
}

impl SettingFlags for ExportArgs {
    fn add_to(&self, o: &mut Overrides) {
        o.add(&self.planning)
            .add(&self.copy)
            .add(&self.reports)
            .add(&self.read)
            .add(&self.write)
            .add(&self.transform);
    }
}

impl SettingFlags for ImportArgs {
    fn add_to(&self, o: &mut Overrides) {
        o.add(&self.tenants)
            .add(&self.retention)
            .add(&self.ledger)
            .add(&self.queries)
            .add(&self.copy)
            .add(&self.reports)
            .add(&self.write)
            .add(&self.target);
    }
}

impl SettingFlags for Command {
    fn add_to(&self, o: &mut Overrides) {
        match self {
            Command::Run(a) => o.add(a),
            Command::Plan(a) => o.add(&a.planning).add(&a.target),
            Command::Status(a) => o.add(&a.planning).add(&a.target),
            Command::Verify(a) => o.add(&a.planning).add(&a.target),
            Command::Export(a) => o.add(a),
            Command::Import(a) => o.add(a),
            Command::Rollback(a) => o.add(a),
        };
    }
}

impl Command {
    /// What the command plans with, when it plans or reads the source.
    fn planning(&self) -> Option<&PlanningArgs> {
        match self {
            Command::Run(a) => Some(&a.planning),
            Command::Plan(a) => Some(&a.planning),
            Command::Status(a) => Some(&a.planning),
            Command::Verify(a) => Some(&a.planning),
            Command::Export(a) => Some(&a.planning),
            Command::Import(_) | Command::Rollback(_) => None,
        }
    }

    /// The old tool's flags, for the commands that take them.
    pub fn legacy(&self) -> Option<&LegacyOpts> {
        self.planning().map(|p| &p.legacy)
    }

    /// The source's flags, for the commands that take them.
    pub fn source(&self) -> Option<&SourceArgs> {
        if let Command::Rollback(a) = self {
            return Some(&a.source);
        }
        self.planning().map(|p| &p.source)
    }
}
