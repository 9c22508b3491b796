//! `POST /ops/fincra/banks/refresh`: replaces malipo's list of Nigerian banks with Fincra's
//! (`ops::fincra_banks`, audited). 404 when Fincra is not configured; 422 with Fincra's reason
//! when it could not be asked (the list is unchanged).

use axum::{Json, extract::State};
use serde_json::{Value, json};

use super::actor;
use crate::{
    http::{AppState, auth::Operator, problem::ApiError},
    ops::fincra_banks,
};

/// Refreshes the bank list; answers how many banks are listed now.
#[utoipa::path(post, path = "/ops/fincra/banks/refresh", tag = "ops",
    responses((status = 200, description = "`{\"banks\": n}`: the list now holds n banks", body = serde_json::Value),
        (status = 401, body = crate::http::openapi::Problem), (status = 403, body = crate::http::openapi::Problem),
        (status = 404, description = "Fincra is not configured", body = crate::http::openapi::Problem),
        (status = 422, description = "Fincra could not be asked; the list is unchanged", body = crate::http::openapi::Problem)),
    security(("operator_key" = [])))]
pub async fn refresh_banks(
    State(state): State<AppState>,
    operator: Operator,
) -> Result<Json<Value>, ApiError> {
    let Some(client) = state.fincra_checks.as_deref() else {
        return Err(ApiError::NotFound(
            "Fincra is not configured on this server".to_owned(),
        ));
    };
    match fincra_banks::refresh(&state.pool, client, &actor(&operator)).await? {
        Ok(banks) => Ok(Json(json!({"banks": banks}))),
        Err(error) => Err(ApiError::Unprocessable(format!(
            "Fincra could not list its banks ({}); the list is unchanged",
            error.reason()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use utoipa::OpenApi;

    #[test]
    fn the_openapi_document_lists_the_bank_refresh_and_fincra_collections() {
        let document = crate::http::openapi::ApiDoc::openapi();
        assert!(
            document
                .paths
                .paths
                .contains_key("/ops/fincra/banks/refresh")
        );
        let text = serde_json::to_string(&document).unwrap_or_default();
        assert!(
            text.contains("checkout_link"),
            "intent creation documents Fincra checkout"
        );
    }
}
