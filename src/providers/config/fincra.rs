//! Fincra's settings (PROVIDERS.md §4): `FINCRA_SECRET_KEY`, `FINCRA_BUSINESS_ID`,
//! `FINCRA_WEBHOOK_SECRET` and `FINCRA_BASE_URL` are required; `FINCRA_PUBLIC_KEY` is only
//! for checkout. There is deliberately no default base URL: the sandbox
//! (`https://sandboxapi.fincra.com`) and live (`https://api.fincra.com`) hosts move different
//! money, so an operator names one.

use std::num::NonZeroU32;

use super::{
    ConfigError, MissingSetting,
    env::{Env, validate_url},
};
use crate::providers::Secret;

/// Fincra settings.
#[derive(Debug, Clone)]
pub struct FincraConfig {
    /// `FINCRA_BASE_URL`.
    pub base_url: String,
    /// `FINCRA_SECRET_KEY`: the `api-key` header of every call.
    pub secret_key: Secret,
    /// `FINCRA_PUBLIC_KEY`: the `x-pub-key` of checkout calls (collections), when set.
    pub public_key: Option<Secret>,
    /// `FINCRA_BUSINESS_ID`: the `x-business-id` header and the payouts' `business` field.
    pub business_id: String,
    /// `FINCRA_WEBHOOK_SECRET`: the key webhooks are signed with.
    pub webhook_secret: Secret,
    /// `FINCRA_RATE_PER_SEC`: 10 by default (Fincra publishes no number).
    pub rate_per_sec: NonZeroU32,
}

impl FincraConfig {
    /// Fincra at `base_url` for one business, with the default rate limit and no public key.
    pub fn new(
        base_url: &str,
        secret_key: Secret,
        business_id: &str,
        webhook_secret: Secret,
    ) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            secret_key,
            public_key: None,
            business_id: business_id.to_owned(),
            webhook_secret,
            rate_per_sec: DEFAULT_FINCRA_RATE,
        }
    }
}

const DEFAULT_FINCRA_RATE: NonZeroU32 = super::nonzero(10);

/// Reads Fincra's variables: present values are validated even while another is missing.
pub(super) fn fincra_from(
    env: &Env<'_>,
) -> Result<Result<FincraConfig, MissingSetting>, ConfigError> {
    let base_url = env
        .get("FINCRA_BASE_URL")
        .map(|url| validate_url("FINCRA_BASE_URL", &url))
        .transpose()?;
    let rate_per_sec = env.number("FINCRA_RATE_PER_SEC", DEFAULT_FINCRA_RATE)?;
    let business_id = env.get("FINCRA_BUSINESS_ID");
    if let Some(id) = &business_id
        && !(id.len() == 24 && id.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Err(ConfigError {
            variable: "FINCRA_BUSINESS_ID",
            reason: "must be the 24 hex characters of `_id` in GET /profile/business/me".into(),
        });
    }
    let assembled = || -> Result<FincraConfig, MissingSetting> {
        let secret_key = env.required("FINCRA_SECRET_KEY")?;
        let business_id = business_id.ok_or(MissingSetting("FINCRA_BUSINESS_ID"))?;
        let webhook_secret = env.required("FINCRA_WEBHOOK_SECRET")?;
        let base_url = base_url.ok_or(MissingSetting("FINCRA_BASE_URL"))?;
        let mut config = FincraConfig::new(
            &base_url,
            Secret::new(secret_key),
            &business_id,
            Secret::new(webhook_secret),
        );
        config.public_key = env.get("FINCRA_PUBLIC_KEY").map(Secret::new);
        config.rate_per_sec = rate_per_sec;
        Ok(config)
    };
    Ok(assembled())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use crate::providers::{ConfigError, ProviderKind, ProvidersConfig};

    fn config(pairs: &[(&str, &str)]) -> Result<ProvidersConfig, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ProvidersConfig::from_lookup(|name| map.get(name).cloned())
    }

    const FINCRA: [(&str, &str); 4] = [
        ("FINCRA_SECRET_KEY", "sk_fincra_secret"),
        ("FINCRA_BUSINESS_ID", "0123456789abcdef01234567"),
        ("FINCRA_WEBHOOK_SECRET", "whsec_fincra_secret"),
        ("FINCRA_BASE_URL", "https://sandboxapi.fincra.com/"),
    ];

    #[test]
    fn fincra_is_enabled_by_its_four_settings_and_names_the_first_missing() {
        let enabled = config(&FINCRA).expect("valid");
        let fincra = enabled.fincra.as_ref().expect("enabled");
        assert_eq!(fincra.base_url, "https://sandboxapi.fincra.com");
        assert!(fincra.public_key.is_none());
        assert_eq!(enabled.missing_setting(ProviderKind::Fincra), None);
        assert!(!format!("{enabled:?}").contains("sk_fincra_secret"));
        assert!(!format!("{enabled:?}").contains("whsec_fincra_secret"));

        assert_eq!(
            config(&[])
                .expect("valid")
                .missing_setting(ProviderKind::Fincra),
            Some("FINCRA_SECRET_KEY")
        );
        // No default base URL: the sandbox is named in the docs, never assumed in code.
        let without_url: Vec<_> = FINCRA
            .iter()
            .copied()
            .filter(|(k, _)| *k != "FINCRA_BASE_URL")
            .collect();
        assert_eq!(
            config(&without_url)
                .expect("valid")
                .missing_setting(ProviderKind::Fincra),
            Some("FINCRA_BASE_URL")
        );
    }

    #[test]
    fn a_malformed_business_id_or_url_names_its_variable() {
        let bad = |pairs: &[(&str, &str)]| config(pairs).err().map(|e| e.variable);
        assert_eq!(
            bad(&[("FINCRA_BUSINESS_ID", "not-an-id")]),
            Some("FINCRA_BUSINESS_ID")
        );
        assert_eq!(
            bad(&[("FINCRA_BASE_URL", "sandboxapi.fincra.com")]),
            Some("FINCRA_BASE_URL")
        );
    }
}
