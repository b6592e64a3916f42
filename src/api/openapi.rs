//! The OpenAPI 3 description of `/api/*`, generated from the route and type
//! definitions (utoipa), so it cannot drift from the code by hand.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "brandpulse API", description = "Brand mentions, sentiment, products and digests from a self-hosted brandpulse. Every route but /api/health needs `Authorization: Bearer <token>`."),
    paths(
        super::routes::get_trends,
        super::routes::get_mentions,
        super::routes::get_product,
        super::routes::get_gaps,
        super::routes::get_digest,
        super::routes::get_sources,
        super::routes::get_health,
    ),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The description, with the crate's version.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc
}
