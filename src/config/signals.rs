//! The monitors that read signals: `type: prometheus` (a PromQL query with placeholders for
//! the endpoint, filled in per endpoint) and `type: dns` (a query to the endpoint).

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use super::yaml::{Pos, Spanned};
use crate::model::{Comparison, DnsCheck, Name, OnError, PromCheck};

/// A monitor's `query`: PromQL text, or a DNS question `{name, type}`.
#[derive(Debug)]
pub enum RawQuery {
    Promql(String),
    Dns(DnsQuestion),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsQuestion {
    name: String,
    #[serde(rename = "type")]
    rtype: Option<String>,
}

impl<'de> Deserialize<'de> for RawQuery {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct QueryVisitor;
        impl<'de> Visitor<'de> for QueryVisitor {
            type Value = RawQuery;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("PromQL text, or a DNS question {name, type}")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawQuery, E> {
                Ok(RawQuery::Promql(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawQuery, A::Error> {
                DnsQuestion::deserialize(de::value::MapAccessDeserializer::new(map)).map(RawQuery::Dns)
            }
        }
        deserializer.deserialize_any(QueryVisitor)
    }
}

/// What a `type: prometheus` monitor says, before its placeholders are filled in.
pub struct PromMonitor<'a> {
    pub url: Option<&'a Spanned<String>>,
    pub query: Option<&'a Spanned<RawQuery>>,
    pub guard: Option<&'a Spanned<String>>,
    pub healthy_when: Option<&'a Spanned<String>>,
    pub on_error: Option<&'a Spanned<String>>,
    pub bearer_token_file: Option<&'a String>,
    pub username: Option<&'a String>,
    pub password_file: Option<&'a String>,
    pub ca_file: Option<&'a String>,
    pub insecure: bool,
}

/// The check of the prometheus monitor `name` for one endpoint: `{{name}}` placeholders
/// replaced by `values` (`address`, `check_address`, `pool`, the endpoint's `labels`). A
/// problem is given with its position (`monitor` when the field has none).
pub fn prometheus(
    name: &str,
    m: &PromMonitor,
    monitor: Pos,
    values: &[(&str, &str)],
) -> Result<PromCheck, (Pos, String)> {
    let url =
        m.url.ok_or((monitor, "a prometheus monitor needs `url` (the API, e.g. http://127.0.0.1:9090)".into()))?;
    if reqwest::Url::parse(&url.value).map(|u| matches!(u.scheme(), "http" | "https")) != Ok(true) {
        return Err((Pos::of(url), format!("url {:?} is not an http:// or https:// URL", url.value)));
    }
    let query = match m.query.map(|q| (&q.value, Pos::of(q))) {
        Some((RawQuery::Promql(text), pos)) => filled(text, pos, values)?,
        Some((RawQuery::Dns(_), pos)) => return Err((pos, "a prometheus monitor's query is PromQL text".into())),
        None => return Err((monitor, "a prometheus monitor needs a `query` (PromQL)".into())),
    };
    // Without a guard, the query's own selectors must still return data.
    let guard = match m.guard {
        Some(g) => Some(filled(&g.value, Pos::of(g), values)?),
        None => own_guard(&query),
    };
    let healthy_when = m.healthy_when.map(|h| Comparison::parse(&h.value).map_err(|e| (Pos::of(h), e))).transpose()?;
    let on_error = match m.on_error.map(|o| (o.value.as_str(), Pos::of(o))) {
        None | Some(("keep", _)) => OnError::Keep,
        Some(("down", _)) => OnError::Down,
        Some(("up", _)) => OnError::Up,
        Some((other, pos)) => return Err((pos, format!("unknown on_error {other:?}: keep, down or up"))),
    };
    let basic_auth = match (m.username, m.password_file) {
        (Some(user), Some(file)) => Some((user.clone(), file.into())),
        (None, None) => None,
        _ => return Err((monitor, "basic authentication needs both `username` and `password_file`".into())),
    };
    if m.bearer_token_file.is_some() && basic_auth.is_some() {
        return Err((monitor, "give either `bearer_token_file` or `username` and `password_file`, not both".into()));
    }
    Ok(PromCheck {
        monitor: name.to_string(),
        url: url.value.clone(),
        query,
        guard,
        healthy_when,
        on_error,
        bearer_token_file: m.bearer_token_file.map(Into::into),
        basic_auth,
        ca_file: m.ca_file.map(Into::into),
        insecure: m.insecure,
    })
}

/// `text` with its `{{name}}` placeholders replaced, checked for the mistakes PromQL would
/// reject whatever the data (unbalanced brackets, an unclosed string).
fn filled(text: &str, pos: Pos, values: &[(&str, &str)]) -> Result<String, (Pos, String)> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}").ok_or((pos, "a `{{` placeholder is not closed with `}}`".to_string()))?;
        let name = rest[start + 2..start + end].trim();
        let value = values.iter().find(|(n, _)| *n == name).map(|(_, v)| *v).ok_or_else(|| {
            let known: Vec<&str> = values.iter().map(|(n, _)| *n).collect();
            (pos, format!("unknown placeholder {{{{{name}}}}}: this endpoint has {}", known.join(", ")))
        })?;
        out.push_str(value);
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    promql_problem(&out).map_or(Ok(out), |problem| Err((pos, problem)))
}

/// A guard made of `query`'s vector selectors: `count(a{...}) or count(b{...})` returns data
/// while any of them selects a series. `None` when the query has no selector.
fn own_guard(query: &str) -> Option<String> {
    // Operators, modifiers and aggregations (which may take `by (...)` before their parenthesis).
    const KEYWORDS: [&str; 25] = [
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "bool",
        "and",
        "or",
        "unless",
        "offset",
        "atan2",
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "bottomk",
        "topk",
        "quantile",
        "limitk",
    ];
    let bytes = query.as_bytes();
    let mut selectors = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let c = bytes[at];
        if matches!(c, b'"' | b'\'' | b'`') {
            // Skip a string.
            at += 1;
            while at < bytes.len() && bytes[at] != c {
                at += if bytes[at] == b'\\' { 2 } else { 1 };
            }
            at += 1;
            continue;
        }
        let starts_name = c.is_ascii_alphabetic() || c == b'_' || c == b':';
        if !starts_name && c != b'{' {
            at += 1;
            continue;
        }
        let start = at;
        while at < bytes.len() && (bytes[at].is_ascii_alphanumeric() || matches!(bytes[at], b'_' | b':')) {
            at += 1;
        }
        let name = &query[start..at];
        // A number's exponent or a duration (`5m`) is not a name.
        let after_digit = start > 0 && bytes[start - 1].is_ascii_digit();
        let mut end = at;
        while end < bytes.len() && bytes[end] == b' ' {
            end += 1;
        }
        if bytes.get(end) == Some(&b'(') || KEYWORDS.contains(&name) || after_digit {
            at = end.max(at);
            continue;
        }
        let mut selector = name.to_string();
        if bytes.get(end) == Some(&b'{') {
            // The label matchers, up to the closing brace (outside strings).
            let mut i = end + 1;
            while i < bytes.len() && bytes[i] != b'}' {
                if matches!(bytes[i], b'"' | b'\'' | b'`') {
                    let quote = bytes[i];
                    i += 1;
                    while i < bytes.len() && bytes[i] != quote {
                        i += if bytes[i] == b'\\' { 2 } else { 1 };
                    }
                }
                i += 1;
            }
            selector.push_str(&query[end..(i + 1).min(query.len())]);
            at = i + 1;
        }
        // Inside `by (...)`/`on (...)` label lists names are labels, not metrics: those lists
        // follow a keyword and were skipped with it only up to the parenthesis, so skip them.
        if !selector.is_empty() && !label_list(query, start) {
            selectors.push(format!("count({selector})"));
        }
    }
    selectors.dedup();
    (!selectors.is_empty()).then(|| selectors.join(" or "))
}

/// Whether the name at `at` is inside a `by (...)`, `without (...)`, `on (...)`,
/// `ignoring (...)` or `group_left/right (...)` label list.
fn label_list(query: &str, at: usize) -> bool {
    let before = &query[..at];
    let Some(open) = before.rfind('(') else { return false };
    if before[open..].contains(')') {
        return false;
    }
    let word = before[..open].trim_end();
    ["by", "without", "on", "ignoring", "group_left", "group_right"].iter().any(|k| word.ends_with(k))
}

/// A mistake any PromQL parser rejects: an unclosed string, unbalanced brackets.
fn promql_problem(query: &str) -> Option<String> {
    if query.trim().is_empty() {
        return Some("the query is empty".into());
    }
    let mut open = Vec::new();
    let mut chars = query.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' | '\'' | '`' => loop {
                match chars.next() {
                    None => return Some(format!("invalid PromQL: unclosed string in {query:?}")),
                    Some('\\') if c != '`' => drop(chars.next()),
                    Some(d) if d == c => break,
                    Some(_) => {}
                }
            },
            '(' | '[' | '{' => open.push(c),
            ')' | ']' | '}' => {
                let want = match c {
                    ')' => '(',
                    ']' => '[',
                    _ => '{',
                };
                if open.pop() != Some(want) {
                    return Some(format!("invalid PromQL: unbalanced {c:?} in {query:?}"));
                }
            }
            _ => {}
        }
    }
    open.last().map(|c| format!("invalid PromQL: {c:?} is not closed in {query:?}"))
}

/// The check of the `type: dns` monitor `monitor_name`: its question (names relative to
/// `origin`), the rcode and answers it expects.
pub fn dns(
    monitor_name: &str,
    (query, origin): (Option<&Spanned<RawQuery>>, &Name),
    expect_rcode: Option<&Spanned<String>>,
    expect_answer: Vec<String>,
    transport: Option<&Spanned<String>>,
    monitor: Pos,
) -> Result<DnsCheck, (Pos, String)> {
    let (question, pos) = match query.map(|q| (&q.value, Pos::of(q))) {
        Some((RawQuery::Dns(question), pos)) => (question, pos),
        Some((RawQuery::Promql(_), pos)) => return Err((pos, "a dns monitor's query is {name, type}".into())),
        None => return Err((monitor, "a dns monitor needs a `query: {name, type}`".into())),
    };
    let name = crate::model::presentation_name(&question.name).map_err(|e| (pos, format!("bad name: {e}")))?;
    let name = if name.is_fqdn() { name } else { name.append_domain(origin).map_err(|e| (pos, e.to_string()))? };
    let rtype = question.rtype.as_deref().unwrap_or("A");
    let rtype = crate::model::type_code(rtype).ok_or((pos, format!("unknown record type {rtype:?}")))?;
    let expect_rcode = match expect_rcode {
        None => 0,
        Some(text) => crate::answer::Rcode::ALL
            .into_iter()
            .find(|r| r.name().eq_ignore_ascii_case(&text.value))
            .map(|r| r as u16)
            .ok_or((
                Pos::of(text),
                format!("unknown rcode {:?}: NOERROR, NXDOMAIN, SERVFAIL, REFUSED, ...", text.value),
            ))?,
    };
    let tcp = match transport.map(|t| (t.value.as_str(), Pos::of(t))) {
        None | Some(("udp", _)) => false,
        Some(("tcp", _)) => true,
        Some((other, pos)) => return Err((pos, format!("unknown transport {other:?}: udp or tcp"))),
    };
    Ok(DnsCheck { monitor: monitor_name.to_string(), name, rtype, tcp, expect_rcode, expect_answer })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guard_is_made_of_the_querys_own_selectors() {
        let query = "sum by (code) (rate(app_requests_total{instance=\"a:80\",code=~\"5..\"}[1m])) / \
                     sum(rate(app_requests_total{instance=\"a:80\"}[1m])) > 0.05";
        assert_eq!(
            own_guard(query).as_deref(),
            Some(
                "count(app_requests_total{instance=\"a:80\",code=~\"5..\"}) or count(app_requests_total{instance=\"a:80\"})"
            )
        );
        assert_eq!(own_guard("replication_lag_seconds > 30").as_deref(), Some("count(replication_lag_seconds)"));
        assert_eq!(own_guard("vector(1) > 2"), None);
    }

    #[test]
    fn placeholders_are_filled_and_promql_mistakes_found() {
        let values = [("address", "192.0.2.1"), ("pool", "primary")];
        let pos = Pos::default();
        assert_eq!(
            filled("up{instance=\"{{address}}:80\",pool=\"{{ pool }}\"}", pos, &values).unwrap(),
            "up{instance=\"192.0.2.1:80\",pool=\"primary\"}"
        );
        assert!(filled("up{x=\"{{region}}\"}", pos, &values).unwrap_err().1.contains("unknown placeholder {{region}}"));
        assert!(filled("sum(rate(x[1m])", pos, &values).unwrap_err().1.contains("'(' is not closed"));
        assert!(filled("x{a=\"b}", pos, &values).unwrap_err().1.contains("unclosed string"));
        assert!(filled("x{a=\"}\"}) > 1", pos, &values).unwrap_err().1.contains("unbalanced ')'"));
    }
}
