//! RFC 1035 section 5.1 zone-file lexing: entries (a line, or several joined by parentheses)
//! of tokens, with comments dropped and quoted strings kept whole. Escapes stay in a token's
//! text as written (`\.`, `\DDD`), for the reader of each field to interpret.

/// One token: its text without quotes, escapes as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub text: Vec<u8>,
    /// Written in double quotes (so `"\#"` is text, not the generic-data marker).
    pub quoted: bool,
}

impl Token {
    /// The text, when it is UTF-8 (names, numbers and keywords always are).
    pub fn str(&self) -> Result<&str, String> {
        std::str::from_utf8(&self.text).map_err(|_| format!("{:?} is not UTF-8", String::from_utf8_lossy(&self.text)))
    }
}

/// One entry of a zone file.
#[derive(Debug)]
pub struct Entry {
    /// The line it starts on (1-based).
    pub line: u32,
    /// It starts with blank space: the owner is the previous entry's.
    pub continues_owner: bool,
    pub tokens: Vec<Token>,
}

/// Splits a zone file into entries; an error says which line.
pub fn entries(text: &[u8]) -> Result<Vec<Entry>, (u32, String)> {
    let mut out = Vec::new();
    let mut line = 1u32;
    let mut i = 0;
    // Where the open parenthesis was, while one is.
    let mut open: Option<u32> = None;
    let mut entry = Entry { line, continues_owner: false, tokens: Vec::new() };
    let mut token: Option<Token> = None;
    let mut at_line_start = true;
    while i < text.len() {
        let b = text[i];
        if at_line_start && open.is_none() {
            entry = Entry { line, continues_owner: b == b' ' || b == b'\t', tokens: Vec::new() };
        }
        at_line_start = false;
        match b {
            b'\n' | b' ' | b'\t' | b'\r' | b'(' | b')' | b';' => {
                entry.tokens.extend(token.take());
                match b {
                    b'(' if open.is_some() => return Err((line, "a parenthesis inside parentheses".into())),
                    b'(' => open = Some(line),
                    b')' if open.is_none() => {
                        return Err((line, "a closing parenthesis without an opening one".into()));
                    }
                    b')' => open = None,
                    b';' => {
                        while i + 1 < text.len() && text[i + 1] != b'\n' {
                            i += 1;
                        }
                    }
                    b'\n' => {
                        line += 1;
                        if open.is_none() {
                            at_line_start = true;
                            if !entry.tokens.is_empty() {
                                out.push(std::mem::replace(
                                    &mut entry,
                                    Entry { line, continues_owner: false, tokens: Vec::new() },
                                ));
                            }
                        }
                    }
                    _ => {}
                }
            }
            b'"' => {
                let t = token.get_or_insert(Token { text: Vec::new(), quoted: true });
                let start = line;
                i += 1;
                while i < text.len() && text[i] != b'"' {
                    if text[i] == b'\\' && i + 1 < text.len() {
                        t.text.push(text[i]);
                        i += 1;
                    }
                    if text[i] == b'\n' {
                        line += 1;
                    }
                    t.text.push(text[i]);
                    i += 1;
                }
                if i == text.len() {
                    return Err((start, "a quoted string that never ends".into()));
                }
            }
            b'\\' => {
                let t = token.get_or_insert(Token { text: Vec::new(), quoted: false });
                t.text.push(b);
                if let Some(&next) = text.get(i + 1) {
                    t.text.push(next);
                    i += 1;
                }
            }
            _ => token.get_or_insert(Token { text: Vec::new(), quoted: false }).text.push(b),
        }
        i += 1;
    }
    if let Some(opened) = open {
        return Err((opened, "a parenthesis opened here is never closed".into()));
    }
    entry.tokens.extend(token.take());
    if !entry.tokens.is_empty() {
        out.push(entry);
    }
    Ok(out)
}

/// A character-string's bytes: `\DDD` is a byte, `\X` is X.
pub fn unescape(text: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i] != b'\\' {
            out.push(text[i]);
            i += 1;
            continue;
        }
        let digits = text[i + 1..].iter().take(3).take_while(|b| b.is_ascii_digit()).count();
        match digits {
            3 => {
                let value = text[i + 1..i + 4].iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
                out.push(u8::try_from(value).map_err(|_| format!("\\{value} is not a byte"))?);
                i += 4;
            }
            0 if i + 1 < text.len() => {
                out.push(text[i + 1]);
                i += 2;
            }
            0 => return Err("a lone backslash at the end".into()),
            _ => return Err("\\ takes three digits (\\DDD) or one character".into()),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(zone: &str) -> Vec<(u32, bool, Vec<String>)> {
        let entries = entries(zone.as_bytes()).unwrap();
        entries
            .into_iter()
            .map(|e| {
                let tokens = e.tokens.iter().map(|t| String::from_utf8(t.text.clone()).unwrap()).collect();
                (e.line, e.continues_owner, tokens)
            })
            .collect()
    }

    #[test]
    fn entries_join_parentheses_and_drop_comments() {
        let zone = "; header\n$TTL 1h\n@ IN SOA ns1 host ( 1 ; serial\n  2 3\n 4 5 )\n\twww A 192.0.2.1 ; c\n\n";
        assert_eq!(
            texts(zone),
            [
                (2, false, vec!["$TTL".into(), "1h".into()]),
                (3, false, ["@", "IN", "SOA", "ns1", "host", "1", "2", "3", "4", "5"].map(String::from).to_vec()),
                (6, true, ["www", "A", "192.0.2.1"].map(String::from).to_vec()),
            ]
        );
    }

    #[test]
    fn quotes_and_escapes_stay_in_one_token() {
        let entries = entries(b"a TXT \"x ; y\" b\\ c \"q\\\"\" key=\"h2,h3\"").unwrap();
        let tokens = &entries[0].tokens;
        assert_eq!(tokens[2], Token { text: b"x ; y".to_vec(), quoted: true });
        assert_eq!(tokens[3], Token { text: b"b\\ c".to_vec(), quoted: false });
        assert_eq!(tokens[4], Token { text: b"q\\\"".to_vec(), quoted: true });
        assert_eq!(tokens[5].text, b"key=h2,h3");
        assert_eq!(unescape(b"q\\\"\\065\\\\").unwrap(), b"q\"A\\");
    }

    #[test]
    fn unbalanced_input_is_an_error_at_its_line() {
        assert_eq!(entries(b"a A (\n1\n").unwrap_err().0, 1);
        assert_eq!(entries(b"a A 1 )\n").unwrap_err().0, 1);
        assert_eq!(entries(b"a\nb TXT \"open\n\n").unwrap_err().0, 2);
        assert!(unescape(b"\\256").is_err());
    }
}
