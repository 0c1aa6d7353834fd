//! How a display name is written in an address (`"Name" <a@b>`): as an RFC 5322 3.2.4
//! quoted-string, for the From and To values EAS clients show and for meeting organizers.

/// `name` with its backslashes and double quotes escaped, to go between double quotes.
pub(super) fn quote(name: &str) -> String {
    name.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    #[test]
    fn quotes_and_backslashes_are_escaped() {
        assert_eq!(super::quote(r#"Ann "A." \ B"#), r#"Ann \"A.\" \\ B"#);
        assert_eq!(super::quote("Plain"), "Plain");
    }
}
