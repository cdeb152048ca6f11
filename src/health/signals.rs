//! Checks that read a signal rather than connect to the endpoint: a PromQL query asked of a
//! Prometheus-compatible HTTP API (Prometheus, Thanos, VictoriaMetrics, Mimir), and a DNS
//! query to the endpoint. Each gives a pass, a failure that says what the signal said (the
//! value against the threshold), or, when the signal cannot be read, what the monitor's
//! `on_error` makes of that.

use std::net::SocketAddr;

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::RecordType;
use serde_json::Value;

use super::clients::Source;
use super::state::{Failure, Pass};
use crate::model::{DnsCheck, OnError, PromCheck};

/// A Prometheus query, ready to send: the client, the API's URLs and the credentials.
pub struct PromRequest {
    client: reqwest::Client,
    /// `/api/v1/query` with the query, and with the guard.
    query: reqwest::Url,
    guard: Option<reqwest::Url>,
    authorization: Option<String>,
}

impl PromRequest {
    /// Reads the credentials (once: a reload reads them again) and prepares the URLs.
    pub fn new(check: &PromCheck, client: reqwest::Client) -> Result<PromRequest, String> {
        let read = |path: &std::path::Path| {
            std::fs::read_to_string(path)
                .map(|text| text.trim().to_string())
                .map_err(|e| format!("cannot read {}: {e}", path.display()))
        };
        let authorization = match (&check.bearer_token_file, &check.basic_auth) {
            (Some(file), _) => Some(format!("Bearer {}", read(file)?)),
            (None, Some((user, file))) => {
                let credentials = format!("{user}:{}", read(file)?);
                Some(format!("Basic {}", data_encoding::BASE64.encode(credentials.as_bytes())))
            }
            (None, None) => None,
        };
        let url = |query: &str| {
            let mut url = reqwest::Url::parse(&format!("{}/api/v1/query", check.url.trim_end_matches('/')))
                .map_err(|e| format!("bad url {}: {e}", check.url))?;
            url.query_pairs_mut().append_pair("query", query);
            Ok::<_, String>(url)
        };
        let guard = check.guard.as_deref().map(url).transpose()?;
        Ok(PromRequest { client, query: url(&check.query)?, guard, authorization })
    }

    /// The verdict of the query (and the guard, when the query returns no series).
    pub async fn check(&self, check: &PromCheck) -> Result<Pass, Failure> {
        let judged = match self.ask(&self.query).await {
            Ok(samples) => judge(check, &samples),
            Err(why) => Err(why),
        };
        let judged = match judged {
            Ok(Pass::NoSeries) => match &self.guard {
                Some(guard) => match self.ask(guard).await {
                    Ok(samples) if !samples.is_empty() => Ok(Pass::NoSeries),
                    Ok(_) => {
                        Err(Unread::NoData("the guard returned no data: no series cannot count as healthy".into()))
                    }
                    Err(why) => Err(why),
                },
                None => Ok(Pass::NoSeries),
            },
            other => other,
        };
        match judged {
            Ok(pass) => Ok(pass),
            Err(Unread::Said(said)) => Err(Failure::Signal(said)),
            Err(Unread::NoData(why) | Unread::Failed(why)) => unreadable(check.on_error, why),
        }
    }

    /// The samples an instant query returns: (labels, value) per series, or the one scalar.
    async fn ask(&self, url: &reqwest::Url) -> Result<Vec<(String, f64)>, Unread> {
        let mut request = self.client.get(url.clone());
        if let Some(authorization) = &self.authorization {
            request = request.header("authorization", authorization);
        }
        let failed = |e: reqwest::Error| Unread::Failed(last_cause(&e));
        let response = request.send().await.map_err(failed)?;
        let status = response.status();
        let body = response.bytes().await.map_err(failed)?;
        let json: Value = serde_json::from_slice(&body)
            .map_err(|_| Unread::Failed(format!("HTTP {}: not a Prometheus API response", status.as_u16())))?;
        if json["status"] != "success" {
            let error = json["error"].as_str().unwrap_or("no error given");
            return Err(Unread::Failed(format!("HTTP {}: {error}", status.as_u16())));
        }
        samples(&json["data"]).ok_or_else(|| Unread::Failed("malformed query result".into()))
    }
}

/// What a query that could not be read (`why`) counts as, by the monitor's `on_error`.
pub fn unreadable(on_error: OnError, why: String) -> Result<Pass, Failure> {
    match on_error {
        OnError::Keep => Err(Failure::Unavailable(why)),
        OnError::Down => Err(Failure::QueryError(why)),
        OnError::Up => Ok(Pass::Assumed),
    }
}

/// Why a query gave no verdict: it said "failing" (with what), or it could not be read.
enum Unread {
    Said(String),
    NoData(String),
    Failed(String),
}

/// A result's samples: a vector's series with their labels, or a scalar.
fn samples(data: &Value) -> Option<Vec<(String, f64)>> {
    let value = |pair: &Value| pair.get(1)?.as_str()?.parse::<f64>().ok();
    match data["resultType"].as_str()? {
        "vector" => data["result"]
            .as_array()?
            .iter()
            .map(|series| {
                let labels = series["metric"].as_object()?;
                let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                Some((format!("{{{}}}", labels.join(",")), value(&series["value"])?))
            })
            .collect(),
        "scalar" => Some(vec![(String::new(), value(&data["result"])?)]),
        _ => None,
    }
}

/// The verdict on a query's samples: no series is healthy (alert style); with
/// `healthy_when`, the one value must compare so.
fn judge(check: &PromCheck, samples: &[(String, f64)]) -> Result<Pass, Unread> {
    match (&check.healthy_when, samples) {
        (None, []) => Ok(Pass::NoSeries),
        (None, [(labels, value), rest @ ..]) => {
            let labels = if labels.is_empty() || labels == "{}" { String::new() } else { format!(" {labels}") };
            let more = if rest.is_empty() { String::new() } else { format!(" (and {} more series)", rest.len()) };
            let threshold = trailing_comparison(&check.query).map_or(String::new(), |c| format!(" {c}"));
            Err(Unread::Said(format!("{} = {}{threshold}{labels}{more}", check.monitor, number(*value))))
        }
        (Some(when), [(_, value)]) if when.holds(*value) => Ok(Pass::Value(*value)),
        (Some(when), [(_, value)]) => {
            let (value, threshold) = (number(*value), number(when.threshold()));
            Err(Unread::Said(format!("{} = {value}, healthy when {} {threshold}", check.monitor, when.symbol())))
        }
        (Some(_), []) => Err(Unread::NoData("the query returned no value to compare".into())),
        (Some(_), many) => {
            Err(Unread::Failed(format!("the query returned {} series; healthy_when needs one value", many.len())))
        }
    }
}

/// The comparison an alert-style query ends with (`... > 0.05`), to show beside its value.
fn trailing_comparison(query: &str) -> Option<String> {
    let query = query.trim_end();
    (0..query.len()).rev().filter(|&i| query.is_char_boundary(i)).find_map(|i| {
        let tail = &query[i..];
        let parsed =
            tail.starts_with(['<', '>', '=', '!']).then(|| crate::model::Comparison::parse(tail).ok()).flatten();
        parsed.map(|c| format!("{} {}", c.symbol(), number(c.threshold())))
    })
}

/// A query's value as people read it: six significant decimals at most (0.1, not
/// 0.09999999999999999).
pub fn number(value: f64) -> String {
    let text = format!("{value:.6}");
    let text = if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.') } else { &text };
    if text == "-0" { "0".into() } else { text.to_string() }
}

fn last_cause(e: &reqwest::Error) -> String {
    let mut source: &dyn std::error::Error = e;
    while let Some(next) = source.source() {
        source = next;
    }
    if e.is_timeout() { "timeout".into() } else { source.to_string() }
}

/// One DNS query to `target`: healthy when the rcode (and every expected answer) is as wanted.
pub async fn dns_check(source: Source, target: SocketAddr, check: &DnsCheck) -> Result<Pass, Failure> {
    let mut message = Message::new(fastrand::u16(..), MessageType::Query, OpCode::Query);
    message.add_query(Query::query(check.name.clone(), RecordType::from(check.rtype)));
    let query = message.to_vec().map_err(|e| Failure::Other(e.to_string()))?;
    let reply =
        if check.tcp { exchange_tcp(source, target, &query).await } else { exchange_udp(source, target, &query).await }
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::ConnectionRefused => Failure::Refused,
                _ => Failure::Other(e.to_string()),
            })?;
    let reply = Message::from_vec(&reply).map_err(|e| Failure::Signal(format!("malformed answer: {e}")))?;
    if reply.metadata.id != message.metadata.id {
        return Err(Failure::Signal("an answer with another ID".into()));
    }
    let rcode = u16::from(reply.metadata.response_code);
    let name = |code: u16| crate::answer::Rcode::name_of(code).map_or(format!("rcode {code}"), str::to_string);
    if rcode != check.expect_rcode {
        return Err(Failure::Signal(format!(
            "{}: {}, wanted {}",
            check.monitor,
            name(rcode),
            name(check.expect_rcode)
        )));
    }
    let answers: Vec<String> = reply.answers.iter().map(|r| r.data.to_string()).collect();
    if let Some(missing) = check.expect_answer.iter().find(|want| !answers.iter().any(|a| a.eq_ignore_ascii_case(want)))
    {
        return Err(Failure::Signal(format!("{}: answer lacks {missing} (has {})", check.monitor, answers.join(", "))));
    }
    Ok(Pass::Answered(rcode))
}

async fn exchange_udp(source: Source, target: SocketAddr, query: &[u8]) -> std::io::Result<Vec<u8>> {
    let socket = source.udp(target).await?;
    socket.send(query).await?;
    let mut buf = vec![0; 65_535];
    let len = socket.recv(&mut buf).await?;
    buf.truncate(len);
    Ok(buf)
}

async fn exchange_tcp(source: Source, target: SocketAddr, query: &[u8]) -> std::io::Result<Vec<u8>> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = source.connect(target).await?;
    let len = u16::try_from(query.len()).map_err(std::io::Error::other)?;
    stream.write_all(&[&len.to_be_bytes()[..], query].concat()).await?;
    let len = stream.read_u16().await?;
    let mut buf = vec![0; usize::from(len)];
    stream.read_exact(&mut buf).await?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_alert_style_querys_threshold_is_shown() {
        assert_eq!(super::trailing_comparison("sum(rate(x[1m])) / sum(rate(y[1m])) > 0.05").as_deref(), Some("> 0.05"));
        assert_eq!(super::trailing_comparison("lag >= 30").as_deref(), Some(">= 30"));
        assert_eq!(super::trailing_comparison("up == 0").as_deref(), Some("== 0"));
        assert_eq!(super::trailing_comparison("absent(up)"), None);
    }
}
