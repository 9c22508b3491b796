//! `GET /openapi.json`: the OpenAPI 3.1 document, generated from the handlers' annotations so
//! it changes with the code.

use axum::Json;
use utoipa::{
    Modify, OpenApi,
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
};

use super::{
    health, intent_actions, intent_cancel, intent_dispute, intents, metrics, ops, webhooks,
    withdrawals,
};

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "malipo", description = "Escrow payment orchestration: intents, provider webhooks, and the operator API over the job queue."),
    paths(
        health::healthz, health::readyz, intents::create, intents::get, metrics::scrape,
        intent_actions::release, intent_actions::refund, intent_cancel::cancel,
        intent_dispute::dispute, intent_dispute::auto_release, ops::disputes::resolve, ops::payouts::resend,
        withdrawals::create, withdrawals::get, withdrawals::list, withdrawals::statement,
        ops::queues::overview, ops::queues::pause, ops::queues::resume, ops::queues::drain,
        ops::jobs::list, ops::jobs::show, ops::jobs::retry, ops::jobs::discard,
        ops::jobs::retry_matching, ops::jobs::discard_matching, ops::audit::list,
        ops::clients::list, ops::clients::rotate, ops::clients::revoke,
        webhooks::fincra::receive,
        ops::fincra::refresh_banks,
    ),
    components(schemas(Problem)),
    modifiers(&BearerKeys),
    tags((name = "intents", description = "Payment intents (client keys)"),
         (name = "ops", description = "Queues, jobs and audit (operator keys)"),
         (name = "health", description = "Probes"),
         (name = "webhooks", description = "Provider deliveries, verified on their raw bytes"))
)]
pub struct ApiDoc;

/// An RFC 9457 problem, the body of every error answer (`application/problem+json`).
#[derive(utoipa::ToSchema)]
#[expect(dead_code, reason = "documentation only; problem.rs writes the body")]
pub struct Problem {
    /// A URI naming the problem type.
    r#type: String,
    /// The HTTP reason phrase.
    title: String,
    /// The HTTP status.
    status: u16,
    /// What went wrong, for a human.
    detail: String,
}

struct BearerKeys;

impl Modify for BearerKeys {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let bearer =
            || SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build());
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("client_key", bearer());
        components.add_security_scheme("operator_key", bearer());
    }
}

/// The document as JSON.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    let mut document = ApiDoc::openapi();
    document.merge(super::notify::NotifyDoc::openapi());
    Json(document)
}
