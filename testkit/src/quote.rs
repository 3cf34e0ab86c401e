//! InfluxQL quoting of identifiers and string literals.
//!
//! Checked on InfluxDB 1.6.7: inside `"..."` and `'...'` the escapes `\\`,
//! `\"`, `\'` and `\n` are understood; any other backslash sequence (`\t`,
//! `\q`) is a parse error, and a raw newline ends the statement. `''` is not an
//! escape for a quote.

/// Quotes an identifier (database, retention policy, measurement, tag or field
/// key) as `"..."`, escaping `\`, `"` and newline.
///
/// ```
/// assert_eq!(testkit::quote_ident(r#"we"ird\x"#), r#""we\"ird\\x""#);
/// ```
pub fn quote_ident(name: &str) -> String {
    quote(name, '"')
}

/// Quotes a string literal (a tag value in a `WHERE`, a password) as `'...'`,
/// escaping `\`, `'` and newline.
///
/// ```
/// assert_eq!(testkit::quote_string("it's"), r"'it\'s'");
/// ```
pub fn quote_string(value: &str) -> String {
    quote(value, '\'')
}

fn quote(s: &str, q: char) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push(q);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c == q => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push(q);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Quotes, backslashes and newlines are escaped; other characters pass.
    #[test]
    fn escapes_quotes_backslashes_newlines() {
        assert_eq!(quote_ident("a b,c=d"), "\"a b,c=d\"");
        assert_eq!(quote_ident("a\"b\\c\nd'"), "\"a\\\"b\\\\c\\nd'\"");
        assert_eq!(quote_string("a'b\\c\nd\""), "'a\\'b\\\\c\\nd\"'");
        assert_eq!(quote_string("日本"), "'日本'");
    }
}
