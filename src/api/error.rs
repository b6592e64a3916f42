//! What an API client is told when a request fails.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::store::StoreError;

/// A failed request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No or a wrong token.
    #[error("missing or wrong bearer token")]
    Unauthorized,
    /// A query parameter is missing, malformed or names nothing.
    #[error("{parameter}: {message}")]
    BadRequest {
        /// The parameter.
        parameter: String,
        /// What is wrong with it.
        message: String,
    },
    /// The thing asked for does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Something else on our side.
    #[error("{0}")]
    Internal(String),
    /// The listener failed.
    #[error("the HTTP server stopped: {0}")]
    Serve(#[source] std::io::Error),
}

impl From<crate::trends::TrendsError> for ApiError {
    fn from(e: crate::trends::TrendsError) -> Self {
        match e {
            crate::trends::TrendsError::BadArgument { argument, message } => ApiError::bad(argument, message),
            crate::trends::TrendsError::Store(e) => ApiError::Store(e),
        }
    }
}

impl ApiError {
    /// A bad query parameter.
    pub fn bad(parameter: &str, message: impl Into<String>) -> Self {
        ApiError::BadRequest { parameter: parameter.to_owned(), message: message.into() }
    }
}

/// The JSON body of every error response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What went wrong, for a person.
    pub error: String,
    /// The query parameter at fault (400 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameter: Option<String>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, error, parameter) = match self {
            ApiError::Unauthorized => {
                let body = ErrorBody { error: "unauthorized".to_owned(), parameter: None };
                return (StatusCode::UNAUTHORIZED, [("www-authenticate", "Bearer")], Json(body))
                    .into_response();
            }
            ApiError::BadRequest { parameter, message } => {
                (StatusCode::BAD_REQUEST, format!("{parameter}: {message}"), Some(parameter))
            }
            ApiError::NotFound(what) => (StatusCode::NOT_FOUND, what, None),
            e @ (ApiError::Store(_) | ApiError::Internal(_) | ApiError::Serve(_)) => {
                // The cause is logged here, once, inside the request's span; the
                // client learns only that it was our fault.
                tracing::error!(error = %crate::text::error_chain(&e), "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error; the server log has the cause".to_owned(),
                    None,
                )
            }
        };
        (status, Json(ErrorBody { error, parameter })).into_response()
    }
}
