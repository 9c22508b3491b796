//! Console login sessions (`console_sessions`): created at login, looked up (and their idle
//! clock reset) on every console request, ended at logout. Only a token's SHA-256 is stored.

use std::time::Duration;

use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::Role;

/// A live session and the operator key behind it.
#[derive(Debug, Clone)]
pub struct LiveSession {
    /// The operator key's client id.
    pub client_id: Uuid,
    /// The key's name.
    pub name: String,
    /// Its role (`operator` or `viewer`; a client key never gets a session).
    pub role: Role,
    /// The token every form of this session must carry.
    pub csrf_token: String,
}

/// An operator or viewer key, by the SHA-256 of the key typed at login (revoked keys and
/// expired predecessors excluded): its client id, name and role.
pub async fn key_owner(
    pool: &PgPool,
    key_hash: &str,
) -> Result<Option<(Uuid, String, Role)>, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT id, name, role AS "role: Role" FROM api_clients
          WHERE revoked_at IS NULL
            AND (key_hash = $1 OR (previous_key_hash = $1 AND previous_key_expires_at > now()))"#,
        key_hash,
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|row| (row.id, row.name, row.role)))
}

/// Stores a new session that ends at the latest after `lifetime`.
pub async fn create(
    pool: &PgPool,
    token_hash: &str,
    client_id: Uuid,
    csrf_token: &str,
    lifetime: Duration,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO console_sessions (token_hash, client_id, csrf_token, expires_at)
         VALUES ($1, $2, $3, now() + make_interval(secs => $4))",
        token_hash,
        client_id,
        csrf_token,
        lifetime.as_secs_f64(),
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// The session with `token_hash` if it is live: not ended, before its absolute expiry, used
/// within `idle`, and its key not revoked. `touch` resets the idle clock (a person acted);
/// background polling passes `false` so an open tab does not keep a session alive forever.
pub async fn live(
    pool: &PgPool,
    token_hash: &str,
    idle: Duration,
    touch: bool,
) -> Result<Option<LiveSession>, sqlx::Error> {
    sqlx::query_as!(
        LiveSession,
        r#"UPDATE console_sessions s
            SET last_seen_at = CASE WHEN $3 THEN now() ELSE s.last_seen_at END
           FROM api_clients c
          WHERE s.token_hash = $1 AND s.ended_at IS NULL AND s.expires_at > now()
            AND s.last_seen_at > now() - make_interval(secs => $2)
            AND c.id = s.client_id AND c.revoked_at IS NULL AND c.role = ANY($4)
         RETURNING s.client_id, c.name, c.role AS "role: Role", s.csrf_token"#,
        token_hash,
        idle.as_secs_f64(),
        touch,
        &[Role::Operator, Role::Viewer] as &[Role],
    )
    .fetch_optional(pool)
    .await
}

/// Deletes sessions that ended or expired over a day ago (run at each login, so the table holds
/// about a day of logins).
pub async fn prune(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let pruned = sqlx::query!(
        "DELETE FROM console_sessions
          WHERE expires_at < now() - interval '1 day' OR ended_at < now() - interval '1 day'",
    )
    .execute(pool)
    .await?;
    Ok(pruned.rows_affected())
}

/// Ends the session (logout); ending an unknown or ended session does nothing.
pub async fn end(pool: &PgPool, token_hash: &str) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE console_sessions SET ended_at = now() WHERE token_hash = $1 AND ended_at IS NULL",
        token_hash,
    )
    .execute(pool)
    .await?;
    Ok(())
}
