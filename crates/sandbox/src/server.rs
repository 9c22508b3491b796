//! `FakeProviders`: starts the one loopback server carrying the three fakes under their own
//! base URLs, hands out their URLs, credentials, fault knobs and counters, and stops it.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::http::StatusCode;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::counters::CountersSnapshot;
use super::delivery::Delivery;
use super::fault_layer::FaultContext;
use super::faults::{Faults, Provider};
use super::fincra::{self, FincraState};
use super::lnbits::{self, LnbitsState};
use super::money::MoneySnapshot;
use super::mpesa::{self, MpesaState};
use super::paystack::{self, PaystackState};
use super::settings::SandboxSettings;
use super::shared::{Shared, lock};

/// How long `shutdown` waits for open connections to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The running fakes. Dropping it stops the server and every pending callback.
pub struct FakeProviders {
    origin: String,
    pub(crate) shared: Arc<Shared>,
    pub(crate) paystack: Arc<PaystackState>,
    pub(crate) mpesa: Arc<MpesaState>,
    pub(crate) lnbits: Arc<LnbitsState>,
    pub(crate) fincra: Arc<FincraState>,
    stop: watch::Sender<bool>,
    server: Option<JoinHandle<()>>,
}

impl FakeProviders {
    /// Binds 127.0.0.1 on a free port and serves the four fakes at `/paystack`, `/mpesa`,
    /// `/lnbits` and `/fincra`; their base URLs take a real client's paths unchanged.
    pub async fn start(settings: SandboxSettings) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .context("failed to bind the sandbox listener")?;
        let address = listener
            .local_addr()
            .context("failed to read the sandbox address")?;
        let origin = format!("http://{address}");

        let (stop, stopped) = watch::channel(false);
        let delivery = Delivery::new(
            settings.delivery_timeout,
            settings.paystack.webhook_retries,
            settings.paystack.webhook_retry_delay,
        )?;
        let faults = Faults::new(settings.faults.clone());
        let shared = Arc::new(Shared::new(
            settings.seed,
            faults,
            delivery,
            stopped.clone(),
        ));
        let paystack = Arc::new(PaystackState::new(
            Arc::clone(&shared),
            settings.paystack,
            format!("{origin}/paystack"),
        ));
        let spike_arrest_status = StatusCode::from_u16(settings.mpesa.spike_arrest_status)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mpesa = Arc::new(MpesaState::new(Arc::clone(&shared), settings.mpesa));
        let lnbits = Arc::new(LnbitsState::new(Arc::clone(&shared), settings.lnbits));
        let fincra = Arc::new(FincraState::new(
            Arc::clone(&shared),
            settings.fincra,
            format!("{origin}/fincra"),
        ));

        let app = Self::router(
            &shared,
            spike_arrest_status,
            &paystack,
            &mpesa,
            &lnbits,
            &fincra,
        );
        let server = serve_until_stopped(listener, app, stopped);
        tracing::info!(%origin, "sandbox: fake providers listening");
        Ok(Self {
            origin,
            shared,
            paystack,
            mpesa,
            lnbits,
            fincra,
            stop,
            server: Some(server),
        })
    }

    /// Each fake under its own prefix, behind the fault layer of its provider.
    fn router(
        shared: &Arc<Shared>,
        spike_arrest_status: StatusCode,
        paystack: &Arc<PaystackState>,
        mpesa: &Arc<MpesaState>,
        lnbits: &Arc<LnbitsState>,
        fincra: &Arc<FincraState>,
    ) -> Router {
        let context = |provider| FaultContext {
            shared: Arc::clone(shared),
            provider,
            spike_arrest_status,
        };
        Router::new()
            .nest(
                "/paystack",
                paystack::router(Arc::clone(paystack), context(Provider::Paystack)),
            )
            .nest(
                "/mpesa",
                mpesa::router(Arc::clone(mpesa), context(Provider::Mpesa)),
            )
            .nest(
                "/lnbits",
                lnbits::router(Arc::clone(lnbits), context(Provider::Lnbits)),
            )
            .nest(
                "/fincra",
                fincra::router(Arc::clone(fincra), context(Provider::Fincra)),
            )
    }

    /// Where the fakes listen, e.g. `http://127.0.0.1:P`.
    pub(crate) fn origin(&self) -> &str {
        &self.origin
    }

    /// Paystack's base URL, e.g. `http://127.0.0.1:P/paystack` (real: `https://api.paystack.co`).
    pub fn paystack_base_url(&self) -> String {
        format!("{}/paystack", self.origin)
    }

    /// Daraja's base URL, e.g. `http://127.0.0.1:P/mpesa` (real: `https://sandbox.safaricom.co.ke`).
    pub fn mpesa_base_url(&self) -> String {
        format!("{}/mpesa", self.origin)
    }

    /// LNbits' base URL, e.g. `http://127.0.0.1:P/lnbits`.
    pub fn lnbits_base_url(&self) -> String {
        format!("{}/lnbits", self.origin)
    }

    /// The Paystack secret key accepted (and used to sign webhooks).
    pub fn paystack_secret_key(&self) -> &str {
        &self.paystack.settings.secret_key
    }

    /// Daraja's consumer key and secret.
    pub fn mpesa_consumer_credentials(&self) -> (&str, &str) {
        let settings = &self.mpesa.settings;
        (&settings.consumer_key, &settings.consumer_secret)
    }

    /// The STK shortcode and passkey.
    pub fn mpesa_shortcode_and_passkey(&self) -> (&str, &str) {
        let settings = &self.mpesa.settings;
        (&settings.shortcode, &settings.passkey)
    }

    /// The STK `Password` for a `YYYYMMDDHHmmss` timestamp.
    pub fn mpesa_stk_password(&self, timestamp: &str) -> String {
        self.mpesa.stk_password(timestamp)
    }

    /// The LNbits wallet's invoice key.
    pub fn lnbits_invoice_key(&self) -> &str {
        &self.lnbits.settings.invoice_key
    }

    /// The LNbits wallet's admin key.
    pub fn lnbits_admin_key(&self) -> &str {
        &self.lnbits.settings.admin_key
    }

    /// The LNbits wallet id, as payments report it.
    pub fn lnbits_wallet_id(&self) -> &str {
        &self.lnbits.settings.wallet_id
    }

    /// Where Paystack webhooks go from now on (`None`: nowhere).
    pub fn set_paystack_webhook_url(&self, url: Option<String>) {
        *lock(&self.paystack.webhook_url) = url;
    }

    /// The live fault knobs; changes apply to the next request or delivery.
    pub fn faults(&self) -> Faults {
        self.shared.faults.clone()
    }

    /// The counters as they are now.
    pub fn counters(&self) -> CountersSnapshot {
        self.shared.counters.snapshot()
    }

    /// The fakes' book of money as it is now: every charge paid and every transfer or refund
    /// performed, with amounts and outcomes (the providers' truth, not malipo's).
    pub fn money(&self) -> MoneySnapshot {
        self.shared.money.snapshot()
    }

    /// Stops accepting requests, cancels pending callbacks and held requests, and waits (up to
    /// a few seconds) for open connections to close.
    pub async fn shutdown(mut self) {
        self.stop.send_replace(true);
        if let Some(server) = self.server.take()
            && tokio::time::timeout(SHUTDOWN_GRACE, server).await.is_err()
        {
            tracing::warn!("sandbox: connections still open after shutdown grace");
        }
    }
}

impl Drop for FakeProviders {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

/// Serves `app` on `listener` until `stopped` turns true or its sender is dropped.
fn serve_until_stopped(
    listener: TcpListener,
    app: Router,
    mut stopped: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let signal = async move {
            // Also ends when the sender is dropped.
            let _ = stopped.wait_for(|stopped| *stopped).await;
        };
        if let Err(error) = axum::serve(listener, app)
            .with_graceful_shutdown(signal)
            .await
        {
            tracing::warn!(%error, "sandbox: server stopped with an error");
        }
    })
}
