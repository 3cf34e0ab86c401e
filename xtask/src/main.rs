//! `cargo run -p xtask -- dist-assets DIR`: writes the man page and shell completions
//! that the Debian package ships (see Cargo.toml `[package.metadata.deb]`).

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(about = "Build helpers for influx-tenant-migrate")]
struct Args {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Write man/influx-tenant-migrate.1 and completions/ (bash, zsh, fish) under DIR.
    DistAssets {
        /// Output directory.
        #[arg(default_value = "target/assets")]
        dir: PathBuf,
    },
}

fn main() -> anyhow::Result<()> {
    match Args::parse().task {
        Task::DistAssets { dir } => {
            for f in xtask::write_assets(&dir)? {
                println!("{}", f.display());
            }
        }
    }
    Ok(())
}
