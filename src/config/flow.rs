//! The fast path for big zones: records written a name per line, each name's records a YAML
//! flow mapping on that line (`  www: {A: [192.0.2.1], AAAA: "2001:db8::1"}`), as generators
//! and `switchyard import` write them. Such lines are read here, by a reader of that one shape,
//! into the same raw types the YAML library fills (through the same `Deserialize` code), at a
//! fraction of the library's cost (it scans 15 MB/s and locates every value twice).
//!
//! The reader takes a line only when it reads it exactly as the library would: anything else
//! (a plain scalar that may be a number, boolean or null, an escape, an anchor, a tag, a key
//! written twice) declines the line, and the library reads it with the rest of the file, in
//! which the lines read here are blanked, so every line and column stays where it was and
//! every error is the library's own. A records section that is not entirely such lines (block
//! style, a collection spanning lines) is left to the library whole.
//!
//! Read a line at a time, each entry can be converted into the model as soon as it is read,
//! so the raw form of a million names never exists at once.

use std::fmt;
use std::path::Path;

use serde::Deserialize;
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor,
};

use super::yaml::{self, Entries, Pos, Problem, SPANNED, Spanned};

/// A `records:` section written a name per line, read a line at a time.
pub(super) struct Lines<'a> {
    lines: Vec<&'a str>,
    /// The `records:` line and the lines of its entries (blank and comment lines among them).
    header: usize,
    body: std::ops::Range<usize>,
}

/// One entry of the section: the name as written and its records.
pub(super) type Entry<V> = (Spanned<String>, Spanned<V>);

/// Consecutive lines of the section: each entry in turn, in file order except that the lines
/// this reader leaves come last, read by the YAML library; after an error (the library's, for
/// such a line) nothing more.
pub(super) struct Part<'a, V> {
    lines: &'a Lines<'a>,
    file: &'a Path,
    next: usize,
    end: usize,
    /// The lines left to the library (indexes into `lines`).
    declined: Vec<usize>,
    left: Option<std::vec::IntoIter<Entry<V>>>,
}

impl<V: DeserializeOwned> Iterator for Part<'_, V> {
    type Item = Result<Entry<V>, Problem>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(left) = &mut self.left {
                return left.next().map(Ok);
            }
            if self.next < self.end {
                let n = self.next;
                self.next += 1;
                let line = self.lines.lines[n];
                if is_blank_or_comment(line) {
                    continue;
                }
                match read_entry(line, n as u32 + 1) {
                    Some(entry) => return Some(Ok(entry)),
                    None => self.declined.push(n),
                }
                continue;
            }
            if self.declined.is_empty() {
                return None;
            }
            // The section with only the lines left, each where it was.
            let (header, declined) = (self.lines.header, std::mem::take(&mut self.declined));
            let text = self.lines.text(|n| n == header || declined.binary_search(&n).is_ok(), None);
            match yaml::parse::<Section<V>>(self.file, &text) {
                Ok(section) => self.left = Some(section.records.0.into_iter()),
                Err(problem) => return Some(Err(problem)),
            }
        }
    }
}

impl<'a> Lines<'a> {
    /// The top-level `records:` section of `text` when it is written a name per line: every
    /// entry on one line at one indentation, nothing in it or before it left open.
    pub(super) fn find(text: &'a str) -> Option<Lines<'a>> {
        let lines: Vec<&str> = text.split('\n').collect();
        let header = lines.iter().position(|line| is_section_header(line))?;
        // A line before the section left open (a collection, a quoted scalar) would run into it.
        if !lines[..header].iter().all(|line| closes_on_its_line(line)) {
            return None;
        }
        let start = header + 1;
        let end = start
            + lines[start..]
                .iter()
                .position(|line| !is_blank_or_comment(line) && !line.starts_with(' '))
                .unwrap_or(lines.len() - start);
        let indent = lines[start..end].iter().find(|line| !is_blank_or_comment(line)).map(|line| indentation(line))?;
        let entries_only = lines[start..end]
            .iter()
            .all(|line| is_blank_or_comment(line) || (indentation(line) == indent && closes_on_its_line(line)));
        entries_only.then_some(Lines { lines, header, body: start..end })
    }

    /// The file with the section emptied (`records: {}`), lines and columns where they were:
    /// what the YAML library reads first.
    pub(super) fn outside(&self) -> String {
        self.text(|n| !self.body.contains(&n), Some("{}"))
    }

    /// The section's entries in parts of consecutive lines, one per core but none under
    /// `min_lines`, to be read side by side (`file` names the lines in the library's errors).
    pub(super) fn parts<V>(&'a self, file: &'a Path, min_lines: usize) -> Vec<Part<'a, V>> {
        let size = crate::cores::part_len(self.body.len(), min_lines);
        let starts = self.body.clone().step_by(size);
        let part = |start: usize| Part {
            lines: self,
            file,
            next: start,
            end: (start + size).min(self.body.end),
            declined: Vec::new(),
            left: None,
        };
        starts.map(part).collect()
    }

    /// The lines `keep` keeps, the others empty; `header_value` after `records:`.
    fn text(&self, keep: impl Fn(usize) -> bool, header_value: Option<&str>) -> String {
        let mut text = String::new();
        for (n, line) in self.lines.iter().enumerate() {
            if n > 0 {
                text.push('\n');
            }
            match header_value {
                Some(value) if n == self.header => {
                    text.push_str(&format!("records: {value}{}", &line[SECTION.len() + 1..]))
                }
                _ if keep(n) => text.push_str(line),
                _ => {}
            }
        }
        text
    }
}

const SECTION: &str = "records";

/// The lines of the section the reader left, as the library reads them.
#[derive(serde::Deserialize)]
struct Section<V> {
    records: Entries<Spanned<V>>,
}

/// `records:` at the start of a line, nothing after it but spaces and a comment.
fn is_section_header(line: &str) -> bool {
    line.strip_prefix(SECTION).and_then(|rest| rest.strip_prefix(':')).is_some_and(is_blank_or_comment)
}

fn is_blank_or_comment(line: &str) -> bool {
    let line = line.trim_start_matches(' ');
    line.is_empty() || line.starts_with('#') || line == "\r"
}

fn indentation(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// Whether every collection and quoted scalar opened on `line` closes on it: a line that
/// ends inside one would continue on the next, which the line-by-line reading must not cut.
/// Errs on the side of "no" (an apostrophe in a plain scalar says no).
fn closes_on_its_line(line: &str) -> bool {
    let bytes = line.as_bytes();
    let (mut depth, mut at) = (0i32, 0);
    while at < bytes.len() {
        match bytes[at] {
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            b'"' => {
                at += 1;
                while at < bytes.len() && bytes[at] != b'"' {
                    at += if bytes[at] == b'\\' { 2 } else { 1 };
                }
                if at >= bytes.len() {
                    return false;
                }
            }
            b'\'' => match (at + 1..bytes.len()).find(|&i| bytes[i] == b'\'') {
                Some(close) => at = close,
                None => return false,
            },
            b'#' if at == 0 || bytes[at - 1] == b' ' => break,
            b'|' | b'>' | b'\t' => return false,
            _ => {}
        }
        at += 1;
    }
    depth == 0
}

/// One `key: {…}` line (1-based `line`), or `None` when the library must read it.
fn read_entry<V: DeserializeOwned>(line: &str, line_no: u32) -> Option<(Spanned<String>, Spanned<V>)> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    if !line.is_ascii() {
        return None;
    }
    let mut reader = Reader { line: line.as_bytes(), at: indentation(line), line_no };
    let key = Spanned::<String>::deserialize(&mut reader).ok()?;
    reader.expect_colon().ok()?;
    if reader.peek() != Some(b'{') {
        return None;
    }
    let value = Spanned::<V>::deserialize(&mut reader).ok()?;
    reader.skip_spaces();
    match reader.peek() {
        None => Some((key, value)),
        Some(b'#') if reader.line[reader.at - 1] == b' ' => Some((key, value)),
        Some(_) => None,
    }
}

/// A cursor in one ASCII line.
struct Reader<'a> {
    line: &'a [u8],
    at: usize,
    line_no: u32,
}

/// Why a line was not read here; never shown (the library reads the line instead).
#[derive(Debug)]
struct Decline;

impl fmt::Display for Decline {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("left to the YAML library")
    }
}

impl std::error::Error for Decline {}

impl de::Error for Decline {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Decline
    }
}

/// A scalar as written: plain (its type follows from its text) or quoted (always a string).
enum Scalar {
    Plain(String),
    Quoted(String),
}

/// What the library makes of a plain scalar, where this reader is sure of it.
enum Plain {
    Text,
    Unsigned(u64),
    Signed(i64),
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.line.get(self.at).copied()
    }

    fn skip_spaces(&mut self) {
        while self.peek() == Some(b' ') {
            self.at += 1;
        }
    }

    fn pos(&self) -> Pos {
        Pos { line: self.line_no, column: self.at as u32 + 1 }
    }

    /// `:` then at least one space (the only way a plain key ends).
    fn expect_colon(&mut self) -> Result<(), Decline> {
        if self.line.get(self.at..self.at + 2) != Some(b": ") {
            return Err(Decline);
        }
        self.at += 2;
        self.skip_spaces();
        Ok(())
    }

    fn scalar(&mut self) -> Result<Scalar, Decline> {
        match self.peek().ok_or(Decline)? {
            b'"' => self.quoted(b'"').map(Scalar::Quoted),
            b'\'' => self.quoted(b'\'').map(Scalar::Quoted),
            first if b"-?:,[]{}#&*!|>%@`".contains(&first) => Err(Decline),
            _ => {
                let start = self.at;
                while let Some(b) = self.peek() {
                    let ends = match b {
                        b',' | b'[' | b']' | b'{' | b'}' => true,
                        b':' => {
                            matches!(self.line.get(self.at + 1), None | Some(b' ' | b',' | b'[' | b']' | b'{' | b'}'))
                        }
                        b'#' => self.line[self.at - 1] == b' ',
                        _ => false,
                    };
                    if ends {
                        break;
                    }
                    self.at += 1;
                }
                let text = std::str::from_utf8(&self.line[start..self.at]).map_err(|_| Decline)?;
                Ok(Scalar::Plain(text.trim_end_matches(' ').to_string()))
            }
        }
    }

    /// A quoted scalar without escapes other than a doubled `'` (single) or `\"` and `\\`
    /// (double); anything else is left to the library.
    fn quoted(&mut self, quote: u8) -> Result<String, Decline> {
        self.at += 1;
        let mut text = Vec::new();
        loop {
            let b = self.peek().ok_or(Decline)?;
            self.at += 1;
            match b {
                b'\'' if quote == b'\'' && self.peek() == Some(b'\'') => {
                    self.at += 1;
                    text.push(b'\'');
                }
                b if b == quote => break,
                b'\\' if quote == b'"' => match self.peek() {
                    Some(escaped @ (b'"' | b'\\')) => {
                        self.at += 1;
                        text.push(escaped);
                    }
                    _ => return Err(Decline),
                },
                b => text.push(b),
            }
        }
        String::from_utf8(text).map_err(|_| Decline)
    }

    /// A scalar that must be a string: quoted, or plain text that cannot be read as anything else.
    fn text(&mut self) -> Result<String, Decline> {
        match self.scalar()? {
            Scalar::Quoted(text) => Ok(text),
            Scalar::Plain(text) if matches!(plain(&text), Some(Plain::Text)) => Ok(text),
            Scalar::Plain(_) => Err(Decline),
        }
    }

    /// A plain whole number.
    fn number(&mut self) -> Result<Plain, Decline> {
        match self.scalar()? {
            Scalar::Plain(text) => match plain(&text) {
                Some(number @ (Plain::Unsigned(_) | Plain::Signed(_))) => Ok(number),
                _ => Err(Decline),
            },
            Scalar::Quoted(_) => Err(Decline),
        }
    }
}

/// How the library types a plain scalar: text, a whole number, or (`None`) something this
/// reader leaves to it (null, booleans in YAML 1.1 and 1.2 spellings, floats, numbers in other
/// bases or with underscores or leading zeros, sexagesimal, infinities).
fn plain(text: &str) -> Option<Plain> {
    let lower = text.to_ascii_lowercase();
    if matches!(lower.as_str(), "" | "~" | "null" | "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n") {
        return None;
    }
    let unsigned = lower.strip_prefix(['+', '-']).unwrap_or(&lower);
    if unsigned.starts_with("0x") || unsigned.starts_with("0o") || unsigned.starts_with("0b") {
        return None;
    }
    if matches!(unsigned.trim_start_matches('.'), "inf" | "infinity" | "nan") {
        return None;
    }
    let numeric = |b: u8| b.is_ascii_digit() || b"+-._:e".contains(&b);
    if !lower.bytes().all(numeric) {
        return Some(Plain::Text);
    }
    if text == "0"
        || (text.as_bytes()[0].is_ascii_digit()
            && text.as_bytes()[0] != b'0'
            && text.bytes().all(|b| b.is_ascii_digit()))
    {
        return text.parse().ok().map(Plain::Unsigned);
    }
    if let Some(digits) = text.strip_prefix('-')
        && digits.as_bytes().first().is_some_and(|b| (b'1'..=b'9').contains(b))
        && digits.bytes().all(|b| b.is_ascii_digit())
    {
        return text.parse().ok().map(Plain::Signed);
    }
    if text.contains(['_', ':']) || text.parse::<f64>().is_ok() || text.starts_with(['+', '-', '.']) {
        return None;
    }
    Some(Plain::Text)
}

impl<'de> Deserializer<'de> for &mut Reader<'_> {
    type Error = Decline;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Decline> {
        match self.peek().ok_or(Decline)? {
            b'{' => self.deserialize_map(visitor),
            b'[' => self.deserialize_seq(visitor),
            _ => match self.scalar()? {
                Scalar::Quoted(text) => visitor.visit_string(text),
                Scalar::Plain(text) => match plain(&text).ok_or(Decline)? {
                    Plain::Text => visitor.visit_string(text),
                    Plain::Unsigned(n) => visitor.visit_u64(n),
                    Plain::Signed(n) => visitor.visit_i64(n),
                },
            },
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Decline> {
        visitor.visit_string(self.text()?)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Decline> {
        visitor.visit_string(self.text()?)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Decline> {
        visitor.visit_string(self.text()?)
    }

    fn deserialize_u8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Decline> {
        self.deserialize_u64(visitor)
    }

    fn deserialize_u16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Decline> {
        self.deserialize_u64(visitor)
    }

    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Decline> {
        self.deserialize_u64(visitor)
    }

    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Decline> {
        match self.number()? {
            Plain::Unsigned(n) => visitor.visit_u64(n),
            _ => Err(Decline),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Decline> {
        // A null is left to the library: only values present are read here.
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, name: &'static str, visitor: V) -> Result<V::Value, Decline> {
        if name == SPANNED {
            let pos = self.pos();
            visitor.visit_newtype_struct(Located { reader: self, pos })
        } else {
            visitor.visit_newtype_struct(self)
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Decline> {
        let mut items = self.enter(b'[')?;
        let value = visitor.visit_seq(&mut items)?;
        items.finished(value)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Decline> {
        let mut entries = self.enter(b'{')?;
        let value = visitor.visit_map(&mut entries)?;
        entries.finished(value)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Decline> {
        self.deserialize_map(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Decline> {
        Err(Decline)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u128 f32 f64 char bytes byte_buf unit unit_struct tuple
        tuple_struct enum
    }
}

impl<'a> Reader<'a> {
    /// The collection that `open` (`{` or `[`) starts at the cursor.
    fn enter(&mut self, open: u8) -> Result<Collection<'_, 'a>, Decline> {
        if self.peek() != Some(open) {
            return Err(Decline);
        }
        self.at += 1;
        let close = if open == b'{' { b'}' } else { b']' };
        Ok(Collection { reader: self, close, first: true, done: false, keys: Vec::new() })
    }
}

impl Collection<'_, '_> {
    /// Whether another entry or item follows (its `,` read), or the collection is closed.
    fn more(&mut self) -> Result<bool, Decline> {
        if self.done {
            return Ok(false);
        }
        let reader = &mut *self.reader;
        reader.skip_spaces();
        if reader.peek() == Some(self.close) {
            reader.at += 1;
            self.done = true;
            return Ok(false);
        }
        if !self.first {
            if reader.peek() != Some(b',') {
                return Err(Decline);
            }
            reader.at += 1;
            reader.skip_spaces();
            if matches!(reader.peek(), Some(b',' | b']' | b'}') | None) {
                return Err(Decline);
            }
        }
        self.first = false;
        Ok(true)
    }

    /// `value`, when the visitor read the collection to its end.
    fn finished<T>(&self, value: T) -> Result<T, Decline> {
        if self.done { Ok(value) } else { Err(Decline) }
    }
}

/// The entries of a `{…}` or the items of a `[…]` being read.
struct Collection<'r, 'a> {
    reader: &'r mut Reader<'a>,
    /// `}` or `]`.
    close: u8,
    first: bool,
    done: bool,
    /// The keys read so far: one written twice is the library's error to report.
    keys: Vec<String>,
}

impl<'de> SeqAccess<'de> for &mut Collection<'_, '_> {
    type Error = Decline;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, Decline> {
        if !self.more()? {
            return Ok(None);
        }
        seed.deserialize(&mut *self.reader).map(Some)
    }
}

impl<'de> MapAccess<'de> for &mut Collection<'_, '_> {
    type Error = Decline;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Decline> {
        if !self.more()? {
            return Ok(None);
        }
        let start = self.reader.at;
        let key = self.reader.text()?;
        if self.keys.contains(&key) {
            return Err(Decline);
        }
        self.keys.push(key);
        self.reader.at = start;
        let key = seed.deserialize(&mut *self.reader)?;
        self.reader.expect_colon()?;
        Ok(Some(key))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Decline> {
        seed.deserialize(&mut *self.reader)
    }
}

/// A value asked for with its location: the map the YAML library gives for it.
struct Located<'r, 'a> {
    reader: &'r mut Reader<'a>,
    pos: Pos,
}

impl<'de> Deserializer<'de> for Located<'_, '_> {
    type Error = Decline;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Decline> {
        visitor.visit_map(LocatedEntries { located: self, next: 0 })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

/// `value`, then `referenced` as a location map (`line`, `column`).
struct LocatedEntries<'r, 'a> {
    located: Located<'r, 'a>,
    next: u8,
}

impl<'de> MapAccess<'de> for LocatedEntries<'_, '_> {
    type Error = Decline;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Decline> {
        let key = match self.next {
            0 => "value",
            1 => "referenced",
            _ => return Ok(None),
        };
        self.next += 1;
        seed.deserialize(key.into_deserializer()).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Decline> {
        if self.next == 1 {
            return seed.deserialize(&mut *self.located.reader);
        }
        let Pos { line, column } = self.located.pos;
        let location = [("line", line), ("column", column)];
        seed.deserialize(de::value::MapDeserializer::new(location.into_iter()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::zone::NodeEntry;

    /// Record lines read by the fast path (`flow`) and by the YAML library give the same raw
    /// records, positions included, and the same errors; lines the fast path is not sure of are
    /// left to the library. Each case: the line, whether the fast path reads it.
    #[test]
    fn records_read_line_by_line_are_read_as_the_yaml_library_reads_them() {
        #[derive(Debug, serde::Deserialize)]
        struct Doc {
            #[serde(default)]
            records: yaml::Entries<yaml::Spanned<NodeEntry>>,
        }
        let cases: &[(&str, bool)] = &[
            ("h0: {A: [192.0.2.1], AAAA: [\"2001:db8::0:0\"]}", true),
            ("h1: {A: 192.0.2.1, AAAA: 2001:db8::1, ttl: 60}", true),
            ("\"@\": {NS: [ns1, ns2.example.net.], MX: [{preference: 10, exchange: mx}]}", true),
            ("'*.wild': {TXT: ['it''s', \"say \\\"hi\\\" \\\\o/\", hello world], CNAME: x}", true),
            ("_sip._tcp: {SRV: [{priority: 1, weight: 5, port: 5060, target: sip}]}   # a comment", true),
            ("caa: {CAA: [{flags: 0, tag: issue, value: letsencrypt.org}], ttls: {CAA: 30}}", true),
            ("4.3.2: {PTR: host.example.}", true),
            ("v6: {AAAA: [\"2001:db8::1\", 2001:db8::2]}", true),
            ("a#b: {TXT: a#b}", true),
            ("svc: {HTTPS: [{priority: 1, target: svc, params: {alpn: [h2, h3], port: 443}}]}", true),
            ("gen: {TYPE65400: '\\# 4 0a000001', SPF: \"v=spf1 -all\"}", true),
            ("d: {dynamic: {failover: [primary, dr]}}", true),
            ("d2: {dynamic: {pool: primary, answers: 2}}", true),
            ("t: {TXT: [\"a: b\", 'x, y', 1.2.3, e, x.1e5], ttl: 3600}", true),
            ("t2: {TXT: 10}", true),
            ("\"q:k\": {A: 192.0.2.1}  #c", true),
            // Left to the library: typed scalars, escapes, anchors, nulls, floats, duplicates.
            ("n1: {TXT: [yes, 'a']}", false),
            ("n2: {TXT: [1.5]}", false),
            ("n3: {TXT: [0x1f]}", false),
            ("n4: {TXT: null}", false),
            ("n5: {TXT: \"tab\\there\"}", false),
            ("n6: {A: &x 192.0.2.1}", false),
            ("n7: {A: 1.2.3.4, A: 1.2.3.5}", false),
            ("n8: {ttl: 010}", false),
            ("10: {A: 192.0.2.1}", false),
            ("n9: {ttl: \"60\"}", false),
            ("n10: {dynamic: {pool: primary, select: all}}", false),
            ("n11: {A: [192.0.2.1, ]}", false),
            ("n12: {A: 192.0.2.1}#c", false),
            ("n13: {TXT: a: b}", false),
            ("n15: {TXT: [10, -5]}", false),
            ("n14: {TXT: [.5, +1, -0, 1_000, 1:30, .inf]}", false),
            // Mistakes: the same errors either way.
            ("e1: {B: x}", false),
            ("e2: {ttl: -1}", false),
            ("e3: {MX: [{preference: 10}]}", false),
            ("e4: {A: [192.0.2.1]", false),
            ("e5: {A: 300.1.2.3}", true),
        ];
        let mut wrong = Vec::new();
        for (line, fast) in cases {
            let text = format!("# a zone\nrecords:\n  ok: {{A: 192.0.2.9}}\n  {line}\n\n  last: {{A: 192.0.2.8}}\n");
            let library = yaml::parse::<Doc>(std::path::Path::new("z.yaml"), &text);
            let read_here = read_entry::<NodeEntry>(&format!("  {line}"), 4).is_some();
            // None: the section is not all flow lines, and the library reads the whole file.
            let lines = match Lines::find(&text) {
                None => yaml::parse::<Doc>(std::path::Path::new("z.yaml"), &text),
                Some(lines) => {
                    yaml::parse::<Doc>(std::path::Path::new("z.yaml"), &lines.outside()).and_then(|doc| {
                        assert!(doc.records.0.is_empty());
                        // In two parts, as on two cores: each part's lines left come after it.
                        let parts = lines.parts(std::path::Path::new("z.yaml"), 2);
                        let mut entries = parts.into_iter().flatten().collect::<Result<Vec<_>, _>>()?;
                        entries.sort_by_key(|(key, _)| key.pos);
                        Ok(Doc { records: yaml::Entries(entries) })
                    })
                }
            };
            if format!("{library:?}") != format!("{lines:?}") || read_here != *fast {
                wrong.push(format!("{line}\n  fast path: {read_here}\n  library: {library:?}\n  lines:   {lines:?}"));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }
}
