//! Notification settings from the environment; errors name the variable.

use std::time::Duration;

use anyhow::Context;

use super::secret_box::SecretsKey;

/// How endpoints are stored and deliveries sent.
#[derive(Debug, Clone)]
pub struct NotifySettings {
    /// `MALIPO_SECRETS_KEY`: seals endpoint secrets; without it, endpoints cannot be created
    /// and deliveries wait (startup refuses to run without it once endpoints exist).
    pub secrets_key: Option<SecretsKey>,
    /// `MALIPO_WEBHOOK_ALLOW_PRIVATE=true`: loopback/private targets and plain http allowed
    /// (the sandbox and tests only).
    pub allow_private: bool,
    /// `MALIPO_WEBHOOK_SCHEDULE_SCALE` (0–1, default 1): compresses the retry schedule and the
    /// five-day disable window, for tests and staging.
    pub schedule_scale: f64,
    /// `MALIPO_WEBHOOK_TIMEOUT` (default 15s): one attempt's whole time.
    pub timeout: Duration,
}

impl Default for NotifySettings {
    fn default() -> Self {
        Self {
            secrets_key: None,
            allow_private: false,
            schedule_scale: 1.0,
            timeout: Duration::from_secs(15),
        }
    }
}

impl NotifySettings {
    /// Through `lookup` (tests pass a closure).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let secrets_key = get("MALIPO_SECRETS_KEY")
            .map(|text| SecretsKey::parse(&text))
            .transpose()?;
        let allow_private = match get("MALIPO_WEBHOOK_ALLOW_PRIVATE").as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                anyhow::bail!("MALIPO_WEBHOOK_ALLOW_PRIVATE must be true or false, not {other:?}")
            }
        };
        let schedule_scale = match get("MALIPO_WEBHOOK_SCHEDULE_SCALE") {
            None => 1.0,
            Some(text) => {
                let scale: f64 = text
                    .trim()
                    .parse()
                    .context("MALIPO_WEBHOOK_SCHEDULE_SCALE must be a number")?;
                if !(scale > 0.0 && scale <= 1.0) {
                    anyhow::bail!("MALIPO_WEBHOOK_SCHEDULE_SCALE must be in (0, 1], not {scale}");
                }
                scale
            }
        };
        let timeout = match get("MALIPO_WEBHOOK_TIMEOUT") {
            None => Duration::from_secs(15),
            Some(text) => crate::config::duration(&text).context("MALIPO_WEBHOOK_TIMEOUT")?,
        };
        Ok(Self {
            secrets_key,
            allow_private,
            schedule_scale,
            timeout,
        })
    }

    /// The sandbox's settings: loopback allowed, and the sandbox's well-known key when none is
    /// configured (see [`SecretsKey::sandbox`]).
    pub fn for_sandbox(mut self) -> Self {
        self.allow_private = true;
        if self.secrets_key.is_none() {
            self.secrets_key = Some(SecretsKey::sandbox());
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_names_bad_variables() {
        let defaults = NotifySettings::from_lookup(|_| None).expect("defaults");
        assert!(defaults.secrets_key.is_none() && !defaults.allow_private);
        assert_eq!(defaults.timeout, Duration::from_secs(15));
        let bad = NotifySettings::from_lookup(|name| {
            (name == "MALIPO_WEBHOOK_SCHEDULE_SCALE").then(|| "2".to_owned())
        })
        .expect_err("out of range");
        assert!(bad.to_string().contains("MALIPO_WEBHOOK_SCHEDULE_SCALE"));
        let bad = NotifySettings::from_lookup(|name| {
            (name == "MALIPO_WEBHOOK_ALLOW_PRIVATE").then(|| "yes".to_owned())
        })
        .expect_err("not a bool");
        assert!(bad.to_string().contains("MALIPO_WEBHOOK_ALLOW_PRIVATE"));
    }
}
