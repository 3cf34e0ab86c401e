//! The `influx-tenant-migrate` binary: parse, load settings, start logging and the
//! runtime, run a command, map the result to an exit code (0 done, 1 some chunks
//! failed or stopped or a verification found a difference, 2 usage, config or
//! connection error).

use clap::Parser;
use influx_tenant_migrate::cli::{Cli, Command};
use influx_tenant_migrate::commands::{self, verify::VerifyOptions};
use influx_tenant_migrate::copy::stop;
use influx_tenant_migrate::core::clock::now_ns;
use influx_tenant_migrate::logging;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match cli.opts.load(now_ns()) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let _log = match logging::init(&settings.log) {
        Ok(g) => g,
        Err(e) => return fail(e),
    };
    if cli.opts.password.is_some() {
        tracing::warn!("--password is visible in the process list to every local user: use --password-file or ITM__SOURCE__PASSWORD");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(format!("cannot start runtime: {e}")),
    };
    let s = &settings;
    let result = runtime.block_on(async {
        match cli.command.unwrap_or(Command::Run { json: false }) {
            Command::Run { json } => {
                commands::run::run(s, json, stop::on_signals(s.run.stop_grace)).await
            }
            Command::Export { dir } => {
                commands::export::run(s, &dir, stop::on_signals(s.run.stop_grace)).await
            }
            Command::Import { dir } => {
                commands::import::run(s, &dir, stop::on_signals(s.run.stop_grace)).await
            }
            Command::Plan { json, estimate } => commands::plan::run(s, json, estimate).await,
            Command::Status { json, plan } => commands::status::run(s, json, plan).await,
            Command::Verify { json, all, open } => {
                commands::verify::run(s, json, VerifyOptions { all, open }).await
            }
        }
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => fail(format!("{e:#}")),
    }
}

/// Prints the error (its whole chain, on one line) and returns exit code 2.
fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}
