//! Pointing malipo's provider clients at the fakes (the `malipo-sandbox` crate): the
//! configuration `malipo run --sandbox`, the flow tests and the end-to-end benchmark use.

use rand::RngCore;

use malipo_sandbox::FakeProviders;

use super::Application;
use crate::providers::{
    HttpSettings, ProvidersConfig, Secret,
    config::{
        FincraConfig, LnbitsConfig, LnbitsWebhook, MpesaCallbacks, MpesaConfig, MpesaInitiator,
        PaystackConfig,
    },
};

impl Application {
    /// Keeps the sandbox's fakes alive as long as the application, and stops them with it.
    #[must_use]
    pub fn with_fakes(self, fakes: FakeProviders) -> Self {
        self.with_companion(Box::new(move || Box::pin(fakes.shutdown())))
    }
}

/// `settings` with the providers replaced by the fakes, which call back to `public_url`, and
/// notifications allowed to reach loopback listeners: what `malipo run --sandbox` runs with.
#[must_use]
pub fn sandbox_settings(
    mut settings: crate::settings::Settings,
    fakes: &FakeProviders,
    public_url: &str,
) -> crate::settings::Settings {
    settings.providers = providers_config(fakes, public_url, HttpSettings::default());
    settings.notify = settings.notify.for_sandbox();
    settings
}

/// Provider settings for every fake, with callback URLs under `public_url` (malipo's own HTTP
/// front) and fresh random callback tokens. Paystack's and Fincra's webhook URLs are set on the
/// fakes too.
pub fn providers_config(
    fakes: &FakeProviders,
    public_url: &str,
    http: HttpSettings,
) -> ProvidersConfig {
    let paystack = PaystackConfig::new(
        &fakes.paystack_base_url(),
        Secret::new(fakes.paystack_secret_key().to_owned()),
    );
    fakes.set_paystack_webhook_url(Some(format!(
        "{}/webhooks/paystack",
        public_url.trim_end_matches('/')
    )));

    let (consumer_key, consumer_secret) = fakes.mpesa_consumer_credentials();
    let (shortcode, passkey) = fakes.mpesa_shortcode_and_passkey();
    let mut mpesa = MpesaConfig::new(
        &fakes.mpesa_base_url(),
        Secret::new(consumer_key.to_owned()),
        Secret::new(consumer_secret.to_owned()),
        shortcode.parse().unwrap_or(174_379),
        Secret::new(passkey.to_owned()),
        MpesaCallbacks::new(public_url, Secret::new(token())),
    );
    mpesa.initiator = Ok(MpesaInitiator {
        name: "sandboxapi".to_owned(),
        security_credential: Secret::new("c2FuZGJveA==".to_owned()),
    });

    let mut lnbits = LnbitsConfig::new(
        &fakes.lnbits_base_url(),
        Secret::new(fakes.lnbits_invoice_key().to_owned()),
        LnbitsWebhook::new(public_url, Secret::new(token())),
    );
    lnbits.admin_key = Some(Secret::new(fakes.lnbits_admin_key().to_owned()));

    let mut fincra = FincraConfig::new(
        &fakes.fincra_base_url(),
        Secret::new(fakes.fincra_secret_key().to_owned()),
        fakes.fincra_business_id(),
        Secret::new(fakes.fincra_webhook_secret().to_owned()),
    );
    fincra.public_key = Some(Secret::new(fakes.fincra_public_key().to_owned()));
    fakes.set_fincra_webhook_url(Some(format!(
        "{}/webhooks/fincra",
        public_url.trim_end_matches('/')
    )));
    ProvidersConfig::new(http, Some(paystack), Some(mpesa), Some(lnbits)).with_fincra(fincra)
}

/// A 32-character URL-safe random token.
fn token() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}
