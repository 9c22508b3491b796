//! Typed configuration from the environment, validated at startup; errors name the variable.

use std::{net::SocketAddr, path::PathBuf, str::FromStr, time::Duration};

use anyhow::{Context, bail};

mod reconcile;

pub use reconcile::ReconcileSettings;

use crate::{providers::Secret, queue::QueueSettings};

/// Everything malipo reads from its environment (providers read their own, see `providers`).
#[derive(Debug, Clone)]
pub struct Config {
    /// `DATABASE_URL`; unset means a private local cluster under `data_dir`. A [`Secret`]:
    /// the URL usually carries the password, and `Config` is printed in debug output.
    pub database_url: Option<Secret>,
    /// `MALIPO_DATA_DIR`: where the private cluster lives.
    pub data_dir: PathBuf,
    /// `MALIPO_HTTP_ADDR`: the HTTP front's listen address.
    pub http_addr: SocketAddr,
    /// `MALIPO_LOG_FORMAT=json` switches logs to JSON lines.
    pub json_logs: bool,
    /// `MALIPO_BODY_LIMIT_BYTES`: largest request body accepted.
    pub body_limit_bytes: usize,
    /// `MALIPO_REQUEST_TIMEOUT_SECS`: a request taking longer is answered 503.
    pub request_timeout: Duration,
    /// `MALIPO_RATE_LIMIT_PER_SEC`: sustained requests per second per API client.
    pub rate_limit_per_sec: u32,
    /// `MALIPO_RATE_LIMIT_BURST`: requests an API client may burst above the sustained rate.
    pub rate_limit_burst: u32,
    /// `MALIPO_DB_POOL_SIZE`: connections per process (at least 2: a worker's wake-up listener
    /// keeps one for as long as it runs).
    pub db_pool_size: u32,
    /// `MALIPO_WORKER_CONCURRENCY`: jobs run at once per queue loop.
    pub worker_concurrency: usize,
    /// `MALIPO_JOB_LEASE`: how long a claimed job is held before another worker may rescue it.
    pub job_lease: Duration,
    /// `MALIPO_RETRY_CAP` (optional): the longest delay any job retry may wait, whatever its
    /// kind's policy says; for test and staging stacks that must not wait out long backoffs.
    pub retry_cap: Option<Duration>,
    /// `MALIPO_POLL_INTERVAL`: how often an idle queue loop looks for due jobs when no
    /// notification woke it (scheduled retries and snoozes become due without one).
    pub poll_interval: Duration,
    /// `MALIPO_JOB_RETENTION`: how long done jobs are kept.
    pub job_retention: Duration,
    /// `MALIPO_QUEUES`: the queues `work`/`run` serve (comma-separated).
    pub queues: Vec<String>,
    /// `MALIPO_IDEMPOTENCY_TTL`: how long idempotency keys are kept (at least 24 h).
    pub idempotency_ttl: Duration,
    /// `MALIPO_METRICS_ADDR`: when set, `/metrics` is also served there, without an API key.
    pub metrics_addr: Option<SocketAddr>,
    /// `MALIPO_STUCK_AFTER`: how long an intent may sit in `releasing`/`refunding` (or a payout
    /// in flight) before `/ops/intents/stuck` and `/metrics` list it for an operator.
    pub stuck_after: Duration,
    /// Connection limits and timeouts of the HTTP front.
    pub front: FrontLimits,
    /// Reconciliation periods and thresholds.
    pub reconcile: ReconcileSettings,
}

/// How the HTTP front protects itself from slow, idle, numerous or unauthenticated callers.
#[derive(Debug, Clone)]
pub struct FrontLimits {
    /// `MALIPO_HEADER_READ_TIMEOUT`: time to receive a request's whole head, counted from the
    /// connection opening or the previous response.
    pub header_read_timeout: Duration,
    /// `MALIPO_KEEP_ALIVE_TIMEOUT`: an idle keep-alive connection is closed after this.
    pub keep_alive_timeout: Duration,
    /// `MALIPO_MAX_CONNECTIONS`: connections served normally at once.
    pub max_connections: usize,
    /// `MALIPO_OVERFLOW_CONNECTIONS`: connections beyond the cap that still get an answer
    /// (health checks served, anything else 503); beyond both, connections are closed at once.
    pub overflow_connections: usize,
    /// `MALIPO_AUTH_FAILURES_PER_MIN`: failed authentications allowed per source address and
    /// minute (also the burst) before that address is answered 429 without a key lookup.
    pub auth_failures_per_min: u32,
    /// `MALIPO_NEGATIVE_KEY_CACHE`: how long an unknown key is remembered as unknown.
    pub negative_key_cache: Duration,
    /// `MALIPO_KEY_ROTATION_GRACE`: how long a rotated key keeps working.
    pub key_rotation_grace: Duration,
    /// `MALIPO_CORS_ORIGINS`: origins allowed cross-origin requests; empty means CORS is off.
    pub cors_origins: Vec<String>,
}

impl Config {
    /// The queue settings this process's workers run with.
    pub fn queue_settings(&self) -> QueueSettings {
        QueueSettings {
            queues: self.queues.clone(),
            concurrency: self.worker_concurrency,
            lease: self.job_lease,
            heartbeat: (self.job_lease / 6).max(Duration::from_millis(200)),
            retention: self.job_retention,
            poll_interval: self.poll_interval,
            retry_cap: self.retry_cap,
            ..QueueSettings::default()
        }
    }

    /// Reads configuration through `lookup` (tests pass a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let parsed = |name: &str, default: &str| -> anyhow::Result<String> {
            Ok(get(name).unwrap_or_else(|| default.to_owned()))
        };
        let idempotency_ttl = duration(&parsed("MALIPO_IDEMPOTENCY_TTL", "24h")?)
            .context("MALIPO_IDEMPOTENCY_TTL")?;
        if idempotency_ttl < Duration::from_secs(24 * 3600) {
            bail!("MALIPO_IDEMPOTENCY_TTL must be at least 24h");
        }
        let queues: Vec<String> = parsed("MALIPO_QUEUES", &malipo_jobs::queues::ALL.join(","))?
            .split(',')
            .map(|queue| queue.trim().to_owned())
            .filter(|queue| !queue.is_empty())
            .collect();
        Ok(Self {
            database_url: get("DATABASE_URL").map(Secret::new),
            data_dir: PathBuf::from(parsed("MALIPO_DATA_DIR", "./.malipo")?),
            http_addr: number(
                "MALIPO_HTTP_ADDR",
                &parsed("MALIPO_HTTP_ADDR", "127.0.0.1:8080")?,
            )?,
            json_logs: get("MALIPO_LOG_FORMAT")
                .is_some_and(|format| format.eq_ignore_ascii_case("json")),
            body_limit_bytes: number(
                "MALIPO_BODY_LIMIT_BYTES",
                &parsed("MALIPO_BODY_LIMIT_BYTES", "65536")?,
            )?,
            request_timeout: Duration::from_secs(number(
                "MALIPO_REQUEST_TIMEOUT_SECS",
                &parsed("MALIPO_REQUEST_TIMEOUT_SECS", "30")?,
            )?),
            rate_limit_per_sec: positive(
                "MALIPO_RATE_LIMIT_PER_SEC",
                &parsed("MALIPO_RATE_LIMIT_PER_SEC", "100")?,
            )?,
            rate_limit_burst: positive(
                "MALIPO_RATE_LIMIT_BURST",
                &parsed("MALIPO_RATE_LIMIT_BURST", "200")?,
            )?,
            // 10, not more: PostgreSQL does the work on its own cores, and on two of them 20
            // per process cost the database 3 ms more CPU per lifecycle than 10, for less
            // throughput (BENCHMARKS.md, "A smaller pool"). No handler holds a connection while
            // it waits on a provider (the hourly M-Pesa token refresh, one connection, aside),
            // so a job waits for one only while others use the database.
            db_pool_size: pool_size(&parsed("MALIPO_DB_POOL_SIZE", "10")?)?,
            worker_concurrency: positive::<u32>(
                "MALIPO_WORKER_CONCURRENCY",
                &parsed("MALIPO_WORKER_CONCURRENCY", "32")?,
            )? as usize,
            job_lease: duration(&parsed("MALIPO_JOB_LEASE", "30s")?).context("MALIPO_JOB_LEASE")?,
            retry_cap: get("MALIPO_RETRY_CAP")
                .map(|cap| duration(&cap).context("MALIPO_RETRY_CAP"))
                .transpose()?,
            poll_interval: positive_duration(
                "MALIPO_POLL_INTERVAL",
                &parsed("MALIPO_POLL_INTERVAL", "500ms")?,
            )?,
            job_retention: duration(&parsed("MALIPO_JOB_RETENTION", "7d")?)
                .context("MALIPO_JOB_RETENTION")?,
            queues,
            idempotency_ttl,
            metrics_addr: get("MALIPO_METRICS_ADDR")
                .map(|addr| number("MALIPO_METRICS_ADDR", &addr))
                .transpose()?,
            stuck_after: duration(&parsed("MALIPO_STUCK_AFTER", "1h")?)
                .context("MALIPO_STUCK_AFTER")?,
            front: FrontLimits::from_lookup(&get)?,
            reconcile: ReconcileSettings::from_lookup(&get)?,
        })
    }
}

impl FrontLimits {
    /// Through `get` (blank values already count as unset).
    fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let parsed = |name: &str, default: &str| -> anyhow::Result<String> {
            Ok(get(name).unwrap_or_else(|| default.to_owned()))
        };
        Ok(Self {
            header_read_timeout: positive_duration(
                "MALIPO_HEADER_READ_TIMEOUT",
                &parsed("MALIPO_HEADER_READ_TIMEOUT", "10s")?,
            )?,
            keep_alive_timeout: positive_duration(
                "MALIPO_KEEP_ALIVE_TIMEOUT",
                &parsed("MALIPO_KEEP_ALIVE_TIMEOUT", "5s")?,
            )?,
            max_connections: positive::<u32>(
                "MALIPO_MAX_CONNECTIONS",
                &parsed("MALIPO_MAX_CONNECTIONS", "1024")?,
            )? as usize,
            overflow_connections: number::<u32>(
                "MALIPO_OVERFLOW_CONNECTIONS",
                &parsed("MALIPO_OVERFLOW_CONNECTIONS", "64")?,
            )? as usize,
            auth_failures_per_min: positive(
                "MALIPO_AUTH_FAILURES_PER_MIN",
                &parsed("MALIPO_AUTH_FAILURES_PER_MIN", "60")?,
            )?,
            negative_key_cache: duration(&parsed("MALIPO_NEGATIVE_KEY_CACHE", "10s")?)
                .context("MALIPO_NEGATIVE_KEY_CACHE")?,
            key_rotation_grace: duration(&parsed("MALIPO_KEY_ROTATION_GRACE", "24h")?)
                .context("MALIPO_KEY_ROTATION_GRACE")?,
            cors_origins: get("MALIPO_CORS_ORIGINS")
                .map(|list| {
                    list.split(',')
                        .map(|origin| origin.trim().to_owned())
                        .filter(|origin| !origin.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
        })
    }
}

fn number<T: FromStr>(name: &str, value: &str) -> anyhow::Result<T>
where
    T::Err: std::fmt::Display,
{
    value
        .trim()
        .parse()
        .map_err(|error| anyhow::anyhow!("{name}={value:?} is invalid: {error}"))
}

fn positive<T: FromStr + PartialOrd + Default>(name: &str, value: &str) -> anyhow::Result<T>
where
    T::Err: std::fmt::Display,
{
    let parsed: T = number(name, value)?;
    if parsed <= T::default() {
        bail!("{name} must be positive, got {value:?}");
    }
    Ok(parsed)
}

/// `MALIPO_DB_POOL_SIZE`: a worker's wake-up listener keeps one connection for good, so one
/// would leave its jobs none.
fn pool_size(value: &str) -> anyhow::Result<u32> {
    let size: u32 = number("MALIPO_DB_POOL_SIZE", value)?;
    if size < 2 {
        bail!(
            "MALIPO_DB_POOL_SIZE must be at least 2 (a worker's listener keeps one), got {value:?}"
        );
    }
    Ok(size)
}

/// `value` parsed as a duration when given, else `default`; errors name the variable.
fn parsed_duration(name: &str, value: Option<&str>, default: Duration) -> anyhow::Result<Duration> {
    value.map_or(Ok(default), |text| duration(text).context(name.to_owned()))
}

fn positive_duration(name: &str, value: &str) -> anyhow::Result<Duration> {
    let parsed = duration(value).context(name.to_owned())?;
    if parsed.is_zero() {
        bail!("{name} must be positive, got {value:?}");
    }
    Ok(parsed)
}

/// Parses `500ms`, `30s`, `5m`, `24h`, `7d` (or a bare number of seconds).
pub fn duration(text: &str) -> anyhow::Result<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let value: u64 = digits
        .parse()
        .with_context(|| format!("`{text}` is not a duration like 30s, 5m, 24h or 7d"))?;
    let seconds = |factor: u64| Duration::from_secs(value.saturating_mul(factor));
    Ok(match unit {
        "" | "s" => seconds(1),
        "ms" => Duration::from_millis(value),
        "m" => seconds(60),
        "h" => seconds(3600),
        "d" => seconds(86_400),
        other => bail!("unknown duration unit `{other}` in `{text}`; use ms, s, m, h or d"),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn defaults_apply_and_errors_name_the_variable() {
        let config = Config::from_lookup(|_| None).expect("defaults are valid");
        assert_eq!(config.body_limit_bytes, 65_536);
        assert_eq!(config.job_retention, Duration::from_secs(7 * 86_400));
        let env = HashMap::from([("MALIPO_DB_POOL_SIZE", "zero")]);
        let error = Config::from_lookup(|name| env.get(name).map(|v| (*v).to_owned()))
            .expect_err("invalid");
        assert!(error.to_string().contains("MALIPO_DB_POOL_SIZE"));
    }

    #[test]
    fn a_pool_leaves_a_worker_a_connection_beside_its_listener() {
        assert_eq!(Config::from_lookup(|_| None).unwrap().db_pool_size, 10);
        let size = |value: &str| {
            let env = HashMap::from([("MALIPO_DB_POOL_SIZE", value.to_owned())]);
            Config::from_lookup(|name| env.get(name).cloned()).map(|config| config.db_pool_size)
        };
        let error = size("1").expect_err("a pool of one");
        assert!(error.to_string().contains("at least 2"), "{error:#}");
        assert_eq!(size("2").ok(), Some(2));
    }

    #[test]
    fn durations_parse() {
        assert_eq!(duration("3m").ok(), Some(Duration::from_secs(180)));
        assert_eq!(duration("0s").ok(), Some(Duration::ZERO));
        assert_eq!(duration("250ms").ok(), Some(Duration::from_millis(250)));
        assert!(duration("5 weeks").is_err());
    }
}
