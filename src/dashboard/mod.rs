//! The dashboard (placeholder until its pages land).

use axum::Router;

use crate::api::AppState;

/// The dashboard's routes.
pub fn router() -> Router<AppState> {
    Router::new()
}
