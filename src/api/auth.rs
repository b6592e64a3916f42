//! Who may read: a bearer token on the JSON API, a session cookie (set by the
//! dashboard's login form) in the browser.
//!
//! Both compare in constant time. The cookie carries an HMAC of the token, not
//! the token, so a leaked cookie jar does not leak the API token, and changing
//! the token logs every browser out.

use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, COOKIE};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The dashboard's session cookie.
pub const SESSION_COOKIE: &str = "brandpulse_session";

/// Whether `headers` carry `Authorization: Bearer <token>`.
pub fn bearer_ok(headers: &HeaderMap, token: &SecretString) -> bool {
    let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let Some((scheme, given)) = value.split_once(' ') else {
        return false;
    };
    scheme.eq_ignore_ascii_case("bearer") && equal(given.trim().as_bytes(), token.expose_secret().as_bytes())
}

/// The session cookie's value for `token`.
pub fn session_value(token: &SecretString) -> String {
    // HMAC keyed by the token over a fixed label: only someone with the token can make it.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(token.expose_secret().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    mac.update(b"brandpulse dashboard session v1");
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `headers` carry the dashboard session cookie for `token`.
pub fn session_ok(headers: &HeaderMap, token: &SecretString) -> bool {
    let expected = session_value(token);
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .any(|(name, value)| name == SESSION_COOKIE && equal(value.as_bytes(), expected.as_bytes()))
}

/// Whether a typed token (the login form) is the token.
pub fn token_ok(given: &str, token: &SecretString) -> bool {
    equal(given.trim().as_bytes(), token.expose_secret().as_bytes())
}

/// The `Set-Cookie` value that logs a browser in: HttpOnly (no script reads
/// it), SameSite=Strict (no other site's form rides on it), whole site.
pub fn login_cookie(token: &SecretString) -> String {
    format!("{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age=2592000", session_value(token))
}

/// The `Set-Cookie` value that logs a browser out.
pub fn logout_cookie() -> String {
    format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

fn equal(a: &[u8], b: &[u8]) -> bool {
    // Lengths are compared in the open: the token's length is not a secret worth
    // a padded compare, and `ct_eq` needs equal lengths.
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn token() -> SecretString {
        SecretString::from("correct-horse-battery-staple")
    }

    #[test]
    fn bearer_needs_the_exact_token() {
        let mut h = HeaderMap::new();
        assert!(!bearer_ok(&h, &token()));
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer correct-horse-battery-staple"));
        assert!(bearer_ok(&h, &token()));
        h.insert(AUTHORIZATION, HeaderValue::from_static("bearer correct-horse-battery-staple"));
        assert!(bearer_ok(&h, &token()), "the scheme is case-insensitive");
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer correct-horse-battery-stapl"));
        assert!(!bearer_ok(&h, &token()));
        h.insert(AUTHORIZATION, HeaderValue::from_static("Basic correct-horse-battery-staple"));
        assert!(!bearer_ok(&h, &token()));
    }

    #[test]
    fn the_session_cookie_is_not_the_token_and_is_checked() {
        let value = session_value(&token());
        assert!(!value.contains("horse"));
        let mut h = HeaderMap::new();
        h.insert(COOKIE, HeaderValue::from_str(&format!("other=1; {SESSION_COOKIE}={value}")).unwrap());
        assert!(session_ok(&h, &token()));
        assert!(!session_ok(&h, &SecretString::from("another-token-of-some-length")));
        h.insert(COOKIE, HeaderValue::from_static("brandpulse_session=00"));
        assert!(!session_ok(&h, &token()));
    }
}
