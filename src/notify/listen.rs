//! `malipo webhooks listen`: like `stripe listen`, registers a temporary endpoint for a client
//! pointing at a receiver on loopback, prints every delivery with its verification result, and
//! deletes the endpoint on Ctrl-C. The server must allow loopback targets (the sandbox does).

use std::net::SocketAddr;

use anyhow::Context;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use super::{
    NotifySettings, WebhookSecret,
    receiver::{Receiver, Script},
};
use crate::db::webhook_endpoints::{self, NewEndpoint};

/// Listens for `client`'s events on `bind` until `stop` resolves.
pub async fn run(
    pool: &PgPool,
    settings: &NotifySettings,
    client: Uuid,
    bind: SocketAddr,
    event_types: Vec<String>,
    stop: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let key = settings.secrets_key.as_ref().context(
        "MALIPO_SECRETS_KEY is not set (use the server's key, or --sandbox with `run --sandbox`)",
    )?;
    let receiver = Receiver::start(bind, Script::default()).await?;
    let secret = WebhookSecret::generate();
    receiver.verify_with(secret.clone());
    let mut feed = receiver.subscribe();
    let mut conn = pool.acquire().await?;
    let endpoint = webhook_endpoints::insert(
        &mut conn,
        client,
        &NewEndpoint {
            url: receiver.url(),
            event_types,
            description: Some("malipo webhooks listen".to_owned()),
        },
        &key.seal(&secret),
    )
    .await?;
    println!(
        "listening on {} (endpoint {}, secret {}); Ctrl-C to stop",
        receiver.url(),
        endpoint.id,
        secret.reveal()
    );
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            arrived = feed.recv() => {
                let Some(delivery) = arrived else { break };
                let body: Value = serde_json::from_slice(&delivery.body).unwrap_or(Value::Null);
                let verdict = match delivery.verified {
                    Some(Ok(())) => "verified".to_owned(),
                    Some(Err(error)) => format!("NOT VERIFIED ({error})"),
                    None => "unchecked".to_owned(),
                };
                println!(
                    "{}  {verdict}  {}  {}  {} {}",
                    chrono::Utc::now().format("%H:%M:%S"),
                    delivery.id,
                    body["type"].as_str().unwrap_or("?"),
                    body["data"]["id"].as_str().unwrap_or("?"),
                    body["data"]["status"].as_str().unwrap_or(""),
                );
            }
        }
    }
    webhook_endpoints::delete(&mut conn, client, endpoint.id).await?;
    println!("endpoint {} deleted", endpoint.id);
    Ok(())
}
