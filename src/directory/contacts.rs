//! An account's own contacts as ResolveRecipients candidates ([MS-ASCMD] 2.2.3.186.5
//! Type 2): one card per e-mail address of a contact, matched like GAL entries.

use super::fold::{keys_match, match_keys};
use crate::store::model::pim::Contact;

/// A contact's address with the name it is shown under.
#[derive(Debug)]
pub struct ContactCard {
    pub name: String,
    pub email: String,
    keys: Box<str>,
}

impl ContactCard {
    pub fn matches(&self, query: &[String]) -> bool {
        keys_match(&self.keys, query)
    }
}

/// The cards of `contacts`, one per distinct address, sorted by name. A contact's name is
/// its FileAs, else its first and last names, else the address.
pub fn cards<'a>(contacts: impl Iterator<Item = &'a Contact>) -> Vec<ContactCard> {
    let mut out: Vec<ContactCard> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for c in contacts {
        let text = |v: &Option<String>| v.as_deref().unwrap_or_default().trim().to_owned();
        let (first, last) = (text(&c.first_name), text(&c.last_name));
        let shown = shown_name(c);
        for email in addresses(c) {
            if !seen.insert(email.clone()) {
                continue;
            }
            let name = shown.clone().unwrap_or_else(|| email.clone());
            let keys = match_keys(&[&name, &first, &last], &email);
            out.push(ContactCard { name, email, keys });
        }
    }
    out.sort_by_cached_key(|c| super::fold::fold(&c.name));
    out
}

/// The name a contact is shown under: its FileAs, else its first and last names (`None`:
/// neither, so its address is).
pub fn shown_name(c: &Contact) -> Option<String> {
    let text = |v: &Option<String>| v.as_deref().unwrap_or_default().trim().to_owned();
    let (first, last, file_as) = (text(&c.first_name), text(&c.last_name), text(&c.file_as));
    if !file_as.is_empty() {
        Some(file_as)
    } else if !(first.is_empty() && last.is_empty()) {
        Some(format!("{first} {last}").trim().to_owned())
    } else {
        None
    }
}

/// A contact's distinct e-mail addresses (Email1..3), bare and lower-cased; values that
/// are not addresses are left out.
pub fn addresses(c: &Contact) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for raw in [&c.email1_address, &c.email2_address, &c.email3_address] {
        let email = bare_address(raw.as_deref().unwrap_or_default()).to_ascii_lowercase();
        if email.contains('@') && !out.contains(&email) {
            out.push(email);
        }
    }
    out
}

/// The address of `"Name" <a@b>` (as clients store contacts' e-mail fields), or the text.
fn bare_address(s: &str) -> &str {
    match (s.rfind('<'), s.rfind('>')) {
        (Some(lt), Some(gt)) if lt < gt => s[lt + 1..gt].trim(),
        _ => s.trim(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::fold::query_words;

    #[test]
    fn each_address_is_a_card_found_by_name_or_address() {
        let ann = Contact {
            first_name: Some("Ann".into()),
            last_name: Some("Ébert".into()),
            email1_address: Some("\"Ann Ébert\" <Ann@Home.example>".into()),
            email2_address: Some("ann.ebert@work.example".into()),
            ..Contact::default()
        };
        let dup = Contact {
            file_as: Some("Someone Else".into()),
            email1_address: Some("ann@home.example".into()),
            email3_address: Some("not an address".into()),
            ..Contact::default()
        };
        let found = cards([&ann, &dup].into_iter());
        let emails: Vec<&str> = found.iter().map(|c| c.email.as_str()).collect();
        assert_eq!(emails, ["ann@home.example", "ann.ebert@work.example"]);
        assert_eq!(found[0].name, "Ann Ébert");
        assert!(found.iter().all(|c| c.matches(&query_words("eber"))));
        assert!(found[1].matches(&query_words("ann.ebert@w")));
        assert!(!found[0].matches(&query_words("work")));
    }
}
