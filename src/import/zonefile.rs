//! An RFC 1035 zone file read into records: `$ORIGIN`, `$TTL`, `$INCLUDE` (relative to the
//! including file), `$GENERATE` (BIND's form), owners carried over from the previous line,
//! TTL and class in either order or left out. Every error carries the file and line.

use std::path::Path;
use std::sync::Arc;

use super::lexer::{self, Token};
use super::rdata::{self, Data};
use crate::model::{self, Name};

/// Where a record was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    pub file: Arc<Path>,
    pub line: u32,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// A problem with a zone file, printed `FILE:LINE: reason`.
#[derive(Debug, PartialEq, Eq)]
pub struct Problem {
    pub at: Source,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.at, self.message)
    }
}

#[derive(Clone, Debug)]
pub struct Record {
    pub owner: Name,
    /// `None`: no TTL written and none to inherit yet (an SOA before any `$TTL`).
    pub ttl: Option<u32>,
    pub code: u16,
    pub data: Data,
    pub at: Source,
}

/// `$INCLUDE`s nest at most this deep (a file that includes itself stops here).
const MAX_INCLUDE_DEPTH: usize = 16;
/// The most records one `$GENERATE` makes.
const MAX_GENERATED: u64 = 1_000_000;

/// What the reader carries from line to line.
struct State {
    origin: Option<Name>,
    default_ttl: Option<u32>,
    last_ttl: Option<u32>,
    last_owner: Option<Name>,
}

/// Reads `file` (and what it includes); `origin` is the starting `$ORIGIN`, if given.
pub fn read(file: &Path, origin: Option<Name>) -> Result<Vec<Record>, Vec<Problem>> {
    let mut reader = Reader { records: Vec::new(), problems: Vec::new() };
    let mut state = State { origin, default_ttl: None, last_ttl: None, last_owner: None };
    reader.file(file, &mut state, 0, None);
    match reader.problems.is_empty() {
        true => Ok(reader.records),
        false => Err(reader.problems),
    }
}

struct Reader {
    records: Vec<Record>,
    problems: Vec<Problem>,
}

impl Reader {
    fn problem(&mut self, at: Source, message: impl Into<String>) {
        self.problems.push(Problem { at, message: message.into() });
    }

    fn file(&mut self, path: &Path, state: &mut State, depth: usize, included_at: Option<Source>) {
        let file: Arc<Path> = path.into();
        let text = match std::fs::read(path) {
            Ok(text) => text,
            Err(e) => {
                let at = included_at.unwrap_or(Source { file, line: 0 });
                return self.problem(at, format!("cannot read {}: {e}", path.display()));
            }
        };
        let entries = match lexer::entries(&text) {
            Ok(entries) => entries,
            Err((line, message)) => return self.problem(Source { file, line }, message),
        };
        for entry in entries {
            let at = Source { file: file.clone(), line: entry.line };
            if let Err(message) = self.entry(&entry, state, depth, &at) {
                self.problem(at, message);
            }
        }
    }

    fn entry(&mut self, entry: &lexer::Entry, state: &mut State, depth: usize, at: &Source) -> Result<(), String> {
        let tokens = &entry.tokens;
        let first = tokens[0].str()?;
        if entry.continues_owner || !first.starts_with('$') {
            return self.record(tokens, entry.continues_owner, state, at);
        }
        let args = &tokens[1..];
        let arg = |i: usize, what: &str| -> Result<&str, String> {
            args.get(i).ok_or_else(|| format!("{first} needs {what}"))?.str()
        };
        match first.to_ascii_uppercase().as_str() {
            "$ORIGIN" => {
                let origin = absolute(arg(0, "a domain name")?, state.origin.as_ref())?;
                state.origin = Some(origin);
            }
            "$TTL" => {
                let text = arg(0, "a TTL")?;
                state.default_ttl = Some(rdata::ttl(text).ok_or_else(|| format!("invalid TTL {text:?}"))?);
            }
            "$INCLUDE" => {
                if depth >= MAX_INCLUDE_DEPTH {
                    return Err(format!(
                        "$INCLUDE nested more than {MAX_INCLUDE_DEPTH} deep (does a file include itself?)"
                    ));
                }
                let relative = Path::new(arg(0, "a file name")?);
                let path = at.file.parent().unwrap_or(Path::new("")).join(relative);
                // The included file starts at its own origin, if given; afterwards the origin
                // and the current owner are what they were (RFC 1035 section 5.1).
                let (origin, owner) = (state.origin.clone(), state.last_owner.clone());
                if args.len() > 1 {
                    state.origin = Some(absolute(arg(1, "an origin")?, state.origin.as_ref())?);
                }
                self.file(&path, state, depth + 1, Some(at.clone()));
                (state.origin, state.last_owner) = (origin, owner);
            }
            "$GENERATE" => self.generate(args, state, at)?,
            _ => return Err(format!("unknown directive {first}")),
        }
        Ok(())
    }

    /// `owner [TTL] [class] type data`, TTL and class in either order.
    fn record(&mut self, tokens: &[Token], continues: bool, state: &mut State, at: &Source) -> Result<(), String> {
        let mut rest = tokens;
        let owner = match continues {
            true => state.last_owner.clone().ok_or("no owner: the first record starts with blank space")?,
            false => {
                let owner = absolute(rest[0].str()?, state.origin.as_ref())?;
                rest = &rest[1..];
                owner
            }
        };
        let mut ttl = None;
        let code = loop {
            let token = rest.first().ok_or("missing the record type")?.str()?;
            rest = &rest[1..];
            let upper = token.to_ascii_uppercase();
            if token.starts_with(|c: char| c.is_ascii_digit()) && ttl.is_none() {
                ttl = Some(rdata::ttl(token).ok_or_else(|| format!("invalid TTL {token:?}"))?);
            } else if upper == "IN" || upper == "CLASS1" {
                continue;
            } else if matches!(upper.as_str(), "CH" | "HS" | "CS" | "NONE" | "ANY") || upper.starts_with("CLASS") {
                return Err(format!("class {token}: only IN zones are served"));
            } else {
                if upper == "DYNA" || upper == "DYNC" {
                    return Err(format!(
                        "gdnsd's {upper} has no zone-file equivalent: write a `dynamic` record with pools in the YAML \
                         (README: Migrating from gdnsd)"
                    ));
                }
                break model::type_code(token).ok_or_else(|| format!("unknown record type {token:?}"))?;
            }
        };
        // With neither `$ORIGIN` nor --origin, an SOA written with an absolute owner gives the
        // origin (as a file printed by `dig` is).
        if state.origin.is_none() && code == 6 {
            state.origin = Some(owner.clone());
        }
        let origin = state.origin.as_ref().ok_or("a relative name with no origin: add $ORIGIN or --origin")?;
        let data = rdata::read(code, rest, origin)?;
        if let Some(t) = ttl {
            state.last_ttl = Some(t);
        }
        let ttl = ttl.or(state.default_ttl).or(state.last_ttl);
        state.last_owner = Some(owner.clone());
        self.records.push(Record { owner, ttl, code, data, at: at.clone() });
        Ok(())
    }

    /// `$GENERATE start-stop[/step] lhs [ttl] [class] type rhs`: one record per number, `$`
    /// in lhs and rhs replaced by it (`${offset,width,base}` to shape it, `\$` for a `$`).
    fn generate(&mut self, args: &[Token], state: &mut State, at: &Source) -> Result<(), String> {
        let usage = "$GENERATE start-stop[/step] lhs [ttl] [class] type rhs";
        if args.len() < 4 {
            return Err(format!("too few fields: {usage}"));
        }
        let range = args[0].str()?;
        let (span, step) = range.split_once('/').unwrap_or((range, "1"));
        let bounds = span.split_once('-').and_then(|(a, b)| Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok()?)));
        let step: u64 = step.parse().ok().filter(|&s| s > 0).ok_or_else(|| format!("invalid step in {range:?}"))?;
        let (start, stop) =
            bounds.filter(|(a, b)| a <= b).ok_or_else(|| format!("invalid range {range:?}: {usage}"))?;
        if (stop - start) / step >= MAX_GENERATED {
            return Err(format!("{range} makes more than {MAX_GENERATED} records"));
        }
        for n in (start..=stop).step_by(usize::try_from(step).unwrap_or(usize::MAX)) {
            let mut tokens = Vec::with_capacity(args.len() - 1);
            for (i, token) in args[1..].iter().enumerate() {
                // lhs and the data take the number; TTL, class and type are as written.
                let templated = i == 0 || i == args.len() - 2;
                tokens.push(match templated {
                    true => Token { text: substitute(&token.text, n)?.into_bytes(), quoted: token.quoted },
                    false => token.clone(),
                });
            }
            self.record(&tokens, false, state, at)?;
        }
        Ok(())
    }
}

/// A `$GENERATE` template with `n` put in: `$`, `${offset[,width[,base]]}` (base d, o, x, X,
/// n or N for nibbles), `\$` for a dollar sign.
fn substitute(template: &[u8], n: u64) -> Result<String, String> {
    let template = std::str::from_utf8(template).map_err(|_| "a $GENERATE template that is not UTF-8".to_string())?;
    let mut out = String::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'$') => out.push(chars.next().unwrap_or('$')),
            '$' if chars.peek() == Some(&'{') => {
                chars.next();
                let spec: String = chars.by_ref().take_while(|&c| c != '}').collect();
                let mut parts = spec.split(',');
                let offset: i64 =
                    parts.next().unwrap_or("0").trim().parse().map_err(|_| format!("invalid ${{{spec}}}"))?;
                let width: usize =
                    parts.next().map_or(Ok(0), |w| w.trim().parse()).map_err(|_| format!("invalid ${{{spec}}}"))?;
                let base = parts.next().unwrap_or("d").trim();
                let value = i64::try_from(n).ok().and_then(|n| n.checked_add(offset)).filter(|v| *v >= 0);
                let value = value.ok_or_else(|| format!("${{{spec}}} makes a negative number"))?.unsigned_abs();
                out.push_str(&match base {
                    "d" => format!("{value:0width$}"),
                    "o" => format!("{value:0width$o}"),
                    "x" => format!("{value:0width$x}"),
                    "X" => format!("{value:0width$X}"),
                    "n" | "N" => nibbles(value, width, base == "N"),
                    _ => return Err(format!("unknown base {base:?} in ${{{spec}}} (d, o, x, X, n or N)")),
                });
            }
            '$' => out.push_str(&n.to_string()),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// BIND's nibble form: hex digits in reverse order, dot-separated (`1.0.0` for 0x001),
/// `width` counting the characters written.
fn nibbles(value: u64, width: usize, upper: bool) -> String {
    let hex = if upper { format!("{value:X}") } else { format!("{value:x}") };
    let digits = hex.len().max(width.div_ceil(2));
    let padded = format!("{hex:0>digits$}");
    let reversed: Vec<String> = padded.chars().rev().map(String::from).collect();
    reversed.join(".")
}

/// A name that must end up absolute: `@`, absolute, or relative to `origin`.
fn absolute(text: &str, origin: Option<&Name>) -> Result<Name, String> {
    match origin {
        Some(origin) => rdata::name(text, origin),
        None if text.ends_with('.') => rdata::name(text, &Name::root()),
        None => Err(format!("{text:?} is relative and there is no origin yet: add $ORIGIN or --origin")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_templates_follow_bind() {
        assert_eq!(substitute(b"host-$", 7).unwrap(), "host-7");
        assert_eq!(substitute(b"${10,3}", 7).unwrap(), "017");
        assert_eq!(substitute(b"${0,4,x}.${-7}", 255).unwrap(), "00ff.248");
        assert_eq!(substitute(b"${0,3,n}", 0xab).unwrap(), "b.a");
        assert_eq!(substitute(b"${0,6,n}", 0xab).unwrap(), "b.a.0");
        assert_eq!(substitute(b"\\$$", 3).unwrap(), "$3");
        assert!(substitute(b"${-9}", 3).is_err());
    }
}
