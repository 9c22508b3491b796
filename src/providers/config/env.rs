//! Reading [`ProvidersConfig`] from environment variables: blanks count as unset, present
//! values are validated even when their provider stays disabled, and every error names its
//! variable.

use std::{num::NonZeroU32, time::Duration};

use super::{
    ConfigError, DARAJA_FORBIDDEN, DEFAULT_PAYSTACK_RATE, DEFAULT_PER_SEC_RATE, LnbitsConfig,
    LnbitsWebhook, MIN_TOKEN_LEN, MPESA_SANDBOX_URL, MissingSetting, MpesaCallbacks, MpesaConfig,
    MpesaInitiator, PAYSTACK_URL, PaystackConfig, ProvidersConfig, nonzero,
};
use crate::providers::{HttpSettings, Secret, cidr::Cidr};

impl ProvidersConfig {
    /// Reads settings through `lookup` (the environment, or a map in tests). Blank values count
    /// as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(&lookup);
        let read_timeout = env.number("MALIPO_PROVIDER_TIMEOUT_SECS", nonzero(15))?;
        let http = HttpSettings {
            read_timeout: Duration::from_secs(u64::from(read_timeout.get())),
            ..HttpSettings::default()
        };
        let public_url = env
            .get("MALIPO_PUBLIC_URL")
            .map(|url| validate_url("MALIPO_PUBLIC_URL", &url))
            .transpose()?;
        Ok(Self {
            http,
            paystack: paystack_from(&env)?,
            mpesa: mpesa_from(&env, public_url.as_deref())?,
            lnbits: lnbits_from(&env, public_url.as_deref())?,
            fincra: super::fincra::fincra_from(&env)?,
        })
    }
}

fn paystack_from(env: &Env<'_>) -> Result<Result<PaystackConfig, MissingSetting>, ConfigError> {
    let base_url = env.url_or("PAYSTACK_BASE_URL", PAYSTACK_URL)?;
    let rate_per_min = env.number("PAYSTACK_RATE_PER_MIN", DEFAULT_PAYSTACK_RATE)?;
    let Some(secret_key) = env.get("PAYSTACK_SECRET_KEY") else {
        return Ok(Err(MissingSetting("PAYSTACK_SECRET_KEY")));
    };
    Ok(Ok(PaystackConfig {
        base_url,
        secret_key: Secret::new(secret_key),
        rate_per_min,
    }))
}

fn mpesa_from(
    env: &Env<'_>,
    public_url: Option<&str>,
) -> Result<Result<MpesaConfig, MissingSetting>, ConfigError> {
    // Present values are validated first, so a typo fails startup even while M-Pesa is
    // disabled for lack of another setting.
    let base_url = env.url_or("MPESA_BASE_URL", MPESA_SANDBOX_URL)?;
    let rate_per_sec = env.number("MPESA_RATE_PER_SEC", DEFAULT_PER_SEC_RATE)?;
    let allowed_ips = env
        .get("MPESA_ALLOWED_IPS")
        .map(|list| Cidr::parse_list(&list))
        .transpose()
        .map_err(|reason| ConfigError {
            variable: "MPESA_ALLOWED_IPS",
            reason,
        })?;
    let shortcode = env.shortcode("MPESA_SHORTCODE")?;
    let b2c_shortcode = env.shortcode("MPESA_B2C_SHORTCODE")?;
    let token = env.path_token("MPESA_CALLBACK_TOKEN")?;
    let initiator = match env.get("MPESA_INITIATOR_NAME") {
        None => Err(MissingSetting("MPESA_INITIATOR_NAME")),
        Some(name) => env
            .required("MPESA_SECURITY_CREDENTIAL")
            .map(|credential| MpesaInitiator {
                name,
                security_credential: Secret::new(credential),
            }),
    };

    let assembled = || -> Result<MpesaConfig, MissingSetting> {
        let consumer_key = env.required("MPESA_CONSUMER_KEY")?;
        let consumer_secret = env.required("MPESA_CONSUMER_SECRET")?;
        let shortcode = shortcode.ok_or(MissingSetting("MPESA_SHORTCODE"))?;
        let passkey = env.required("MPESA_PASSKEY")?;
        let token = token.ok_or(MissingSetting("MPESA_CALLBACK_TOKEN"))?;
        let public_url = public_url.ok_or(MissingSetting("MALIPO_PUBLIC_URL"))?;
        let mut config = MpesaConfig::new(
            &base_url,
            Secret::new(consumer_key),
            Secret::new(consumer_secret),
            shortcode,
            Secret::new(passkey),
            MpesaCallbacks::new(public_url, token),
        );
        config.allowed_ips = allowed_ips;
        config.b2c_shortcode = b2c_shortcode.unwrap_or(shortcode);
        config.initiator = initiator;
        config.rate_per_sec = rate_per_sec;
        Ok(config)
    };
    let config = match assembled() {
        Ok(config) => config,
        Err(missing) => return Ok(Err(missing)),
    };
    let callbacks = &config.callbacks;
    for url in [
        callbacks.stk(),
        callbacks.b2c_result(),
        callbacks.status_result(),
    ] {
        let lower = url.to_lowercase();
        if let Some(word) = DARAJA_FORBIDDEN.iter().find(|word| lower.contains(*word)) {
            let in_public_url = public_url.is_some_and(|url| url.to_lowercase().contains(word));
            return Err(ConfigError {
                variable: if in_public_url {
                    "MALIPO_PUBLIC_URL"
                } else {
                    "MPESA_CALLBACK_TOKEN"
                },
                reason: format!("Daraja rejects callback URLs containing `{word}`"),
            });
        }
    }
    Ok(Ok(config))
}

fn lnbits_from(
    env: &Env<'_>,
    public_url: Option<&str>,
) -> Result<Result<LnbitsConfig, MissingSetting>, ConfigError> {
    let base_url = env
        .get("LNBITS_BASE_URL")
        .map(|url| validate_url("LNBITS_BASE_URL", &url))
        .transpose()?;
    let rate_per_sec = env.number("LNBITS_RATE_PER_SEC", DEFAULT_PER_SEC_RATE)?;
    let token = env.path_token("LNBITS_WEBHOOK_TOKEN")?;
    let assembled = || -> Result<LnbitsConfig, MissingSetting> {
        let base_url = base_url.ok_or(MissingSetting("LNBITS_BASE_URL"))?;
        let invoice_key = env.required("LNBITS_INVOICE_KEY")?;
        let token = token.ok_or(MissingSetting("LNBITS_WEBHOOK_TOKEN"))?;
        let public_url = public_url.ok_or(MissingSetting("MALIPO_PUBLIC_URL"))?;
        let webhook = LnbitsWebhook::new(public_url, token);
        let mut config = LnbitsConfig::new(&base_url, Secret::new(invoice_key), webhook);
        config.admin_key = env.get("LNBITS_ADMIN_KEY").map(Secret::new);
        config.rate_per_sec = rate_per_sec;
        Ok(config)
    };
    Ok(assembled())
}

/// Reads variables through a lookup, treating blanks as unset.
pub(super) struct Env<'a>(&'a dyn Fn(&str) -> Option<String>);

impl Env<'_> {
    pub(super) fn get(&self, name: &str) -> Option<String> {
        (self.0)(name)
            .map(|value| value.trim().to_owned())
            .filter(|value| !value.is_empty())
    }

    pub(super) fn required(&self, name: &'static str) -> Result<String, MissingSetting> {
        self.get(name).ok_or(MissingSetting(name))
    }

    fn shortcode(&self, name: &'static str) -> Result<Option<u32>, ConfigError> {
        self.get(name)
            .map(|code| {
                code.parse::<u32>().map_err(|_| ConfigError {
                    variable: name,
                    reason: "must be a numeric shortcode".into(),
                })
            })
            .transpose()
    }

    /// A secret that goes in a URL path: unguessable and URL-safe.
    fn path_token(&self, name: &'static str) -> Result<Option<Secret>, ConfigError> {
        let Some(token) = self.get(name) else {
            return Ok(None);
        };
        let url_safe = token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if token.len() < MIN_TOKEN_LEN || !url_safe {
            return Err(ConfigError {
                variable: name,
                reason: format!(
                    "must be at least {MIN_TOKEN_LEN} characters of A-Z, a-z, 0-9, - or _"
                ),
            });
        }
        Ok(Some(Secret::new(token)))
    }

    fn url_or(&self, name: &'static str, default: &str) -> Result<String, ConfigError> {
        match self.get(name) {
            Some(url) => validate_url(name, &url),
            None => Ok(default.to_owned()),
        }
    }

    pub(super) fn number(
        &self,
        name: &'static str,
        default: NonZeroU32,
    ) -> Result<NonZeroU32, ConfigError> {
        let Some(text) = self.get(name) else {
            return Ok(default);
        };
        text.parse::<NonZeroU32>().map_err(|_| ConfigError {
            variable: name,
            reason: format!("`{text}` is not a positive whole number"),
        })
    }
}

pub(super) fn validate_url(variable: &'static str, url: &str) -> Result<String, ConfigError> {
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(ConfigError {
            variable,
            reason: "must start with https:// or http://".into(),
        });
    }
    Ok(url.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::providers::ProviderKind;

    fn config(pairs: &[(&str, &str)]) -> Result<ProvidersConfig, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ProvidersConfig::from_lookup(|name| map.get(name).cloned())
    }

    const MPESA: [(&str, &str); 6] = [
        ("MPESA_CONSUMER_KEY", "ck"),
        ("MPESA_CONSUMER_SECRET", "cs"),
        ("MPESA_SHORTCODE", "174379"),
        ("MPESA_PASSKEY", "pk"),
        ("MPESA_CALLBACK_TOKEN", "tok_0123456789abcdef"),
        ("MALIPO_PUBLIC_URL", "https://pay.example.com/"),
    ];

    #[test]
    fn empty_environment_disables_everything_with_defaults() {
        let config = config(&[]).expect("valid");
        assert_eq!(config.http, HttpSettings::default());
        assert_eq!(
            config.missing_setting(ProviderKind::Paystack),
            Some("PAYSTACK_SECRET_KEY")
        );
        assert_eq!(
            config.missing_setting(ProviderKind::Mpesa),
            Some("MPESA_CONSUMER_KEY")
        );
        assert_eq!(
            config.missing_setting(ProviderKind::Lightning),
            Some("LNBITS_BASE_URL")
        );
    }

    #[test]
    fn paystack_defaults() {
        let config = config(&[("PAYSTACK_SECRET_KEY", "sk_test_x")]).expect("valid");
        let paystack = config.paystack.as_ref().expect("enabled");
        assert_eq!(paystack.base_url, "https://api.paystack.co");
        assert_eq!(paystack.rate_per_min.get(), 500);
        assert_eq!(config.missing_setting(ProviderKind::Paystack), None);
        assert!(!format!("{config:?}").contains("sk_test_x"));
    }

    #[test]
    fn mpesa_urls_defaults_and_missing_settings() {
        let mut pairs = MPESA.to_vec();
        pairs.push(("MPESA_ALLOWED_IPS", "196.201.214.200,196.201.213.0/24"));
        pairs.push(("MALIPO_PROVIDER_TIMEOUT_SECS", "30"));
        let config = config(&pairs).expect("valid");
        assert_eq!(config.http.read_timeout, Duration::from_secs(30));
        let mpesa = config.mpesa.as_ref().expect("enabled");
        assert_eq!(mpesa.base_url, MPESA_SANDBOX_URL);
        assert_eq!(mpesa.b2c_shortcode, 174_379);
        assert_eq!(mpesa.allowed_ips.as_ref().map(Vec::len), Some(2));
        let base = "https://pay.example.com/webhooks/mpesa/tok_0123456789abcdef";
        assert_eq!(mpesa.callbacks.stk(), format!("{base}/stk"));
        assert_eq!(mpesa.callbacks.b2c_result(), format!("{base}/b2c/result"));
        assert_eq!(mpesa.callbacks.b2c_timeout(), format!("{base}/b2c/timeout"));
        assert_eq!(
            mpesa.callbacks.status_result(),
            format!("{base}/status/result")
        );
        assert!(!format!("{config:?}").contains("tok_0123456789abcdef"));
        assert_eq!(config.missing_setting(ProviderKind::Mpesa), None);
        assert_eq!(
            config.missing_payout_setting(ProviderKind::Mpesa),
            Some("MPESA_INITIATOR_NAME")
        );

        let without_passkey: Vec<_> = MPESA
            .iter()
            .copied()
            .filter(|(k, _)| *k != "MPESA_PASSKEY")
            .collect();
        let config = super::tests::config(&without_passkey).expect("valid");
        assert_eq!(
            config.missing_setting(ProviderKind::Mpesa),
            Some("MPESA_PASSKEY")
        );
    }

    #[test]
    fn invalid_values_name_the_variable() {
        let bad = |pairs: &[(&str, &str)]| config(pairs).err().map(|e| e.variable);
        assert_eq!(
            bad(&[("PAYSTACK_RATE_PER_MIN", "0")]),
            Some("PAYSTACK_RATE_PER_MIN")
        );
        assert_eq!(
            bad(&[("MPESA_ALLOWED_IPS", "10.0.0.0/40")]),
            Some("MPESA_ALLOWED_IPS")
        );
        assert_eq!(bad(&[("MPESA_SHORTCODE", "abc")]), Some("MPESA_SHORTCODE"));
        assert_eq!(
            bad(&[("LNBITS_BASE_URL", "lnbits.local")]),
            Some("LNBITS_BASE_URL")
        );
        assert_eq!(
            bad(&[("MPESA_CALLBACK_TOKEN", "short")]),
            Some("MPESA_CALLBACK_TOKEN")
        );
        let mut pairs = MPESA.to_vec();
        pairs[4] = ("MPESA_CALLBACK_TOKEN", "tok_sqlinjection_0001");
        assert_eq!(bad(&pairs), Some("MPESA_CALLBACK_TOKEN"));
    }

    #[test]
    fn lnbits_webhook_and_payout_setting() {
        let config = config(&[
            ("LNBITS_BASE_URL", "https://lnbits.example.com"),
            ("LNBITS_INVOICE_KEY", "inv"),
            ("LNBITS_WEBHOOK_TOKEN", "ln_0123456789abcdef"),
            ("MALIPO_PUBLIC_URL", "https://pay.example.com"),
        ])
        .expect("valid");
        let lnbits = config.lnbits.as_ref().expect("enabled");
        assert_eq!(
            lnbits.webhook.url(),
            "https://pay.example.com/webhooks/lnbits/ln_0123456789abcdef"
        );
        assert_eq!(
            config.missing_payout_setting(ProviderKind::Lightning),
            Some("LNBITS_ADMIN_KEY")
        );
        assert_eq!(
            config.missing_payout_setting(ProviderKind::Paystack),
            Some("PAYSTACK_SECRET_KEY")
        );
    }
}
