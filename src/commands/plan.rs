//! `plan`: the dry run. Discovers and plans exactly as `run` does, writes nothing.

use crate::commands::migration;
use crate::commands::watch::watched;
use crate::config::Settings;
use crate::influx::statement::Rp;
use crate::report::plan::PlanReport;
use crate::report::scale;
use crate::source::{estimate, findings};

/// Prints the plan (JSON with `json`), with points per tenant and a duration estimate
/// when `with_estimate`. Returns the exit code (0).
pub async fn run(settings: &Settings, json: bool, with_estimate: bool) -> anyhow::Result<u8> {
    let planned = plan(settings, json, with_estimate);
    watched(settings.run.liveness_timeout, planned).await
}

/// Discovers, plans and (with `with_estimate`) estimates, as `run` would, and prints
/// it all.
async fn plan(settings: &Settings, json: bool, with_estimate: bool) -> anyhow::Result<u8> {
    let p = migration::prepare(settings).await?;
    let mut report = PlanReport::new(&p.catalog, &p.plan);
    report.checks = findings::check(&p.catalog);
    report.scale = Some(scale::scale_report(
        &p.plan,
        p.scale.limits.clone(),
        p.scale.sizing.map(|s| s.target_points),
        p.scale.sampled_tenants,
        p.scale.concurrency,
    ));
    if with_estimate {
        let src = Rp {
            db: &p.catalog.database,
            rp: &p.catalog.source_rp,
        };
        report.estimate = Some(
            estimate::estimate(
                &p.client,
                &src,
                &settings.tenants,
                &p.plan,
                p.scale.concurrency.value,
            )
            .await?,
        );
    }
    if json {
        crate::report::json::print(&report)?;
    } else {
        print!("{}", report.render());
    }
    Ok(0)
}
