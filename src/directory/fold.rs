//! Case and accent folding for directory matching: "Ösçar" is found by "osc", "OSC" and
//! "ösç". A small table covers the Latin-1 and Latin Extended-A letters offices' names
//! use (with Romanian ș/ț), instead of a Unicode normalization crate: other scripts are
//! lower-cased and kept as they are.

/// `s` lower-cased, with the accents of Latin letters removed.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().flat_map(char::to_lowercase) {
        match base(c) {
            Some(b) => out.push_str(b),
            None => out.push(c),
        }
    }
    out
}

/// The unaccented letters of a lower-case accented one.
fn base(c: char) -> Option<&'static str> {
    Some(match c {
        'à'..='å' | 'ā' | 'ă' | 'ą' => "a",
        'æ' => "ae",
        'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => "c",
        'ð' | 'ď' | 'đ' => "d",
        'è'..='ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => "e",
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => "g",
        'ĥ' | 'ħ' => "h",
        'ì'..='ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => "i",
        'ĳ' => "ij",
        'ĵ' => "j",
        'ķ' => "k",
        'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => "l",
        'ñ' | 'ń' | 'ņ' | 'ň' => "n",
        'ò'..='ö' | 'ø' | 'ō' | 'ŏ' | 'ő' => "o",
        'œ' => "oe",
        'ŕ' | 'ŗ' | 'ř' => "r",
        'ś' | 'ŝ' | 'ş' | 'š' | 'ș' => "s",
        'ß' => "ss",
        'ţ' | 'ť' | 'ŧ' | 'ț' => "t",
        'þ' => "th",
        'ù'..='ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => "u",
        'ŵ' => "w",
        'ý' | 'ÿ' | 'ŷ' => "y",
        'ź' | 'ż' | 'ž' => "z",
        _ => return None,
    })
}

/// The words of a name, folded: what a query word must be a prefix of.
pub fn words(s: &str) -> impl Iterator<Item = String> + '_ {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(fold)
}

/// Whether every query word is a prefix of one of `keys` (from [`match_keys`]).
pub fn keys_match(keys: &str, query: &[String]) -> bool {
    !query.is_empty()
        && query
            .iter()
            .all(|q| keys.split('\0').any(|k| k.starts_with(q.as_str())))
}

/// What a query matches of an entry: the folded words of its names, its folded address
/// whole, and the words of the address's local part ("bob.smith@" by "smith"),
/// `\0`-separated.
pub fn match_keys(names: &[&str], email: &str) -> Box<str> {
    let mut keys: Vec<String> = names.iter().flat_map(|v| words(v)).collect();
    keys.push(fold(email));
    keys.extend(words(email.split('@').next().unwrap_or_default()));
    keys.sort();
    keys.dedup();
    keys.join("\0").into()
}

/// The words of a query, folded; an address (with `@`) stays one word, matched against
/// the whole address.
pub fn query_words(query: &str) -> Vec<String> {
    let mut out = Vec::new();
    for piece in query.split_whitespace() {
        if piece.contains('@') {
            out.push(fold(piece));
        } else {
            out.extend(words(piece));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_and_accents_fold_away() {
        assert_eq!(fold("Ösçar ÉLODIE Łukasz"), "oscar elodie lukasz");
        assert_eq!(fold("Straße Œuvre Ærø"), "strasse oeuvre aero");
        assert_eq!(fold("Ștefan Țurcanu"), "stefan turcanu");
        // Other scripts are lower-cased only.
        assert_eq!(fold("ΣΩΚΡΑΤΗΣ Иван"), "σωκρατησ иван");
    }

    #[test]
    fn words_split_on_punctuation() {
        let w: Vec<String> = words("Jean-Luc O'Brien (Sales)").collect();
        assert_eq!(w, ["jean", "luc", "o", "brien", "sales"]);
    }
}
