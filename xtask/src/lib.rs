//! Build helpers for influx-tenant-migrate: the man page and shell completions are
//! generated from the CLI definition (`cli::Cli`) here, not by the binary, so the
//! binary carries no generator code.

use anyhow::Context;
use clap::CommandFactory;
use clap_complete::Shell;
use influx_tenant_migrate::cli::Cli;
use std::path::{Path, PathBuf};

/// The program name the man page and completions are for.
pub const BIN: &str = "influx-tenant-migrate";

/// Writes the man page (`man/influx-tenant-migrate.1`) and completions for bash, zsh
/// and fish (`completions/`) under `dir`, and returns the files written.
pub fn write_assets(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    let man_dir = dir.join("man");
    std::fs::create_dir_all(&man_dir).with_context(|| format!("creating {}", man_dir.display()))?;
    let man = man_dir.join(format!("{BIN}.1"));
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut page)
        .context("rendering the man page")?;
    std::fs::write(&man, page).with_context(|| format!("writing {}", man.display()))?;
    written.push(man);

    let comp_dir = dir.join("completions");
    std::fs::create_dir_all(&comp_dir)
        .with_context(|| format!("creating {}", comp_dir.display()))?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let mut cmd = Cli::command();
        let path = clap_complete::generate_to(shell, &mut cmd, BIN, &comp_dir)
            .with_context(|| format!("writing {shell} completions in {}", comp_dir.display()))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The man page documents every command and the old tool's flags, and each shell
    /// gets a completion file that knows the flags.
    #[test]
    fn assets_cover_the_cli() {
        let dir = tempfile::tempdir().unwrap();
        let files = write_assets(dir.path()).unwrap();
        let names: Vec<String> = files
            .iter()
            .map(|p| p.strip_prefix(dir.path()).unwrap().display().to_string())
            .collect();
        assert_eq!(
            names,
            vec![
                "man/influx-tenant-migrate.1",
                "completions/influx-tenant-migrate.bash",
                "completions/_influx-tenant-migrate",
                "completions/influx-tenant-migrate.fish",
            ]
        );
        let man = std::fs::read_to_string(&files[0]).unwrap();
        assert!(
            man.starts_with(".ie") || man.contains(".TH influx-tenant-migrate 1"),
            "{man}"
        );
        for needle in [
            "persister\\-config",
            "migrate\\-time\\-unit",
            "plan",
            "status",
        ] {
            assert!(man.contains(needle), "man page lacks {needle}");
        }
        for f in &files[1..] {
            let text = std::fs::read_to_string(f).unwrap();
            assert!(text.contains("migrate-retention-policy"), "{}", f.display());
            assert!(text.contains("config-file"), "{}", f.display());
        }
    }
}
