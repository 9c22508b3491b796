//! `Providers`: the enabled adapters, built once from config and shared by web and workers.

use std::sync::Arc;

use super::{
    FincraClient, LnbitsClient, MpesaClient, PaystackClient, ProvidersConfig, mpesa::TokenStore,
};

/// Each provider's client, or `None` where its settings are missing (see
/// [`ProvidersConfig::missing_setting`]).
#[derive(Debug, Default)]
pub struct Providers {
    paystack: Option<PaystackClient>,
    mpesa: Option<MpesaClient>,
    lnbits: Option<LnbitsClient>,
    fincra: Option<FincraClient>,
}

impl Providers {
    /// Clients for every enabled provider; M-Pesa shares its token through `tokens`
    /// (a `PgTokenStore` when several processes run).
    pub fn from_config(
        config: &ProvidersConfig,
        tokens: Arc<dyn TokenStore>,
    ) -> Result<Self, reqwest::Error> {
        Ok(Self {
            paystack: config
                .paystack
                .as_ref()
                .ok()
                .map(|paystack| PaystackClient::new(paystack, &config.http))
                .transpose()?,
            mpesa: config
                .mpesa
                .as_ref()
                .ok()
                .map(|mpesa| MpesaClient::new(mpesa, &config.http, tokens))
                .transpose()?,
            lnbits: config
                .lnbits
                .as_ref()
                .ok()
                .map(|lnbits| LnbitsClient::new(lnbits, &config.http))
                .transpose()?,
            fincra: config
                .fincra
                .as_ref()
                .ok()
                .map(|fincra| FincraClient::new(fincra, &config.http))
                .transpose()?,
        })
    }

    /// From clients built by hand (tests, the sandbox).
    pub fn new(
        paystack: Option<PaystackClient>,
        mpesa: Option<MpesaClient>,
        lnbits: Option<LnbitsClient>,
    ) -> Self {
        Self {
            paystack,
            mpesa,
            lnbits,
            fincra: None,
        }
    }

    /// The same providers with Fincra (`new` leaves it out).
    #[must_use]
    pub fn with_fincra(mut self, fincra: Option<FincraClient>) -> Self {
        self.fincra = fincra;
        self
    }

    /// Paystack, when enabled.
    pub fn paystack(&self) -> Option<&PaystackClient> {
        self.paystack.as_ref()
    }

    /// M-Pesa, when enabled.
    pub fn mpesa(&self) -> Option<&MpesaClient> {
        self.mpesa.as_ref()
    }

    /// LNbits, when enabled.
    pub fn lnbits(&self) -> Option<&LnbitsClient> {
        self.lnbits.as_ref()
    }

    /// Fincra, when enabled.
    pub fn fincra(&self) -> Option<&FincraClient> {
        self.fincra.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::{
        HttpSettings, Secret,
        config::{LnbitsConfig, LnbitsWebhook, PaystackConfig},
        mpesa::MemoryTokenStore,
    };

    #[test]
    fn builds_only_enabled_providers() {
        let config = ProvidersConfig::new(
            HttpSettings::default(),
            Some(PaystackConfig::new(
                "http://127.0.0.1:9",
                Secret::new("sk_test"),
            )),
            None,
            Some(LnbitsConfig::new(
                "http://127.0.0.1:9",
                Secret::new("inv"),
                LnbitsWebhook::new(
                    "https://pay.example.com",
                    Secret::new("ln_0123456789abcdef"),
                ),
            )),
        );
        let providers =
            Providers::from_config(&config, Arc::new(MemoryTokenStore::new())).expect("builds");
        assert!(providers.paystack().is_some());
        assert!(providers.mpesa().is_none());
        assert!(providers.lnbits().is_some());
        assert_eq!(
            config.missing_setting(crate::providers::ProviderKind::Mpesa),
            Some("MPESA_CONSUMER_KEY")
        );
    }
}
