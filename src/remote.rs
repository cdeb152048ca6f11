//! The command line's side of the HTTP API: `reload`, `status`, `explain` and `override`
//! talk to a running server and print what it says for a human.

use std::fmt::Write;
use std::process::ExitCode;

use anyhow::Context;
use reqwest::{Method, Url};
use serde_json::{Value, json};

use crate::cli::{ExplainArgs, OverrideArgs, RemoteArgs};
use crate::status::Status;

struct Client {
    base: Url,
    http: reqwest::Client,
    token: Option<String>,
}

impl Client {
    fn new(args: &RemoteArgs) -> anyhow::Result<Client> {
        let token = match &args.token_file {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?
                    .trim()
                    .to_string(),
            ),
            None => None,
        };
        let http = reqwest::Client::builder().no_proxy().build()?;
        Ok(Client { base: Url::parse(&format!("http://{}/", args.http))?, http, token })
    }

    /// `segments` are percent-encoded as path segments (endpoint labels may hold `:`).
    fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Url {
        let mut url = self.base.clone();
        url.path_segments_mut().expect("http URLs have paths").pop_if_empty().extend(segments);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// Sends a request; a refused token is an error of its own (not a refused change).
    async fn send(&self, method: Method, url: Url, body: Option<Value>) -> anyhow::Result<(bool, Value, String)> {
        let mut request = self.http.request(method, url.clone());
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.header(reqwest::header::CONTENT_TYPE, "application/json").body(body.to_string());
        }
        let response = request.send().await.with_context(|| format!("cannot reach switchyard at {url}"))?;
        let status = response.status();
        let text = response.text().await?;
        if matches!(status.as_u16(), 401 | 403) {
            let said = serde_json::from_str::<Value>(&text).ok();
            let said = said.as_ref().and_then(|v| v["errors"][0].as_str()).unwrap_or(text.trim()).to_string();
            anyhow::bail!(
                "not authorised ({status}): {}; {}",
                printable(&said),
                match self.token {
                    Some(_) => "the token in --token-file (or SWITCHYARD_TOKEN_FILE) was not accepted",
                    None => "pass the admin token with --token-file FILE (or SWITCHYARD_TOKEN_FILE)",
                }
            );
        }
        let ok = status.is_success();
        Ok((ok, serde_json::from_str(&text).unwrap_or(Value::Null), text))
    }
}

/// Prints a refused request's errors on stderr.
fn refused(what: &str, body: &Value, text: &str) -> ExitCode {
    eprintln!("{what}");
    match body["errors"].as_array() {
        Some(errors) => errors.iter().for_each(|e| eprintln!("{}", printable(e.as_str().unwrap_or_default()))),
        None => eprintln!("{}", printable(text.trim())),
    }
    ExitCode::FAILURE
}

pub async fn reload(args: RemoteArgs) -> anyhow::Result<ExitCode> {
    let client = Client::new(&args)?;
    let (ok, body, text) = client.send(Method::POST, client.url(&["reload"], &[]), None).await?;
    if !ok {
        return Ok(refused("reload rejected; the server keeps its previous configuration:", &body, &text));
    }
    println!("reloaded: {}", body["message"].as_str().unwrap_or_default());
    Ok(ExitCode::SUCCESS)
}

pub async fn explain(args: ExplainArgs) -> anyhow::Result<ExitCode> {
    let client = Client::new(&args.remote)?;
    let assume_down = args.assume_down.join(",");
    let query = [("name", args.name.as_str()), ("type", args.rtype.as_str()), ("assume_down", assume_down.as_str())];
    let (ok, body, text) = client.send(Method::GET, client.url(&["explain"], &query), None).await?;
    if !ok {
        return Ok(refused("cannot explain:", &body, &text));
    }
    text.lines().for_each(|line| println!("{}", printable(line)));
    Ok(ExitCode::SUCCESS)
}

pub async fn set_override(args: OverrideArgs) -> anyhow::Result<ExitCode> {
    let client = Client::new(&args.remote)?;
    let url = match args.target.split_once('/') {
        Some((pool, endpoint)) => client.url(&["endpoints", pool, endpoint], &[]),
        None => client.url(&["pools", &args.target], &[]),
    };
    let mut url = url;
    if let Some(zone) = &args.zone {
        url.query_pairs_mut().append_pair("zone", zone);
    }
    let body = json!({"state": args.state, "reason": args.reason, "for": args.duration});
    let (ok, body, text) = client.send(Method::POST, url, Some(body)).await?;
    if !ok {
        return Ok(refused("override refused:", &body, &text));
    }
    let applied = &body["applied"];
    match applied["override"].as_object() {
        Some(o) => println!(
            "{} forced {} ({}){}",
            describe(&applied["subject"]),
            o["state"].as_str().unwrap_or_default(),
            printable(o["reason"].as_str().unwrap_or_default()),
            if o["until"].is_null() { String::new() } else { format!(" for {}", args.duration.unwrap_or_default()) }
        ),
        None => println!("{}: back to its health checks", describe(&applied["subject"])),
    }
    if let Some(nodes) = body["nodes"].as_object() {
        for word in ["applied", "pending", "unreachable"] {
            let named: Vec<&str> = nodes.iter().filter(|(_, v)| *v == word).map(|(node, _)| node.as_str()).collect();
            if !named.is_empty() {
                println!("  {word} on: {}", printable(&named.join(", ")));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn describe(subject: &Value) -> String {
    match subject["endpoint"].as_str() {
        Some(e) => format!(
            "{} pool {} endpoint {e}",
            subject["zone"].as_str().unwrap_or_default(),
            subject["pool"].as_str().unwrap_or_default()
        ),
        None => format!(
            "{} pool {}",
            subject["zone"].as_str().unwrap_or_default(),
            subject["pool"].as_str().unwrap_or_default()
        ),
    }
}

pub async fn status(args: RemoteArgs) -> anyhow::Result<ExitCode> {
    let client = Client::new(&args)?;
    let (ok, body, text) = client.send(Method::GET, client.url(&["status"], &[]), None).await?;
    if !ok {
        return Ok(refused("cannot read the status:", &body, &text));
    }
    let status: Status = serde_json::from_value(body).context("the server's /status is not a status document")?;
    print!("{}", status_table(&status));
    Ok(ExitCode::SUCCESS)
}

/// `/status` as aligned text: per zone, the dynamic records and then every pool's endpoints.
fn status_table(status: &Status) -> String {
    let mut out = String::new();
    if let Some(fleet) = &status.fleet {
        let quorum = if fleet.quorum { "quorum" } else { "NO QUORUM" };
        let _ = writeln!(
            out,
            "node {} hears {} of {} nodes ({quorum}), policy {} (see `switchyard fleet`)",
            printable(&fleet.node),
            fleet.heard,
            fleet.nodes,
            fleet.policy
        );
    }
    for zone in &status.zones {
        let _ = writeln!(out, "zone {} (serial {})", printable(&zone.origin), zone.serial);
        let mut rows = vec![["RECORD".to_string(), "TYPE".into(), "ANSWERING".into(), "STATE".into()]];
        for record in &zone.records {
            for (family, route) in &record.families {
                let pools = printable(&route.answering_pools.join(","));
                rows.push([printable(&record.name), family.clone(), pools, printable(&route.summary)]);
            }
        }
        table(&mut out, "  ", &rows);
        for pool in &zone.pools {
            let forced = pool.forced.as_ref().map_or(String::new(), |f| format!(", forced {}", f.state.label()));
            let _ = writeln!(out, "  pool {} (min_healthy {}{forced})", printable(&pool.name), pool.min_healthy);
            let mut rows =
                vec![["ENDPOINT".to_string(), "STATE".into(), "FOR".into(), "LATENCY".into(), "REASON".into()]];
            for e in &pool.endpoints {
                let mut reason = match &e.forced {
                    Some(o) => format!("override: {} (checks: {})", printable(&o.reason), e.checked_state),
                    None => e.reason.as_deref().map_or(String::new(), printable),
                };
                if !e.votes.is_empty() {
                    let votes: Vec<String> = e.votes.iter().map(|(node, vote)| format!("{node} {vote}")).collect();
                    reason += &format!(" [votes: {}]", printable(&votes.join(", ")));
                }
                rows.push([
                    printable(&e.endpoint),
                    e.state.clone(),
                    e.seconds_in_state.map_or(String::new(), |t| format!("{t:.0}s")),
                    e.last_check.as_ref().map_or(String::new(), |c| format!("{:.1}ms", c.latency_seconds * 1000.0)),
                    reason,
                ]);
            }
            table(&mut out, "    ", &rows);
        }
        if let Some(dnssec) = &zone.dnssec {
            let time =
                |t: f64| crate::unix_time::rfc3339(std::time::UNIX_EPOCH + std::time::Duration::from_secs_f64(t));
            let _ = writeln!(
                out,
                "  signed: signatures expire {}, re-signed {}, last signed {}",
                time(dnssec.signatures_expire_at),
                time(dnssec.resign_at),
                time(dnssec.last_signed_at)
            );
            let mut rows = vec![["KEY".to_string(), "ALGORITHM".into(), "ROLE".into(), "STATE".into(), "FILE".into()]];
            for key in &dnssec.keys {
                let (algorithm, role, state) = (key.algorithm.clone(), key.role.clone(), key.state.clone());
                rows.push([key.tag.to_string(), algorithm, role, state, printable(&key.file)]);
            }
            table(&mut out, "    ", &rows);
        }
        let secondaries: Vec<_> = status.secondaries.iter().filter(|s| s.zone == zone.origin).collect();
        if !secondaries.is_empty() {
            let mut rows =
                vec![["SECONDARY".to_string(), "SERIAL".into(), "LAG".into(), "NOTIFY".into(), "LAST TRANSFER".into()]];
            for s in secondaries {
                let notify = s.notify.as_ref().map_or(String::new(), |n| {
                    let acked = if n.acknowledged_at.is_some() { "acknowledged" } else { "not acknowledged" };
                    format!("{} {acked} ({} sent)", n.serial, n.attempts)
                });
                let last = s.last_transfer.as_ref().map_or(String::new(), |t| {
                    format!(
                        "{} {} {} ({} bytes, {:.3}s)",
                        t.kind,
                        t.serial.unwrap_or_default(),
                        t.result,
                        t.bytes,
                        t.seconds
                    )
                });
                rows.push([
                    s.address.clone(),
                    s.serial.map_or("no answer".into(), |n| n.to_string()),
                    s.serial_lag.map_or(String::new(), |n| n.to_string()),
                    notify,
                    printable(&last),
                ]);
            }
            table(&mut out, "  ", &rows);
        }
    }
    out
}

pub async fn fleet(args: RemoteArgs) -> anyhow::Result<ExitCode> {
    let client = Client::new(&args)?;
    let (ok, body, text) = client.send(Method::GET, client.url(&["status"], &[]), None).await?;
    if !ok {
        return Ok(refused("cannot read the status:", &body, &text));
    }
    let status: Status = serde_json::from_value(body).context("the server's /status is not a status document")?;
    let Some(fleet) = &status.fleet else {
        println!("this node has no peers (no `peers:` in its config)");
        return Ok(ExitCode::SUCCESS);
    };
    let (text, healthy) = fleet_table(&status, fleet);
    print!("{text}");
    Ok(if healthy { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// The fleet as aligned text, and whether all is well (every peer heard, every zone alike).
fn fleet_table(status: &Status, fleet: &crate::status::FleetStatus) -> (String, bool) {
    let mut out = String::new();
    let quorum = if fleet.quorum { "quorum" } else { "NO QUORUM" };
    let policy = match (fleet.policy.as_str(), fleet.holding_until) {
        ("holding", Some(until)) => {
            format!("holding the last agreed verdicts for {:.0}s more", (until - status.generated_at).max(0.0))
        }
        ("own_view", _) => "going by its own probes".into(),
        _ => "deciding by agreement".into(),
    };
    let _ = writeln!(out, "node {}: hears {} of {} nodes ({quorum}), {policy}", fleet.node, fleet.heard, fleet.nodes);
    let mut rows = vec![["NODE", "ADDRESS", "STATE", "LAST SEEN", "ERROR"].map(String::from)];
    rows.push([fleet.node.clone(), "(this node)".into(), "up".into(), String::new(), String::new()]);
    for peer in &fleet.peers {
        let seen =
            peer.last_seen.map_or("never".into(), |at| format!("{:.1}s ago", (status.generated_at - at).max(0.0)));
        let state = if peer.up { "up" } else { "unreachable" };
        let error = printable(peer.error.as_deref().unwrap_or_default());
        rows.push([printable(&peer.node), peer.address.clone(), state.into(), seen, error]);
    }
    table(&mut out, "", &rows);
    let mut rows = vec![["ZONE", "CONFIG", "ANSWERS", "DIFFERS ON"].map(String::from)];
    for zone in &fleet.zones {
        let differs = zone.differing();
        let differs = if differs.is_empty() { "in sync".into() } else { printable(&differs.join(", ")) };
        rows.push([zone.zone.clone(), zone.config_digest.clone(), zone.answers_digest.clone(), differs]);
    }
    out.push('\n');
    table(&mut out, "", &rows);
    let mut disagreements = Vec::new();
    for zone in &status.zones {
        for pool in &zone.pools {
            for e in pool.endpoints.iter().filter(|e| {
                e.votes.values().filter(|v| *v != "stale").collect::<std::collections::HashSet<_>>().len() > 1
            }) {
                let votes: Vec<String> = e.votes.iter().map(|(node, vote)| format!("{node} {vote}")).collect();
                let rule = e.agreement.as_deref().unwrap_or_default();
                disagreements.push(format!(
                    "  {} pool {} endpoint {}: {} -> {} ({rule})",
                    zone.origin,
                    printable(&pool.name),
                    printable(&e.endpoint),
                    votes.join(", "),
                    e.state
                ));
            }
        }
    }
    if !disagreements.is_empty() {
        let _ = writeln!(out, "\nnodes see these endpoints differently:\n{}", disagreements.join("\n"));
    }
    let healthy = fleet.quorum
        && fleet.peers.iter().all(|p| p.up)
        && fleet.zones.iter().all(|z| z.config_in_sync && z.answers_in_sync);
    (out, healthy)
}

/// Text from the server (operator-written reasons, names) made safe for a terminal: control
/// characters, which could move the cursor or recolour the screen, are shown escaped.
fn printable(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() }).collect()
}

fn table<const N: usize>(out: &mut String, indent: &str, rows: &[[String; N]]) {
    let widths: Vec<usize> = (0..N).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    for row in rows {
        let cells: Vec<String> = row.iter().zip(&widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
        let _ = writeln!(out, "{indent}{}", cells.join("  ").trim_end());
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn control_characters_are_shown_escaped() {
        assert_eq!(super::printable("bad \x1b[2Jdeploy\r\nnext"), "bad \\u{1b}[2Jdeploy\\r\\nnext");
        assert_eq!(super::printable("plain: café"), "plain: café");
    }
}
