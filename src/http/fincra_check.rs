//! The Fincra part of creating an intent: a Fincra payee needs Fincra configured (a 422 naming
//! the missing setting otherwise), its bank must be one Fincra pays to (`db::fincra_banks`:
//! the refreshed list, or the shipped one until a refresh), and a bank account is resolved with Fincra
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
    let Some(PayoutDestination::Fincra(destination)) = intent
        .payee
        .as_ref()
        .and_then(|payee| payee.payout.destination())
    else {
        return Ok(());
    };
    if let Some(missing) = state.provider_gate.missing_setting(ProviderKind::Fincra) {
        return Err(ApiError::Unprocessable(format!(
            "provider fincra is not configured on this server: set {missing}"
        )));
    }
    check_bank(state, "payee.payout.bank_code", destination).await?;
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

/// A bank account's code must be on malipo's list of banks Fincra pays to; a 422 naming
/// `field` otherwise. Wallets pass.
pub(super) async fn check_bank(
    state: &AppState,
    field: &'static str,
    destination: &FincraDestination,
) -> Result<(), ApiError> {
    let FincraDestination::BankAccount { bank_code, .. } = destination else {
        return Ok(());
    };
    let mut conn = state.pool.acquire().await?;
    if crate::db::fincra_banks::is_known(&mut conn, bank_code).await? {
        return Ok(());
    }
    Err(ApiError::Validation(vec![FieldError::new(
        field,
        format!(
            "`{bank_code}` is not a Nigerian bank Fincra pays to (malipo's list; operators refresh it from Fincra with POST /ops/fincra/banks/refresh)"
        ),
    )]))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::{config::Config, http::WebhookSecrets, providers::ProvidersConfig};

    fn state(providers: ProvidersConfig) -> AppState {
        // The check never touches the database: a lazy pool is never connected.
        let pool =
            sqlx::PgPool::connect_lazy("postgres://unused@127.0.0.1:9/unused").expect("lazy pool");
        let config = Config::from_lookup(|_| None).expect("config");
        AppState::new(pool, config, Arc::new(providers), WebhookSecrets::default())
    }

    fn intent(payout: serde_json::Value) -> NewIntent {
        let body = json!({"amount": "1000.00", "currency": "NGN", "provider": "paystack",
            "buyer": {"email": "buyer@example.com"}, "payee": {"id": "p", "payout": payout}});
        let serde_json::Value::Object(body) = body else {
            unreachable!("an object literal")
        };
        NewIntent::parse(&body, Some("\"1000.00\""), 0).expect("valid intent")
    }

    #[tokio::test]
    async fn fincra_collections_need_the_public_key_on_top_of_the_payout_settings() {
        let settings = |public_key: Option<&str>| {
            ProvidersConfig::from_lookup(|name| match name {
                "FINCRA_SECRET_KEY" => Some("sk".to_owned()),
                "FINCRA_BUSINESS_ID" => Some("0123456789abcdef01234567".to_owned()),
                "FINCRA_WEBHOOK_SECRET" => Some("whsec".to_owned()),
                "FINCRA_BASE_URL" => Some("https://sandboxapi.fincra.com".to_owned()),
                "FINCRA_PUBLIC_KEY" => public_key.map(str::to_owned),
                _ => None,
            })
            .expect("config")
        };
        let payouts_only = state(settings(None));
        let gate = &payouts_only.provider_gate;
        assert_eq!(gate.missing_setting(ProviderKind::Fincra), None);
        assert_eq!(
            gate.missing_deposit_setting(ProviderKind::Fincra),
            Some("FINCRA_PUBLIC_KEY")
        );
        let collecting = state(settings(Some("pk_test")));
        assert_eq!(
            collecting
                .provider_gate
                .missing_deposit_setting(ProviderKind::Fincra),
            None
        );
        // Other providers' deposits need only their own settings.
        assert_eq!(
            gate.missing_deposit_setting(ProviderKind::Paystack),
            Some("PAYSTACK_SECRET_KEY")
        );
    }

    #[tokio::test]
    async fn a_fincra_payee_without_fincra_configured_is_a_422_naming_the_setting() {
        let unconfigured = state(ProvidersConfig::from_lookup(|_| None).expect("config"));
        let bank = json!({"provider": "fincra", "destination": "bank_account", "bank_code": "058",
            "account_number": "0124775489", "account_name": "Hassan Sarz"});
        match check(&unconfigured, &intent(bank)).await {
            Err(ApiError::Unprocessable(message)) => {
                assert!(message.contains("FINCRA_SECRET_KEY"), "{message}");
            }
            other => panic!("expected a 422, got {other:?}"),
        }
        let paystack = json!({"provider": "paystack", "recipient_code": "RCP_x"});
        assert!(check(&unconfigured, &intent(paystack)).await.is_ok());
    }
}
