//! The one place that knows the YAML library. Everything else sees [`Spanned`] values,
//! [`Entries`] (ordered maps with located keys) and [`Problem`]s carrying file, line and
//! column.

use std::fmt;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};

/// A line and column in a source file (1-based; 0 when unknown).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
}

impl Pos {
    pub fn of<T>(value: &Spanned<T>) -> Pos {
        value.pos
    }

    /// This position, or `fallback` when the YAML library could not locate the value.
    pub fn or(self, fallback: Pos) -> Pos {
        if self.line == 0 { fallback } else { self }
    }
}

/// A value and where it is written. (The library's own `Spanned` keeps two full locations,
/// 80 bytes beside every value: a million-name zone holds millions of them.)
#[derive(Debug)]
pub struct Spanned<T> {
    pub value: T,
    pub pos: Pos,
}

/// The newtype name under which serde-saphyr hands a value over together with its location,
/// as a map of `value`, `referenced` (where it is used) and `defined` (where an anchor is).
/// [`super::flow`] answers to it the same way.
pub(super) const SPANNED: &str = "__yaml_spanned";

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Spanned<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Wrapper<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for Wrapper<T> {
            type Value = Spanned<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a located value")
            }
            fn visit_newtype_struct<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
                deserializer.deserialize_any(Located(PhantomData))
            }
        }
        struct Located<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for Located<T> {
            type Value = Spanned<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a located value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let (mut value, mut referenced, mut defined) = (None, None, None);
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "value" => value = Some(map.next_value()?),
                        "referenced" => referenced = Some(map.next_value::<serde_saphyr::Location>()?),
                        "defined" => defined = Some(map.next_value::<serde_saphyr::Location>()?),
                        _ => drop(map.next_value::<de::IgnoredAny>()?),
                    }
                }
                let value = value.ok_or_else(|| de::Error::missing_field("value"))?;
                let pos = |loc: Option<serde_saphyr::Location>| {
                    loc.map(|loc| Pos { line: loc.line() as u32, column: loc.column() as u32 }).unwrap_or_default()
                };
                Ok(Spanned { value, pos: pos(referenced).or(pos(defined)) })
            }
        }
        deserializer.deserialize_newtype_struct(SPANNED, Wrapper(PhantomData))
    }
}

/// One thing wrong with one input file, printed as `FILE:LINE:COLUMN: reason`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    pub pos: Pos,
    pub message: String,
}

impl Problem {
    pub fn new(file: &Path, pos: Pos, message: impl Into<String>) -> Problem {
        Problem { file: file.to_path_buf(), pos, message: message.into() }
    }
}

impl std::error::Error for Problem {}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file.display(), self.pos.line, self.pos.column, self.message)
    }
}

/// Parses `text` (the contents of `file`) into `T`; duplicate keys and unknown fields are errors.
/// The parser's resource budget is raised from its defaults (250,000 nodes) to fit a zone of
/// a million names; alias, anchor and depth limits stay as they are against "billion laughs".
pub fn parse<T: DeserializeOwned>(file: &Path, text: &str) -> Result<T, Problem> {
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! { max_nodes: 20_000_000, max_events: 50_000_000 },
    };
    serde_saphyr::from_str_with_options(text, options).map_err(|err| {
        let pos =
            err.location().map(|loc| Pos { line: loc.line() as u32, column: loc.column() as u32 }).unwrap_or_default();
        Problem::new(file, pos, plain_message(&err.without_snippet().to_string(), pos))
    })
}

/// The library's message without its own position suffix and tuning hints.
fn plain_message(message: &str, pos: Pos) -> String {
    let suffix = format!(" at line {}, column {}", pos.line, pos.column);
    let message = message.strip_suffix(&suffix).unwrap_or(message);
    message.replace(", set DuplicateKeyPolicy in Options if acceptable", "")
}

/// An ordered mapping whose keys keep their source positions (serde maps lose them).
#[derive(Debug)]
pub struct Entries<V>(pub Vec<(Spanned<String>, V)>);

impl<V> Default for Entries<V> {
    fn default() -> Self {
        Entries(Vec::new())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Entries<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for EntriesVisitor<V> {
            type Value = Entries<V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }
        deserializer.deserialize_map(EntriesVisitor(PhantomData))
    }
}

/// A YAML value that may be written as one item or as a list of items. Items written in a
/// list keep their own positions; a lone item takes the position of the whole value (see
/// [`items`]).
#[derive(Debug)]
pub struct OneOrMany<T>(pub Vec<Spanned<T>>);

/// An optional one-or-many field, located as a whole. Boxed: a node has a field for every
/// record type and uses one or two, so an absent one costs a pointer, not a located vector
/// (1,800 bytes a node otherwise: 1.8 GB of a million-name zone before it is converted).
pub type Many<T> = Option<Box<Spanned<OneOrMany<T>>>>;

/// The items of a one-or-many field with their positions.
pub fn items<T>(field: &Many<T>) -> impl Iterator<Item = (&T, Pos)> {
    field.iter().flat_map(|whole| {
        let fallback = Pos::of(whole);
        whole.value.0.iter().map(move |item| (&item.value, Pos::of(item).or(fallback)))
    })
}

fn unlocated<T>(value: T) -> Spanned<T> {
    Spanned { value, pos: Pos::default() }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OneOrManyVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for OneOrManyVisitor<T> {
            type Value = OneOrMany<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a value or a list of values")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(OneOrMany(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let value = T::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(OneOrMany(vec![unlocated(value)]))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(OneOrMany(vec![unlocated(T::deserialize(de::value::StrDeserializer::new(v))?)]))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(OneOrMany(vec![unlocated(T::deserialize(de::value::U64Deserializer::new(v))?)]))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(OneOrMany(vec![unlocated(T::deserialize(de::value::I64Deserializer::new(v))?)]))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                self.visit_str(if v { "true" } else { "false" })
            }
        }
        deserializer.deserialize_any(OneOrManyVisitor(PhantomData))
    }
}

/// A duration written as `500ms`, `1s`, `2h` (or a bare number of seconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Duration(pub std::time::Duration);

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DurationVisitor;
        impl Visitor<'_> for DurationVisitor {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration such as 500ms, 2s or 1h")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
                Ok(Duration(std::time::Duration::from_secs(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
                humantime::parse_duration(v)
                    .map(Duration)
                    .map_err(|e| E::custom(format!("invalid duration {v:?}: {e}")))
            }
        }
        deserializer.deserialize_any(DurationVisitor)
    }
}

/// A TTL: at most 2^31 - 1 seconds (RFC 2181 section 8; larger values mean zero to
/// resolvers, so they are refused rather than served).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ttl(pub u32);

impl Ttl {
    pub const MAX: u32 = i32::MAX as u32;
}

impl<'de> Deserialize<'de> for Ttl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let seconds = u64::deserialize(deserializer)?;
        match u32::try_from(seconds) {
            Ok(ttl) if ttl <= Ttl::MAX => Ok(Ttl(ttl)),
            _ => Err(de::Error::custom(format!(
                "TTL {seconds} is above 2147483647, the largest RFC 2181 (section 8) allows"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Doc {
        #[serde(default)]
        names: Entries<Many<String>>,
        wait: Option<Duration>,
        ttl: Option<Ttl>,
    }

    #[test]
    fn keys_and_values_keep_positions() {
        let doc: Doc = parse(Path::new("z.yaml"), "names:\n  a: [x, y]\n  b: z\nwait: 2s\n").unwrap();
        let (key, values) = &doc.names.0[1];
        assert_eq!((key.value.as_str(), Pos::of(key)), ("b", Pos { line: 3, column: 3 }));
        let lone: Vec<_> = items(values).collect();
        assert_eq!(lone, vec![(&"z".to_string(), Pos { line: 3, column: 6 })]);
        let listed: Vec<_> = items(&doc.names.0[0].1).collect();
        assert_eq!(listed[1], (&"y".to_string(), Pos { line: 2, column: 10 }));
        assert_eq!(doc.wait, Some(Duration(std::time::Duration::from_secs(2))));
    }

    #[test]
    fn errors_are_located_and_plain() {
        let err = parse::<Doc>(Path::new("z.yaml"), "names:\n  a: x\n  a: y\n").unwrap_err();
        assert_eq!(err.to_string(), "z.yaml:3:3: duplicate mapping key: a");
        let err = parse::<Doc>(Path::new("z.yaml"), "nmes: {}\n").unwrap_err();
        assert!(err.to_string().starts_with("z.yaml:1:1: unknown field `nmes`"), "{err}");
        let err = parse::<Doc>(Path::new("z.yaml"), "wait: soon\n").unwrap_err();
        assert!(err.to_string().starts_with("z.yaml:1:7: invalid duration"), "{err}");
        let err = parse::<Doc>(Path::new("z.yaml"), "ttl: 2147483648\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "z.yaml:1:6: TTL 2147483648 is above 2147483647, the largest RFC 2181 (section 8) allows"
        );
        assert_eq!(parse::<Doc>(Path::new("z.yaml"), "ttl: 2147483647\n").unwrap().ttl, Some(Ttl(Ttl::MAX)));
    }
}
