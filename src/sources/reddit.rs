//! reddit source.

use url::Url;

use super::{Page, Response, SourceError};
use crate::config::SourceConfig;

/// The first URL to fetch.
pub fn first_page(source: &SourceConfig) -> Url {
    source.url.clone()
}

/// Reads one response.
pub fn parse(response: &Response<'_>) -> Result<Page, SourceError> {
    let _ = response;
    todo!("part 2: reddit parser")
}
