//! Creating what the copies write into: target databases and retention policies.

use crate::influx::client::Client;
use crate::influx::error::ClientError;
use crate::influx::statement as influxql;
use crate::plan::target::TargetPlan;

/// Creates target databases and retention policies the plan needs. Both statements are
/// idempotent in InfluxDB; an existing policy is never altered.
pub async fn ensure_targets(client: &Client, targets: &[TargetPlan]) -> Result<(), ClientError> {
    for t in targets {
        if t.create_database {
            client
                .query(None, &influxql::create_database(&t.database))
                .await?;
        }
        if let Some(d) = &t.create_retention_policy {
            client
                .query(
                    None,
                    &influxql::create_default_retention_policy(&t.database, &t.retention_policy, d),
                )
                .await?;
        }
    }
    Ok(())
}
