//! `malipo clients create|list|rotate|revoke`: the same functions as `/ops/clients`, audited
//! as the OS user running the command.

use anyhow::Context;
use sqlx::PgPool;

use super::ClientsCommand;
use crate::{
    clients::{self, manage},
    config::{self, Config},
    ops::{Actor, table},
};

/// Runs one `clients` command against `pool`.
pub async fn run(action: ClientsCommand, pool: &PgPool, config: &Config) -> anyhow::Result<()> {
    match action {
        ClientsCommand::Create {
            name,
            role,
            commission_bps,
            mode,
        } => {
            let created = clients::create_with(pool, &name, role, mode, commission_bps).await?;
            println!(
                "client id: {}\nrole:      {role}\napi key:   {}\n(the key is shown once; only its SHA-256 is stored)",
                created.id, created.key
            );
        }
        ClientsCommand::List { json } => {
            let clients = manage::list(pool).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&clients)?);
                return Ok(());
            }
            print_clients(&clients);
        }
        ClientsCommand::Rotate { id, grace } => {
            let grace = match grace {
                Some(text) => config::duration(&text).context("--grace")?,
                None => config.front.key_rotation_grace,
            };
            let rotated = manage::rotate(pool, &Actor::cli(), id, grace).await?;
            let previous = match rotated.previous_key_expires_at {
                Some(until) => format!("the previous key works until {}", until.to_rfc3339()),
                None => "the previous key stopped working".to_owned(),
            };
            println!(
                "client id: {}\napi key:   {}\n({previous}; the new key is shown once)",
                rotated.id, rotated.key
            );
        }
        ClientsCommand::Revoke { id } => {
            let revoked = manage::revoke(pool, &Actor::cli(), id).await?;
            println!(
                "client {} revoked at {}: its keys ({}…) no longer work",
                revoked.id,
                revoked.revoked_at.to_rfc3339(),
                revoked.key_prefix
            );
        }
    }
    Ok(())
}

/// Clients as a table: never a key, only its prefix and the rotation's.
fn print_clients(clients: &[manage::ClientSummary]) {
    let day = |at: Option<chrono::DateTime<chrono::Utc>>| {
        at.map(|at| at.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default()
    };
    let rows: Vec<Vec<String>> = clients
        .iter()
        .map(|c| {
            vec![
                c.id.to_string(),
                table::cell(&c.name, 30),
                c.role.to_string(),
                format!("{}…", c.key_prefix),
                c.previous_key_prefix
                    .as_ref()
                    .map(|p| format!("{p}… until {}", day(c.previous_key_expires_at)))
                    .unwrap_or_default(),
                day(Some(c.created_at)),
                day(c.revoked_at),
            ]
        })
        .collect();
    print!(
        "{}",
        table::render(
            &[
                "id",
                "name",
                "role",
                "key",
                "previous key",
                "created",
                "revoked"
            ],
            &rows
        )
    );
}
