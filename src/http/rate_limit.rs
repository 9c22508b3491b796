//! Per-API-client rate limiting (governor, keyed by client id).

use std::{num::NonZeroU32, sync::Arc};

use governor::{
    Quota, RateLimiter,
    clock::{Clock, DefaultClock},
    state::keyed::DefaultKeyedStateStore,
};
use uuid::Uuid;

use super::problem::ApiError;

/// A token bucket per API client.
#[derive(Clone)]
pub struct ClientRateLimit {
    limiter: Arc<RateLimiter<Uuid, DefaultKeyedStateStore<Uuid>, DefaultClock>>,
}

impl ClientRateLimit {
    /// `per_second` sustained, bursts of `burst`.
    pub fn new(per_second: u32, burst: u32) -> Self {
        let rate = NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(burst.max(per_second)).unwrap_or(NonZeroU32::MIN);
        Self {
            limiter: Arc::new(RateLimiter::keyed(
                Quota::per_second(rate).allow_burst(burst),
            )),
        }
    }

    /// Takes one token for `client`, or says when to come back.
    pub fn check(&self, client: Uuid) -> Result<(), ApiError> {
        self.limiter.check_key(&client).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            ApiError::RateLimited(wait.as_secs().max(1))
        })
    }
}
