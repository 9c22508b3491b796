//! Refreshing the Nigerian banks Fincra pays to (`fincra_banks`) from Fincra's own list,
//! audited as `fincra.banks.refresh`. Fincra is asked first, with no transaction open; the
//! list is then replaced and the audit row written in one transaction. A failed or empty
//! answer changes nothing.

use serde_json::json;
use sqlx::PgPool;

use super::{
    Actor, OpsError,
    audit::{self, Action},
};
use crate::{
    db::fincra_banks,
    providers::{FincraClient, ProviderError},
};

/// Replaces the bank list with Fincra's; `Ok(Err(_))` says why Fincra could not be asked
/// (nothing was changed), `Ok(Ok(n))` how many banks are listed now.
pub async fn refresh(
    pool: &PgPool,
    client: &FincraClient,
    actor: &Actor,
) -> Result<Result<u64, ProviderError>, OpsError> {
    let banks = match client.list_banks().await {
        Ok(banks) => banks,
        Err(error) => return Ok(Err(error)),
    };
    let mut tx = pool.begin().await?;
    let stored = fincra_banks::replace(&mut tx, &banks).await?;
    audit::record(
        &mut *tx,
        &Action {
            actor,
            action: "fincra.banks.refresh",
            job_id: None,
            queue: None,
            filter: json!({"country": "NG", "currency": "NGN", "paymentDestination": "bank_account"}),
            dry_run: false,
            affected: i64::try_from(stored).unwrap_or(i64::MAX),
            detail: json!({"banks": stored}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Ok(stored))
}
