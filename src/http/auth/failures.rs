//! Failed authentication, bounded before the database: a per-source-address budget of
//! failures (governor), and a short memory of keys known to be unknown.
//!
//! An address over its budget is answered 429 without a key lookup, except for keys that
//! authenticated recently: behind a shared proxy or NAT, a flood from one party must not lock
//! out a paying client on the same address.

use std::{
    collections::HashMap,
    net::{IpAddr, Ipv6Addr},
    num::NonZeroU32,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use governor::{
    Quota, RateLimiter,
    clock::{Clock, DefaultClock},
    state::keyed::DefaultKeyedStateStore,
};

use crate::http::problem::ApiError;

/// Entries each memory holds at most; beyond, expired ones go, then everything.
const MEMORY_ENTRIES: usize = 10_000;

/// How long a key that authenticated still passes a blocked address.
const RECENTLY_VALID: Duration = Duration::from_secs(600);

/// Failures between two prunings of the limiter's per-address state.
const PRUNE_EVERY: u64 = 1024;

/// The source a failure is charged to: the IPv4 address, or the IPv6 /64 (one host usually
/// holds a whole /64, and could otherwise fail from a fresh address every time).
fn source(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & !u128::from(u64::MAX))),
        },
    }
}

/// A set of keys (hashes) or addresses, each remembered until an instant.
struct Expiring<K> {
    until: HashMap<K, Instant>,
}

impl<K> Default for Expiring<K> {
    fn default() -> Self {
        Self {
            until: HashMap::new(),
        }
    }
}

impl<K: std::hash::Hash + Eq> Expiring<K> {
    fn contains<Q>(&self, key: &Q, now: Instant) -> bool
    where
        K: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        self.until.get(key).is_some_and(|until| *until > now)
    }

    fn insert(&mut self, key: K, until: Instant, now: Instant) {
        if self.until.len() >= MEMORY_ENTRIES {
            self.until.retain(|_, until| *until > now);
            if self.until.len() >= MEMORY_ENTRIES {
                self.until.clear();
            }
        }
        self.until.insert(key, until);
    }
}

/// Shared by every request of one process.
#[derive(Clone)]
pub struct FailedAuth {
    limiter: Arc<RateLimiter<IpAddr, DefaultKeyedStateStore<IpAddr>, DefaultClock>>,
    unknown_for: Duration,
    memory: Arc<Mutex<Memory>>,
    failures: Arc<AtomicU64>,
}

#[derive(Default)]
struct Memory {
    blocked: Expiring<IpAddr>,
    unknown: Expiring<String>,
    valid: Expiring<String>,
}

impl FailedAuth {
    /// `per_minute` failures per address (also the burst); unknown keys remembered for
    /// `unknown_for` (zero: not at all).
    pub fn new(per_minute: u32, unknown_for: Duration) -> Self {
        let per_minute = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        Self {
            limiter: Arc::new(RateLimiter::keyed(Quota::per_minute(per_minute))),
            unknown_for,
            memory: Arc::default(),
            failures: Arc::default(),
        }
    }

    fn memory(&self) -> std::sync::MutexGuard<'_, Memory> {
        // A panic while holding the lock leaves only caches behind; they stay usable.
        self.memory
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Before the lookup: 429 when `peer` is over its budget and `key_hash` did not
    /// authenticate recently; 401 when the key is remembered as unknown (a failure counted).
    pub fn before_lookup(&self, peer: Option<IpAddr>, key_hash: &str) -> Result<(), ApiError> {
        let now = Instant::now();
        let (blocked_until, known_unknown) = {
            let memory = self.memory();
            let blocked = peer
                .map(source)
                .filter(|ip| memory.blocked.contains(ip, now))
                .and_then(|ip| memory.blocked.until.get(&ip).copied());
            let blocked = blocked.filter(|_| !memory.valid.contains(key_hash, now));
            (blocked, memory.unknown.contains(key_hash, now))
        };
        if let Some(until) = blocked_until {
            return Err(ApiError::RateLimited(seconds_until(until, now)));
        }
        if known_unknown {
            self.failed(peer, None)?;
            return Err(unknown_key());
        }
        Ok(())
    }

    /// After a lookup that found nothing: remembers the key, counts the failure; 429 when
    /// that exhausts the address's budget, else 401.
    pub fn unknown(&self, peer: Option<IpAddr>, key_hash: String) -> ApiError {
        match self.failed(peer, Some(key_hash)) {
            Ok(()) => unknown_key(),
            Err(limited) => limited,
        }
    }

    /// After a lookup that found the key.
    pub fn valid(&self, key_hash: String) {
        let now = Instant::now();
        self.memory()
            .valid
            .insert(key_hash, now + RECENTLY_VALID, now);
    }

    fn failed(&self, peer: Option<IpAddr>, unknown: Option<String>) -> Result<(), ApiError> {
        let now = Instant::now();
        if let Some(hash) = unknown.filter(|_| !self.unknown_for.is_zero()) {
            self.memory()
                .unknown
                .insert(hash, now + self.unknown_for, now);
        }
        let Some(ip) = peer.map(source) else {
            return Ok(());
        };
        if self
            .failures
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(PRUNE_EVERY)
        {
            // Addresses that stopped failing free their budget state.
            self.limiter.retain_recent();
        }
        let Err(not_until) = self.limiter.check_key(&ip) else {
            return Ok(());
        };
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        let until = now + wait;
        metrics::counter!("malipo_http_auth_addresses_limited_total").increment(1);
        self.memory().blocked.insert(ip, until, now);
        Err(ApiError::RateLimited(seconds_until(until, now)))
    }
}

fn unknown_key() -> ApiError {
    ApiError::Unauthorized("unknown or revoked API key")
}

fn seconds_until(until: Instant, now: Instant) -> u64 {
    until.saturating_duration_since(now).as_secs().max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_over_budget_is_refused_before_lookup_except_for_known_keys() {
        let guard = FailedAuth::new(3, Duration::from_secs(10));
        let flooder: IpAddr = [127, 0, 0, 2].into();
        let other: IpAddr = [127, 0, 0, 3].into();
        for attempt in 0..3 {
            assert!(
                guard
                    .before_lookup(Some(flooder), &format!("k{attempt}"))
                    .is_ok()
            );
            assert!(matches!(
                guard.unknown(Some(flooder), format!("k{attempt}")),
                ApiError::Unauthorized(_)
            ));
        }
        assert!(matches!(
            guard.unknown(Some(flooder), "k3".to_owned()),
            ApiError::RateLimited(_)
        ));
        assert!(matches!(
            guard.before_lookup(Some(flooder), "fresh"),
            Err(ApiError::RateLimited(_))
        ));
        guard.valid("good".to_owned());
        assert!(guard.before_lookup(Some(flooder), "good").is_ok());
        assert!(guard.before_lookup(Some(other), "fresh").is_ok());
        // One IPv6 host's /64 is one source.
        let v6 = |last: u16| IpAddr::from([0x2001, 0xdb8, 0, 1, 0, 0, 0, last]);
        assert_eq!(source(v6(1)), source(v6(2)));
        assert_ne!(
            source(v6(1)),
            source(IpAddr::from([0x2001, 0xdb8, 0, 2, 0, 0, 0, 1]))
        );
        // A remembered unknown key is refused without a lookup.
        assert!(matches!(
            guard.before_lookup(Some(other), "k0"),
            Err(ApiError::Unauthorized(_))
        ));
    }
}
