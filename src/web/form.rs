//! What a browser sends besides the path: form bodies
//! (`application/x-www-form-urlencoded`), query strings and cookies. Pure parsing.

use crate::proto::query::percent_decode;

/// Most fields one form may carry. The largest page form is the policies page's, which
/// sends every policy key (the EASProvisionDoc elements and easd's own, about 60) besides
/// its CSRF token and level (`web::policies` tests that it fits).
pub const MAX_FIELDS: usize = 128;

/// A parsed form or query string.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Form(Vec<(String, String)>);

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error("bad percent-encoding")]
    Encoding,
    #[error("not UTF-8")]
    Utf8,
    #[error("more than {MAX_FIELDS} fields")]
    TooMany,
}

impl Form {
    /// Parses `a=1&b=x+y` as the URL standard's urlencoded parser does: `+` is a space,
    /// `%XX` a byte, the result UTF-8.
    pub fn parse(text: &str) -> Result<Self, FormError> {
        let mut fields = Vec::new();
        for pair in text.split('&').filter(|p| !p.is_empty()) {
            if fields.len() == MAX_FIELDS {
                return Err(FormError::TooMany);
            }
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            fields.push((decode(k)?, decode(v)?));
        }
        Ok(Form(fields))
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `name`, empty when absent.
    pub fn text(&self, name: &str) -> &str {
        self.get(name).unwrap_or_default()
    }

    /// A checkbox: present (with any value) means checked.
    pub fn checked(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

fn decode(s: &str) -> Result<String, FormError> {
    let bytes = percent_decode(&s.replace('+', " ")).map_err(|_| FormError::Encoding)?;
    String::from_utf8(bytes).map_err(|_| FormError::Utf8)
}

/// The value of cookie `name` in a `Cookie` header (`a=1; b=2`).
pub fn cookie<'h>(header: &'h str, name: &str) -> Option<&'h str> {
    header
        .split(';')
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
}

/// A path inside this site to go back to after a language switch; anything else
/// (another site, `//host`, a scheme) becomes `/`.
pub fn local_path(back: &str) -> &str {
    let ok = back.starts_with('/')
        && !back.starts_with("//")
        && !back.contains('\\')
        && back.bytes().all(|b| b.is_ascii_graphic());
    if ok { back } else { "/" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_and_cookies() {
        let f = Form::parse("email=bob%40example.com&name=Bob+Smith&admin=on&x=").unwrap();
        assert_eq!(f.get("email"), Some("bob@example.com"));
        assert_eq!(f.text("name"), "Bob Smith");
        assert!(f.checked("admin"));
        assert!(!f.checked("enabled"));
        assert_eq!(f.get("x"), Some(""));
        assert_eq!(Form::parse("a=%2B").unwrap().text("a"), "+");
        assert_eq!(Form::parse("a=%zz"), Err(FormError::Encoding));
        assert_eq!(Form::parse("a=%ff"), Err(FormError::Utf8));
        let many = vec!["a=1"; MAX_FIELDS + 1].join("&");
        assert_eq!(Form::parse(&many), Err(FormError::TooMany));

        let h = "easd_lang=fr; easd_session=abc=; other=\"q\"";
        assert_eq!(cookie(h, "easd_lang"), Some("fr"));
        assert_eq!(cookie(h, "easd_session"), Some("abc="));
        assert_eq!(cookie(h, "other"), Some("q"));
        assert_eq!(cookie(h, "missing"), None);

        assert_eq!(local_path("/admin/devices?x=1"), "/admin/devices?x=1");
        assert_eq!(local_path("//evil.example"), "/");
        assert_eq!(local_path("https://evil.example"), "/");
        assert_eq!(local_path("/\\evil"), "/");
    }
}
