//! The outbound HTTP plumbing every adapter shares: a reqwest client with the configured
//! timeouts, a per-provider rate limiter, and the rules that turn transport failures and HTTP
//! statuses into retryable, permanent or in-doubt errors.

use std::{num::NonZeroU32, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::{
    RequestBuilder, StatusCode,
    header::{HeaderMap, RETRY_AFTER},
    redirect,
};

use super::ProviderError;

/// Timeouts for provider calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpSettings {
    /// Time to establish a connection (5 s by default).
    pub connect_timeout: Duration,
    /// Time to wait for each read of the answer (`MALIPO_PROVIDER_TIMEOUT_SECS`, 15 s by default).
    pub read_timeout: Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(15),
        }
    }
}

/// What repeating a call could do, which decides how a lost answer is classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    /// Reads, or creates something a repeat cannot turn into a second payment (verify, query,
    /// Paystack initialize under our reference, a new invoice): a lost answer is retryable.
    Repeatable,
    /// Moves money under our reference, which the provider dedupes (Paystack transfer, B2C): a
    /// lost answer is in doubt, a 5xx is retryable with the same reference.
    KeyedPayment,
    /// Moves money with no provider-side dedupe (refund, Lightning pay, STK prompt): any
    /// ambiguous answer is in doubt.
    UnkeyedPayment,
}

impl Effect {
    fn moves_money(self) -> bool {
        !matches!(self, Self::Repeatable)
    }
}

/// An answer read in full.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// A reqwest client plus the provider's rate limiter.
#[derive(Debug, Clone)]
pub(crate) struct HttpClient {
    client: reqwest::Client,
    limiter: Arc<DefaultDirectRateLimiter>,
    /// The provider's name in metrics.
    provider: &'static str,
}

impl HttpClient {
    /// A client for `provider` with the settings' timeouts, allowing `quota` calls.
    pub fn new(
        provider: &'static str,
        settings: &HttpSettings,
        quota: Quota,
    ) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .read_timeout(settings.read_timeout)
            // The read timeout restarts with every chunk; the overall bound stops a server that
            // dribbles its answer from holding a job forever.
            .timeout(settings.connect_timeout + settings.read_timeout)
            // Payment APIs do not redirect; following one could turn a POST into a GET elsewhere.
            .redirect(redirect::Policy::none())
            .user_agent(concat!("malipo/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            client,
            limiter: Arc::new(RateLimiter::direct(quota)),
            provider,
        })
    }

    /// The underlying client, to build requests with.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Waits for a rate-limit permit (rather than failing), sends, and reads the whole answer.
    pub async fn send(
        &self,
        request: RequestBuilder,
        effect: Effect,
    ) -> Result<Reply, ProviderError> {
        self.limiter.until_ready().await;
        // Timed after the rate-limit wait: the metric is the provider's latency, not ours.
        let started = std::time::Instant::now();
        let read = async {
            let response = request.send().await?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, headers, body))
        }
        .await;
        let outcome = match &read {
            Ok((status, _, _)) if status.is_success() => "2xx",
            Ok((status, _, _)) if status.is_client_error() => "4xx",
            Ok((status, _, _)) if status.is_server_error() => "5xx",
            Ok(_) => "other_status",
            Err(_) => "transport_error",
        };
        crate::telemetry::metrics::provider_call(self.provider, outcome, started.elapsed());
        let (status, headers, body) = read.map_err(|error| transport_error(&error, effect))?;
        Ok(Reply {
            status,
            headers,
            body: body.to_vec(),
        })
    }
}

/// A quota of `n` calls per second.
pub(crate) fn per_second(n: NonZeroU32) -> Quota {
    Quota::per_second(n)
}

/// A quota of `n` calls per minute.
pub(crate) fn per_minute(n: NonZeroU32) -> Quota {
    Quota::per_minute(n)
}

/// Classifies a failure to send or to read the answer.
pub(crate) fn transport_error(error: &reqwest::Error, effect: Effect) -> ProviderError {
    let reason = describe(error);
    if error.is_connect() {
        // No connection, so the request never reached the provider: safe to send again.
        return ProviderError::retryable(format!("could not connect: {reason}"));
    }
    if error.is_builder() {
        return ProviderError::permanent(format!("could not build the request: {reason}"));
    }
    if effect.moves_money() {
        ProviderError::in_doubt(format!("request sent, no answer: {reason}"))
    } else {
        ProviderError::retryable(format!("no answer: {reason}"))
    }
}

/// Classifies an HTTP status the adapter did not handle itself; `detail` is the provider's message.
pub(crate) fn status_error(
    status: StatusCode,
    headers: &HeaderMap,
    effect: Effect,
    detail: &str,
) -> ProviderError {
    let reason = format!("HTTP {}: {detail}", status.as_u16());
    match status.as_u16() {
        // Refused before processing: the provider says so, and may say when to come back.
        429 | 503 => ProviderError::retry_after(reason, retry_after(headers, Utc::now())),
        408 => ProviderError::retryable(reason),
        500..=599 if effect == Effect::UnkeyedPayment => ProviderError::in_doubt(reason),
        500..=599 => ProviderError::retry_after(reason, retry_after(headers, Utc::now())),
        400..=499 => ProviderError::permanent(reason),
        _ if effect.moves_money() => ProviderError::in_doubt(format!("unexpected {reason}")),
        _ => ProviderError::retryable(format!("unexpected {reason}")),
    }
}

/// Classifies a success answer whose body we could not read as expected.
pub(crate) fn undecodable(effect: Effect, detail: impl std::fmt::Display) -> ProviderError {
    let reason = format!("unreadable answer: {detail}");
    if effect.moves_money() {
        // The provider accepted something; what, we cannot tell.
        ProviderError::in_doubt(reason)
    } else {
        ProviderError::retryable(reason)
    }
}

/// How long the provider asked us to wait: `x-ratelimit-reset` (seconds to wait, or a Unix
/// time), else `Retry-After` (seconds or an HTTP date).
pub(crate) fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let header = |name| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::trim)
    };
    if let Some(seconds) = header("x-ratelimit-reset").and_then(|v| v.parse::<i64>().ok()) {
        // Values this large are a point in time, not a delay.
        let delay = if seconds > 1_000_000_000 {
            seconds - now.timestamp()
        } else {
            seconds
        };
        return u64::try_from(delay).ok().map(Duration::from_secs);
    }
    let value = header(RETRY_AFTER.as_str())?;
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?;
    (at.with_timezone(&Utc) - now).to_std().ok()
}

/// The error and its causes on one line. The URL stays in: keys travel in headers, never in
/// our URLs.
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A short, printable excerpt of a provider's body for error reasons.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut excerpt: String = text.chars().take(200).collect();
    if text.chars().count() > 200 {
        excerpt.push('…');
    }
    excerpt
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).expect("header value"));
        }
        map
    }

    #[test]
    fn retry_after_prefers_the_rate_limit_reset() {
        let now = Utc::now();
        let both = headers(&[("x-ratelimit-reset", "7"), ("retry-after", "30")]);
        assert_eq!(retry_after(&both, now), Some(Duration::from_secs(7)));
        let plain = headers(&[("retry-after", "30")]);
        assert_eq!(retry_after(&plain, now), Some(Duration::from_secs(30)));
        let epoch = headers(&[("x-ratelimit-reset", &(now.timestamp() + 12).to_string())]);
        assert_eq!(retry_after(&epoch, now), Some(Duration::from_secs(12)));
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn retry_after_reads_http_dates() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:27:00Z")
            .expect("date")
            .with_timezone(&Utc);
        let dated = headers(&[("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")]);
        assert_eq!(retry_after(&dated, now), Some(Duration::from_secs(60)));
    }

    #[test]
    fn statuses_are_classified_by_effect() {
        let none = HeaderMap::new();
        let limited = headers(&[("x-ratelimit-reset", "5")]);
        let too_many = StatusCode::TOO_MANY_REQUESTS;
        assert_eq!(
            status_error(too_many, &limited, Effect::UnkeyedPayment, "slow down"),
            ProviderError::retry_after("HTTP 429: slow down", Some(Duration::from_secs(5)))
        );
        let bad_gateway = StatusCode::BAD_GATEWAY;
        assert!(matches!(
            status_error(bad_gateway, &none, Effect::Repeatable, ""),
            ProviderError::Retryable { .. }
        ));
        assert!(matches!(
            status_error(bad_gateway, &none, Effect::KeyedPayment, ""),
            ProviderError::Retryable { .. }
        ));
        assert!(matches!(
            status_error(bad_gateway, &none, Effect::UnkeyedPayment, ""),
            ProviderError::InDoubt { .. }
        ));
        assert!(matches!(
            status_error(StatusCode::BAD_REQUEST, &none, Effect::KeyedPayment, ""),
            ProviderError::Permanent { .. }
        ));
        assert!(matches!(
            status_error(StatusCode::FOUND, &none, Effect::KeyedPayment, ""),
            ProviderError::InDoubt { .. }
        ));
    }
}
