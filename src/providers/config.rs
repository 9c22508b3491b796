//! Provider settings, typed and validated from the environment (or built directly by tests and
//! the sandbox). A provider whose required settings are missing is disabled, and the config can
//! name the first missing variable so the API can answer 422 with it.

use std::{num::NonZeroU32, time::Duration};

use super::{HttpSettings, ProviderKind, Secret, cidr::Cidr};

/// Daraja's sandbox, the default `MPESA_BASE_URL`.
pub const MPESA_SANDBOX_URL: &str = "https://sandbox.safaricom.co.ke";
/// Paystack's API, the default `PAYSTACK_BASE_URL`.
pub const PAYSTACK_URL: &str = "https://api.paystack.co";

const MIN_TOKEN_LEN: usize = 16;
/// Daraja refuses callback URLs containing these words (case-insensitive).
const DARAJA_FORBIDDEN: [&str; 6] = ["m-pesa", "safaricom", "exe", "cmd", "sql", "query"];

/// A setting that is present but unusable; startup fails naming the variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {variable}: {reason}")]
pub struct ConfigError {
    /// The environment variable.
    pub variable: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

/// The first required variable that is not set, which disables a provider (or its payouts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissingSetting(pub &'static str);

/// Every provider's settings.
#[derive(Debug, Clone)]
pub struct ProvidersConfig {
    /// Timeouts for every provider call.
    pub http: HttpSettings,
    /// Paystack, or the variable that disables it.
    pub paystack: Result<PaystackConfig, MissingSetting>,
    /// M-Pesa, or the variable that disables it.
    pub mpesa: Result<MpesaConfig, MissingSetting>,
    /// LNbits, or the variable that disables it.
    pub lnbits: Result<LnbitsConfig, MissingSetting>,
}

/// Paystack settings.
#[derive(Debug, Clone)]
pub struct PaystackConfig {
    /// `PAYSTACK_BASE_URL`.
    pub base_url: String,
    /// `PAYSTACK_SECRET_KEY`: API key and webhook signing key at once.
    pub secret_key: Secret,
    /// `PAYSTACK_RATE_PER_MIN`: 500 by default, under the documented 600.
    pub rate_per_min: NonZeroU32,
}

/// M-Pesa Daraja settings.
#[derive(Debug, Clone)]
pub struct MpesaConfig {
    /// `MPESA_BASE_URL`.
    pub base_url: String,
    /// `MPESA_CONSUMER_KEY`.
    pub consumer_key: Secret,
    /// `MPESA_CONSUMER_SECRET`.
    pub consumer_secret: Secret,
    /// `MPESA_SHORTCODE`: the paybill or till receiving STK payments.
    pub shortcode: u32,
    /// `MPESA_PASSKEY`: Lipa na M-Pesa passkey.
    pub passkey: Secret,
    /// Callback URLs (`MALIPO_PUBLIC_URL` + `MPESA_CALLBACK_TOKEN`).
    pub callbacks: MpesaCallbacks,
    /// `MPESA_ALLOWED_IPS`: callbacks only from these; `None` leaves the check off.
    pub allowed_ips: Option<Vec<Cidr>>,
    /// `MPESA_B2C_SHORTCODE`: the shortcode paying out (the shortcode by default).
    pub b2c_shortcode: u32,
    /// `MPESA_INITIATOR_NAME` + `MPESA_SECURITY_CREDENTIAL`, needed for B2C and status queries.
    pub initiator: Result<MpesaInitiator, MissingSetting>,
    /// `MPESA_RATE_PER_SEC`: 20 by default (Daraja publishes no number).
    pub rate_per_sec: NonZeroU32,
}

/// The API operator B2C and Transaction Status act as.
#[derive(Debug, Clone)]
pub struct MpesaInitiator {
    /// `MPESA_INITIATOR_NAME`.
    pub name: String,
    /// `MPESA_SECURITY_CREDENTIAL`: the initiator password RSA-encrypted with Safaricom's
    /// certificate, base64.
    pub security_credential: Secret,
}

/// Where Daraja posts results: `{MALIPO_PUBLIC_URL}/webhooks/mpesa/{token}/…`. The token is the
/// callbacks' only authentication, so the URLs are built on demand and never printed.
#[derive(Debug, Clone)]
pub struct MpesaCallbacks {
    public_url: String,
    token: Secret,
}

impl MpesaCallbacks {
    /// Callbacks under `public_url` (trailing `/` ignored) with the secret path token.
    pub fn new(public_url: &str, token: Secret) -> Self {
        Self {
            public_url: public_url.trim_end_matches('/').to_owned(),
            token,
        }
    }

    /// The token expected in the path.
    pub fn token(&self) -> &Secret {
        &self.token
    }

    /// STK Push results.
    pub fn stk(&self) -> String {
        self.url("stk")
    }

    /// B2C results.
    pub fn b2c_result(&self) -> String {
        self.url("b2c/result")
    }

    /// B2C requests that timed out in Daraja's queue.
    pub fn b2c_timeout(&self) -> String {
        self.url("b2c/timeout")
    }

    /// Transaction Status results.
    pub fn status_result(&self) -> String {
        self.url("status/result")
    }

    /// Transaction Status queries that timed out in Daraja's queue (Daraja requires a URL).
    pub fn status_timeout(&self) -> String {
        self.url("status/timeout")
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}/webhooks/mpesa/{}/{path}",
            self.public_url,
            self.token.expose()
        )
    }
}

/// LNbits settings.
#[derive(Debug, Clone)]
pub struct LnbitsConfig {
    /// `LNBITS_BASE_URL`.
    pub base_url: String,
    /// `LNBITS_INVOICE_KEY`: creates and reads invoices.
    pub invoice_key: Secret,
    /// `LNBITS_ADMIN_KEY`: pays invoices; payouts are off without it.
    pub admin_key: Option<Secret>,
    /// `MALIPO_PUBLIC_URL` + `LNBITS_WEBHOOK_TOKEN`.
    pub webhook: LnbitsWebhook,
    /// Invoice lifetime (LNbits' default, one hour).
    pub invoice_expiry: Duration,
    /// `LNBITS_RATE_PER_SEC`: 20 by default.
    pub rate_per_sec: NonZeroU32,
}

/// `{MALIPO_PUBLIC_URL}/webhooks/lnbits/{token}`: LNbits webhooks are unsigned, so the secret
/// path token authenticates them.
#[derive(Debug, Clone)]
pub struct LnbitsWebhook {
    public_url: String,
    token: Secret,
}

impl LnbitsWebhook {
    /// The webhook under `public_url` (trailing `/` ignored) with the secret path token.
    pub fn new(public_url: &str, token: Secret) -> Self {
        Self {
            public_url: public_url.trim_end_matches('/').to_owned(),
            token,
        }
    }

    /// The token expected in the path.
    pub fn token(&self) -> &Secret {
        &self.token
    }

    /// The URL sent with each invoice.
    pub fn url(&self) -> String {
        format!(
            "{}/webhooks/lnbits/{}",
            self.public_url,
            self.token.expose()
        )
    }
}

const DEFAULT_PAYSTACK_RATE: NonZeroU32 = nonzero(500);
const DEFAULT_PER_SEC_RATE: NonZeroU32 = nonzero(20);

/// A non-zero constant, checked at compile time.
const fn nonzero(n: u32) -> NonZeroU32 {
    match NonZeroU32::new(n) {
        Some(n) => n,
        None => panic!("rate constants are positive"),
    }
}

impl PaystackConfig {
    /// Paystack at `base_url` with the default rate limit.
    pub fn new(base_url: &str, secret_key: Secret) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            secret_key,
            rate_per_min: DEFAULT_PAYSTACK_RATE,
        }
    }
}

impl MpesaConfig {
    /// Daraja at `base_url` for one shortcode, paying out from the same shortcode, with no
    /// initiator (no B2C) and no IP allow-list; set the public fields to change that.
    pub fn new(
        base_url: &str,
        consumer_key: Secret,
        consumer_secret: Secret,
        shortcode: u32,
        passkey: Secret,
        callbacks: MpesaCallbacks,
    ) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            consumer_key,
            consumer_secret,
            shortcode,
            passkey,
            callbacks,
            allowed_ips: None,
            b2c_shortcode: shortcode,
            initiator: Err(MissingSetting("MPESA_INITIATOR_NAME")),
            rate_per_sec: DEFAULT_PER_SEC_RATE,
        }
    }
}

impl LnbitsConfig {
    /// LNbits at `base_url` receiving with `invoice_key`, no admin key (no payouts).
    pub fn new(base_url: &str, invoice_key: Secret, webhook: LnbitsWebhook) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            invoice_key,
            admin_key: None,
            webhook,
            invoice_expiry: Duration::from_secs(3600),
            rate_per_sec: DEFAULT_PER_SEC_RATE,
        }
    }
}

impl ProvidersConfig {
    /// A config from explicit values; a `None` provider is disabled and reported as missing its
    /// first required variable.
    pub fn new(
        http: HttpSettings,
        paystack: Option<PaystackConfig>,
        mpesa: Option<MpesaConfig>,
        lnbits: Option<LnbitsConfig>,
    ) -> Self {
        Self {
            http,
            paystack: paystack.ok_or(MissingSetting("PAYSTACK_SECRET_KEY")),
            mpesa: mpesa.ok_or(MissingSetting("MPESA_CONSUMER_KEY")),
            lnbits: lnbits.ok_or(MissingSetting("LNBITS_BASE_URL")),
        }
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

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
        })
    }

    /// The first missing variable that disables `provider`, if it is disabled.
    pub fn missing_setting(&self, provider: ProviderKind) -> Option<&'static str> {
        let missing = match provider {
            ProviderKind::Paystack => self.paystack.as_ref().err(),
            ProviderKind::Mpesa => self.mpesa.as_ref().err(),
            ProviderKind::Lnbits => self.lnbits.as_ref().err(),
        };
        missing.map(|MissingSetting(name)| *name)
    }

    /// The first missing variable that keeps `provider` from paying out (B2C needs an
    /// initiator, Lightning payments an admin key), if any.
    pub fn missing_payout_setting(&self, provider: ProviderKind) -> Option<&'static str> {
        self.missing_setting(provider).or(match provider {
            ProviderKind::Paystack => None,
            ProviderKind::Mpesa => self
                .mpesa
                .as_ref()
                .ok()
                .and_then(|mpesa| mpesa.initiator.as_ref().err())
                .map(|MissingSetting(name)| *name),
            ProviderKind::Lnbits => self
                .lnbits
                .as_ref()
                .ok()
                .filter(|lnbits| lnbits.admin_key.is_none())
                .map(|_| "LNBITS_ADMIN_KEY"),
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
struct Env<'a>(&'a dyn Fn(&str) -> Option<String>);

impl Env<'_> {
    fn get(&self, name: &str) -> Option<String> {
        (self.0)(name)
            .map(|value| value.trim().to_owned())
            .filter(|value| !value.is_empty())
    }

    fn required(&self, name: &'static str) -> Result<String, MissingSetting> {
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

    fn number(&self, name: &'static str, default: NonZeroU32) -> Result<NonZeroU32, ConfigError> {
        let Some(text) = self.get(name) else {
            return Ok(default);
        };
        text.parse::<NonZeroU32>().map_err(|_| ConfigError {
            variable: name,
            reason: format!("`{text}` is not a positive whole number"),
        })
    }
}

fn validate_url(variable: &'static str, url: &str) -> Result<String, ConfigError> {
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
            config.missing_setting(ProviderKind::Lnbits),
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
            config.missing_payout_setting(ProviderKind::Lnbits),
            Some("LNBITS_ADMIN_KEY")
        );
        assert_eq!(
            config.missing_payout_setting(ProviderKind::Paystack),
            Some("PAYSTACK_SECRET_KEY")
        );
    }
}
