//! The `influx-tenant-migrate` binary: parse, load settings, run a command, map the
//! result to an exit code (0 done, 1 some chunks failed or stopped or a verification
//! found a difference, 2 usage, config or connection error).

use clap::Parser;
use influx_tenant_migrate::cli::{Cli, Command};
use influx_tenant_migrate::influxql::Rp;
use influx_tenant_migrate::report::PlanReport;
use influx_tenant_migrate::status::{self, Status};
use influx_tenant_migrate::verification::{self, VerifyOptions};
use influx_tenant_migrate::{
    archive, estimate, failures, ledger, logging, migration, run_report, schema, shutdown,
};
use std::process::ExitCode;
use std::time::{Instant, SystemTime};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match cli.opts.load(migration::now_ns()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let _log = match logging::init(&settings.log) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if cli.opts.password.is_some() {
        tracing::warn!("--password is visible in the process list to every local user: use --password-file or ITM__SOURCE__PASSWORD");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async {
        match cli.command.unwrap_or(Command::Run { json: false }) {
            Command::Run { json } => {
                let stop = shutdown::on_signals(settings.run.stop_grace);
                let started = SystemTime::now();
                let clock = Instant::now();
                let result = migration::run(&settings, stop).await;
                let report =
                    run_report::build(&settings, started, clock.elapsed(), result.as_ref());
                if let Ok(summary) = &result {
                    eprint!("{}", summary.render());
                    if json {
                        println!("{}", serde_json::to_string_pretty(summary)?);
                    }
                }
                run_report::write_outputs(&settings, &report)?;
                result.map(|s| s.exit_code())
            }
            Command::Export { dir } => {
                let stop = shutdown::on_signals(settings.run.stop_grace);
                let summary = archive::export(&settings, &dir, stop).await?;
                eprint!("{}", summary.render());
                Ok(summary.exit_code())
            }
            Command::Import { dir } => {
                let stop = shutdown::on_signals(settings.run.stop_grace);
                let summary = archive::import(&settings, &dir, stop).await?;
                eprint!("{}", summary.render());
                Ok(summary.exit_code())
            }
            Command::Plan { json, estimate } => {
                let p = migration::prepare(&settings).await?;
                let mut report = PlanReport::new(&p.catalog, &p.plan);
                report.checks = schema::check(&p.catalog);
                if estimate {
                    let src = Rp {
                        db: &p.catalog.database,
                        rp: &p.catalog.source_rp,
                    };
                    report.estimate = Some(
                        estimate::estimate(
                            &p.client,
                            &src,
                            &settings.tenants.tag,
                            &p.plan,
                            settings.run.concurrency,
                        )
                        .await?,
                    );
                }
                if json {
                    println!("{}", serde_json::to_string_pretty(&report)?);
                } else {
                    print!("{}", report.render());
                }
                Ok(0)
            }
            Command::Status { json, plan } => {
                let parsed = ledger::load(&settings.run.ledger)?;
                let failed = failures::load(&settings.run.failure_report)?;
                let prepared = if plan {
                    Some(migration::prepare(&settings).await?)
                } else {
                    None
                };
                let status = Status {
                    ledger: settings.run.ledger.display().to_string(),
                    records: parsed.records.len(),
                    failure_report: settings.run.failure_report.display().to_string(),
                    failures_written_at: failed.as_ref().map(|f| f.written_at.clone()),
                    planned: plan,
                    tenants: status::tenants(
                        &parsed.records,
                        failed.as_ref().map_or(&[][..], |f| &f.failures[..]),
                        prepared.as_ref().map(|p| &p.plan),
                    ),
                };
                if json {
                    println!("{}", serde_json::to_string_pretty(&status)?);
                } else {
                    print!("{}", status.render());
                }
                Ok(0)
            }
            Command::Verify { json, all, open } => {
                let report = verification::verify(&settings, VerifyOptions { all, open }).await?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&report)?);
                } else {
                    print!("{}", report.render());
                }
                Ok(report.exit_code())
            }
        }
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
