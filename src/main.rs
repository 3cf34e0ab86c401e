//! The `influx-tenant-migrate` binary: parse, load settings, run a command, map the
//! result to an exit code (0 done, 1 some chunks failed or stopped, 2 usage, config or
//! connection error).

use clap::Parser;
use influx_tenant_migrate::cli::{Cli, Command};
use influx_tenant_migrate::report::{PlanReport, StatusReport};
use influx_tenant_migrate::{ledger, logging, migration, shutdown};
use std::process::ExitCode;

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
        match cli.command.unwrap_or(Command::Run) {
            Command::Run => {
                let stop = shutdown::on_signals(settings.run.stop_grace);
                let summary = migration::run(&settings, stop).await?;
                eprint!("{}", summary.render());
                Ok::<u8, anyhow::Error>(summary.exit_code())
            }
            Command::Plan { json } => {
                let p = migration::prepare(&settings).await?;
                let report = PlanReport::new(&p.catalog, &p.plan);
                if json {
                    println!("{}", serde_json::to_string_pretty(&report)?);
                } else {
                    print!("{}", report.render());
                }
                Ok(0)
            }
            Command::Status { json } => {
                let parsed = ledger::load(&settings.run.ledger)?;
                let report = StatusReport::new(&settings.run.ledger, &parsed.records);
                if json {
                    println!("{}", serde_json::to_string_pretty(&report)?);
                } else {
                    print!("{}", report.render());
                }
                Ok(0)
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
