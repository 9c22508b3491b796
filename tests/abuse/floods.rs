//! Unauthenticated floods: failed authentication is limited per source address before the
//! database, unknown keys are remembered briefly, and a valid client on another address keeps
//! its latency while one address floods bad keys.

use std::{net::IpAddr, sync::Arc, time::Duration};

use futures::{StreamExt, stream};
use malipo::http::auth::hash_key;
use tokio::time::Instant;

use super::support::{App, HEAVY, percentile, problem, spawn_app_with};

const FLOODER: [u8; 4] = [127, 0, 0, 2];

fn client_from(address: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::from(address))
        .build()
        .expect("client")
}

async fn get_intent(app: &App, http: &reqwest::Client, key: &str, id: &str) -> u16 {
    http.get(format!("{}/v1/intents/{id}", app.base))
        .bearer_auth(key)
        .send()
        .await
        .expect("request")
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_flood_of_bad_keys_is_429_for_its_address_only() {
    let budget = 20;
    let app = spawn_app_with(|config| config.front.auth_failures_per_min = budget).await;
    let id = app.intent().await;
    let flooder = client_from(FLOODER);
    let mut unauthorized = 0;
    let mut limited = 0;
    for attempt in 0..500 {
        let response = flooder
            .get(format!("{}/v1/intents/{id}", app.base))
            .bearer_auth(format!("mlp_live_{attempt:064x}"))
            .send()
            .await
            .expect("request");
        match response.status().as_u16() {
            401 => unauthorized += 1,
            429 => {
                assert!(response.headers().get("retry-after").is_some());
                limited += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    println!("500 bad keys from one address: {unauthorized} × 401, {limited} × 429");
    assert!(
        unauthorized <= budget,
        "{unauthorized} lookups answered 401"
    );
    assert_eq!(unauthorized + limited, 500);
    // Another address is not blocked, and a valid key works from both.
    let other = client_from([127, 0, 0, 3]);
    problem(
        other
            .get(format!("{}/v1/intents/{id}", app.base))
            .bearer_auth("mlp_live_nope")
            .send()
            .await
            .expect("request"),
        401,
    )
    .await;
    assert_eq!(get_intent(&app, &app.http, &app.key, &id).await, 200);
}

#[tokio::test]
async fn an_unknown_key_is_remembered_as_unknown_briefly() {
    let app = spawn_app_with(|config| {
        config.front.negative_key_cache = Duration::from_secs(60);
        config.front.auth_failures_per_min = 1_000;
    })
    .await;
    let id = app.intent().await;
    let key = format!("mlp_live_{:064x}", 42);
    assert_eq!(get_intent(&app, &app.http, &key, &id).await, 401);
    // The key becomes valid in the database behind the server's back: the remembered answer
    // stands, which shows the second request never reached the database.
    sqlx::query("UPDATE api_clients SET key_hash = $1 WHERE id = $2")
        .bind(hash_key(&key))
        .bind(app.client_id)
        .execute(&app.pool)
        .await
        .expect("swap key");
    assert_eq!(get_intent(&app, &app.http, &key, &id).await, 401);
}

#[tokio::test]
async fn a_valid_client_keeps_its_p99_while_another_address_floods_bad_keys() {
    const SAMPLES: usize = 200;
    const FLOOD: usize = 5_000;
    let _heavy = HEAVY.lock().await;
    let app = Arc::new(spawn_app_with(|config| config.front.auth_failures_per_min = 60).await);
    let id = app.intent().await;
    let measure = |app: Arc<App>, id: String| async move {
        let mut samples = Vec::with_capacity(SAMPLES);
        for _ in 0..SAMPLES {
            let started = Instant::now();
            assert_eq!(get_intent(&app, &app.http, &app.key, &id).await, 200);
            samples.push(started.elapsed());
        }
        samples
    };
    let mut unloaded = measure(app.clone(), id.clone()).await;
    let flood = {
        let app = app.clone();
        let id = id.clone();
        tokio::spawn(async move {
            let flooder = client_from(FLOODER);
            stream::iter(0..FLOOD)
                .map(|attempt| {
                    let request = flooder
                        .get(format!("{}/v1/intents/{id}", app.base))
                        .bearer_auth(format!("mlp_live_{attempt:064x}"))
                        .send();
                    async move { request.await.map(|r| r.status().as_u16()).unwrap_or(0) }
                })
                .buffer_unordered(32)
                .collect::<Vec<u16>>()
                .await
        })
    };
    let mut loaded = measure(app.clone(), id.clone()).await;
    let statuses = flood.await.expect("flood");
    let limited = statuses.iter().filter(|s| **s == 429).count();
    let p99_unloaded = percentile(&mut unloaded, 99.0);
    let p99_loaded = percentile(&mut loaded, 99.0);
    let bound = p99_unloaded * 10 + Duration::from_millis(100);
    println!(
        "valid client p99: unloaded {p99_unloaded:?}, during a {FLOOD}-request bad-key flood \
         {p99_loaded:?} (bound {bound:?}); flood answers: {limited} × 429 of {}",
        statuses.len()
    );
    assert!(
        limited >= FLOOD - 100,
        "the flooding address is limited: {limited} × 429"
    );
    assert!(
        p99_loaded <= bound,
        "valid p99 {p99_loaded:?} during the flood exceeds 10 × {p99_unloaded:?} + 100 ms"
    );
}
