//! The `influx-tenant-migrate` binary: parse, load settings, start logging and the
//! runtime, run a command, map the result to an exit code (0 done, 1 some chunks
//! failed or stopped or a verification found a difference, 2 usage, config or
//! connection error).

use clap::Parser;
use influx_tenant_migrate::cli::{Cli, Command};
use influx_tenant_migrate::commands::{self, rollback::RollbackOptions, verify::VerifyOptions};
use influx_tenant_migrate::config::Settings;
use influx_tenant_migrate::copy::stop;
use influx_tenant_migrate::core::clock::now_ns;
use influx_tenant_migrate::logging;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match cli.load(now_ns()) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let _log = match logging::init(&settings.log) {
        Ok(g) => g,
        Err(e) => return fail(e),
    };
    if cli.password_given() {
        tracing::warn!("--password is visible in the process list to every local user: use --password-file or ITM__SOURCE__PASSWORD");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(format!("cannot start runtime: {e}")),
    };
    match runtime.block_on(dispatch(cli.command, &settings)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => fail(format!("{e:#}")),
    }
}

/// Runs the command; the commands that copy stop gracefully on SIGTERM/SIGINT.
async fn dispatch(command: Command, s: &Settings) -> anyhow::Result<u8> {
    let stop = || stop::on_signals(s.run.stop_grace);
    match command {
        Command::Run(a) => commands::run::run(s, a.json, stop()).await,
        Command::Plan(a) => commands::plan::run(s, a.json, a.estimate).await,
        Command::Status(a) => commands::status::run(s, a.json, a.plan).await,
        Command::Verify(a) => {
            let opts = VerifyOptions {
                all: a.all,
                open: a.open,
            };
            commands::verify::run(s, a.json, opts).await
        }
        Command::Export(a) => commands::export::run(s, &a.dir, stop()).await,
        Command::Import(a) => commands::import::run(s, &a.dir, stop()).await,
        Command::Rollback(a) => {
            let opts = RollbackOptions {
                since: a.since,
                dry_run: a.dry_run,
            };
            commands::rollback::run(s, opts, a.json, stop()).await
        }
    }
}

/// Prints the error (its whole chain, on one line) and returns exit code 2.
fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}
