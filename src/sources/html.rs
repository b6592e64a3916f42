//! Any web page, read with the CSS selectors of the config.

use super::{Page, Response, SourceError};
use crate::config::HtmlSelectors;

/// Reads a page.
pub fn parse(response: &Response<'_>, selectors: &HtmlSelectors) -> Result<Page, SourceError> {
    let _ = (response, selectors);
    todo!("part 2: html parser")
}
