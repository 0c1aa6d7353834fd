//! A browser for the web pages: a cookie jar over the server's HTTPS listener, forms
//! posted urlencoded (or multipart, with files), the CSRF token read from a page.

use std::collections::BTreeMap;

use hyper::Method;

use super::*;

/// A browser: a cookie jar over the server's HTTPS listener.
pub struct Browser {
    pub http: HttpClient,
    pub cookies: BTreeMap<String, String>,
    pub accept_language: Option<&'static str>,
}

impl Browser {
    pub fn new(s: &TestServer) -> Self {
        Browser {
            http: s.https(),
            cookies: BTreeMap::new(),
            accept_language: None,
        }
    }

    pub fn request(&mut self, method: Method, path: &str, body: Vec<u8>) -> Resp {
        let form = (method == Method::POST).then_some("application/x-www-form-urlencoded");
        self.send(method, path, form, body)
    }

    fn send(
        &mut self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Resp {
        let mut headers = Vec::new();
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            headers.push(("Cookie", jar.join("; ")));
        }
        if let Some(l) = self.accept_language {
            headers.push(("Accept-Language", l.to_owned()));
        }
        if let Some(ct) = content_type {
            headers.push(("Content-Type", ct.to_owned()));
        }
        let r = self.http.request(method, path, &headers, body);
        for set in r.headers.get_all("set-cookie") {
            let set = set.to_str().expect("ASCII cookie");
            let (pair, attrs) = set.split_once(';').unwrap_or((set, ""));
            let (name, value) = pair.split_once('=').expect("name=value");
            if attrs.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.into(), value.into());
            }
        }
        r
    }

    pub fn get(&mut self, path: &str) -> Resp {
        self.request(Method::GET, path, Vec::new())
    }

    pub fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Resp {
        let body: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect();
        self.request(Method::POST, path, body.join("&").into_bytes())
    }

    /// Posts a `multipart/form-data` form: text fields, then files as (field, file name,
    /// bytes).
    pub fn post_multipart(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &str, &[u8])],
    ) -> Resp {
        const BOUNDARY: &str = "----easdTestBoundary7MA4YWxk";
        let mut body = Vec::new();
        for (name, value) in fields {
            body.extend_from_slice(
                format!(
                    "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                )
                .as_bytes(),
            );
        }
        for (name, filename, bytes) in files {
            body.extend_from_slice(
                format!(
                    "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
        let ct = format!("multipart/form-data; boundary={BOUNDARY}");
        self.send(Method::POST, path, Some(&ct), body)
    }

    /// Signs in through the login form; the answer to the form's POST.
    pub fn sign_in(&mut self, user: &str, password: &str) -> Resp {
        let form = self.get("/login");
        form.expect_status(200);
        let csrf = csrf_of(&form);
        self.post(
            "/login",
            &[("csrf", &csrf), ("user", user), ("password", password)],
        )
    }

    /// Signs in and checks it worked.
    #[track_caller]
    pub fn signed_in(s: &TestServer, user: &str) -> Self {
        let mut b = Browser::new(s);
        let r = b.sign_in(user, PASSWORD);
        r.expect_status(303);
        assert_eq!(r.header("location"), Some("/"));
        b
    }

    /// The CSRF token of the forms on `path`.
    pub fn csrf(&mut self, path: &str) -> String {
        let page = self.get(path);
        page.expect_status(200);
        csrf_of(&page)
    }
}

pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            b' ' => "+".into(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The value of the first `csrf` field of a page.
#[track_caller]
pub fn csrf_of(page: &Resp) -> String {
    let html = page.text();
    let at = html
        .find("name=\"csrf\" value=\"")
        .unwrap_or_else(|| panic!("no CSRF field in {html}"));
    let rest = &html[at + "name=\"csrf\" value=\"".len()..];
    rest[..rest.find('"').expect("end of value")].to_owned()
}
