//! The Fincra part of creating an intent: a Fincra payee needs Fincra configured (a 422 naming
//! the missing setting otherwise), and a bank account is resolved with Fincra
//! (`POST /core/accounts/resolve`). An account Fincra says does not exist is a 422 now rather
//! than a payout that fails after release; when Fincra cannot be asked, the intent is still
//! accepted (a payout to a bad account fails safely and its share can be sent elsewhere).

use super::{
    AppState,
    problem::{ApiError, FieldError},
};
use crate::{
    domain::{FincraDestination, NewIntent, PayoutDestination, ProviderKind},
    providers::AccountCheck,
};

/// Checks a Fincra payee; other payees pass untouched.
pub(super) async fn check(state: &AppState, intent: &NewIntent) -> Result<(), ApiError> {
    let PayoutDestination::Fincra(destination) = &intent.payee.payout else {
        return Ok(());
    };
    if let Some(missing) = state.provider_gate.missing_setting(ProviderKind::Fincra) {
        return Err(ApiError::Unprocessable(format!(
            "provider fincra is not configured on this server: set {missing}"
        )));
    }
    let (
        Some(client),
        FincraDestination::BankAccount {
            bank_code,
            account_number,
            ..
        },
    ) = (&state.fincra_checks, destination)
    else {
        return Ok(());
    };
    match client.resolve_account(bank_code, account_number).await {
        Ok(AccountCheck::Found(_)) => Ok(()),
        Ok(AccountCheck::Unknown(why)) => Err(ApiError::Validation(vec![FieldError::new(
            "payee.payout.account_number",
            format!("Fincra cannot resolve this account at bank {bank_code}: {why}"),
        )])),
        Err(error) => {
            tracing::warn!(%error, "Fincra could not be asked about the account; accepting it");
            Ok(())
        }
    }
}
