//! Query parameters read one by one, so that every bad one (malformed,
//! unknown, repeated) is a 400 naming it.

use std::collections::BTreeMap;

use super::ApiError;

/// The query string's parameters, taken one at a time; [`Params::finish`]
/// refuses any left over.
#[derive(Debug)]
pub struct Params {
    values: BTreeMap<String, String>,
}

impl Params {
    /// Parses a raw query string (`None`: no query).
    pub fn parse(raw: Option<&str>) -> Result<Params, ApiError> {
        let mut values = BTreeMap::new();
        for (name, value) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
            if values.insert(name.to_string(), value.to_string()).is_some() {
                return Err(ApiError::bad(&name, "given more than once"));
            }
        }
        Ok(Params { values })
    }

    /// A text parameter; empty counts as absent.
    pub fn text(&mut self, name: &str) -> Option<String> {
        self.values.remove(name).filter(|v| !v.trim().is_empty())
    }

    /// A parameter parsed by `parse`, whose error message becomes the 400's.
    pub fn parsed<T>(
        &mut self,
        name: &str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ApiError> {
        self.text(name).map(|v| parse(&v).map_err(|message| ApiError::bad(name, message))).transpose()
    }

    /// An integer in `min..=max`.
    pub fn int(&mut self, name: &str, min: i64, max: i64) -> Result<Option<i64>, ApiError> {
        self.parsed(name, |v| match v.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(format!("`{v}` is not a whole number from {min} to {max}")),
        })
    }

    /// One of `allowed`.
    pub fn choice(&mut self, name: &str, allowed: &[&str]) -> Result<Option<String>, ApiError> {
        self.parsed(name, |v| {
            if allowed.contains(&v) {
                Ok(v.to_owned())
            } else {
                Err(format!("`{v}` is not one of {}", allowed.join(", ")))
            }
        })
    }

    /// Refuses parameters nobody took.
    pub fn finish(self) -> Result<(), ApiError> {
        match self.values.keys().next() {
            Some(name) => Err(ApiError::bad(name, "unknown parameter")),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bad_parameter_is_named() {
        let mut p = Params::parse(Some("limit=0&x=1")).unwrap();
        let e = p.int("limit", 1, 200).unwrap_err();
        assert!(e.to_string().starts_with("limit:"), "{e}");
        assert!(p.finish().unwrap_err().to_string().starts_with("x: unknown"));
        assert!(Params::parse(Some("a=1&a=2")).unwrap_err().to_string().starts_with("a: given more"));
        let mut p = Params::parse(Some("q=%22battery+life%22&empty=")).unwrap();
        assert_eq!(p.text("q").as_deref(), Some("\"battery life\""));
        assert_eq!(p.text("empty"), None);
        p.finish().unwrap();
    }
}
