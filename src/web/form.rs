//! What a browser sends besides the path: form bodies
//! (`application/x-www-form-urlencoded`, and `multipart/form-data` for the forms that
//! upload files), query strings and cookies. Pure parsing.

use crate::proto::query::percent_decode;

/// Most fields one form may carry. The largest page form is the policies page's, which
/// sends every policy key (the EASProvisionDoc elements and easd's own, about 60) besides
/// its CSRF token and level (`web::policies` tests that it fits).
pub const MAX_FIELDS: usize = 128;

/// A parsed form or query string: its text fields, and the files a multipart form
/// uploaded (a file input left empty uploads none).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Form {
    fields: Vec<(String, String)>,
    files: Vec<(String, Vec<u8>)>,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error("bad percent-encoding")]
    Encoding,
    #[error("not UTF-8")]
    Utf8,
    #[error("more than {MAX_FIELDS} fields")]
    TooMany,
    #[error("not multipart/form-data: {0}")]
    Multipart(&'static str),
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
        Ok(Form {
            fields,
            files: Vec::new(),
        })
    }

    /// Parses a `multipart/form-data` body (RFC 7578) whose Content-Type is
    /// `content_type`: each part's name from its Content-Disposition; a part with a
    /// `filename` is a file (kept unless empty), the others text fields (UTF-8).
    pub fn parse_multipart(content_type: &str, body: &[u8]) -> Result<Self, FormError> {
        let boundary = content_type
            .split(';')
            .skip(1)
            .filter_map(|p| p.trim().split_once('='))
            .find(|(k, _)| k.eq_ignore_ascii_case("boundary"))
            .map(|(_, v)| v.trim_matches('"'))
            .filter(|b| !b.is_empty() && b.len() <= 70)
            .ok_or(FormError::Multipart("no boundary"))?;
        let delimiter = format!("\r\n--{boundary}");
        // The first delimiter may start the body without its CRLF.
        let mut rest = body
            .strip_prefix(&delimiter.as_bytes()[2..])
            .ok_or(FormError::Multipart("no first boundary"))?;
        let mut form = Form::default();
        loop {
            if rest.starts_with(b"--") {
                return Ok(form);
            }
            rest = rest
                .strip_prefix(b"\r\n")
                .ok_or(FormError::Multipart("a boundary without CRLF"))?;
            let end = find(rest, delimiter.as_bytes())
                .ok_or(FormError::Multipart("a part without its end"))?;
            let (part, after) = rest.split_at(end);
            rest = &after[delimiter.len()..];
            let head_end =
                find(part, b"\r\n\r\n").ok_or(FormError::Multipart("a part without headers"))?;
            let head = std::str::from_utf8(&part[..head_end]).map_err(|_| FormError::Utf8)?;
            let content = &part[head_end + 4..];
            let (name, filename) = disposition(head)?;
            if form.fields.len() + form.files.len() == MAX_FIELDS {
                return Err(FormError::TooMany);
            }
            match filename {
                Some(_) if content.is_empty() => {}
                Some(_) => form.files.push((name, content.to_vec())),
                None => {
                    let text = String::from_utf8(content.to_vec()).map_err(|_| FormError::Utf8)?;
                    form.fields.push((name, text));
                }
            }
        }
    }

    /// The bytes of the file uploaded as `name`.
    pub fn file(&self, name: &str) -> Option<&[u8]> {
        self.files
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_slice())
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
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

/// Where `needle` first occurs in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The `name` and `filename` of a part's Content-Disposition (RFC 7578 4.2).
fn disposition(head: &str) -> Result<(String, Option<String>), FormError> {
    let value = head
        .split("\r\n")
        .find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-disposition")
                .then_some(v)
        })
        .ok_or(FormError::Multipart("a part without Content-Disposition"))?;
    let param = |want: &str| {
        value.split(';').skip(1).find_map(|p| {
            let (k, v) = p.trim().split_once('=')?;
            k.eq_ignore_ascii_case(want)
                .then(|| v.trim_matches('"').to_owned())
        })
    };
    let name = param("name").ok_or(FormError::Multipart("a part without a name"))?;
    Ok((name, param("filename")))
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

    #[test]
    fn multipart_forms_carry_fields_and_files() {
        let ct = "multipart/form-data; boundary=\"XyZ\"";
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nBuyer \xc3\xa9\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"a.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n\xff\xd8\r\n--X\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"cert\"; filename=\"\"\r\n\r\n\r\n\
--XyZ--\r\n";
        let f = Form::parse_multipart(ct, body).unwrap();
        assert_eq!(f.text("title"), "Buyer é");
        assert_eq!(f.file("photo"), Some(&b"\xff\xd8\r\n--X"[..]));
        assert_eq!(f.file("cert"), None, "an empty file input uploads nothing");
        for (ct, body) in [
            ("multipart/form-data", &body[..]),
            (ct, &b"garbage"[..]),
            (
                ct,
                &b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nno end"[..],
            ),
            (ct, &b"--XyZ\r\nX: y\r\n\r\nv\r\n--XyZ--"[..]),
        ] {
            assert!(Form::parse_multipart(ct, body).is_err(), "{body:?}");
        }
    }
}
