//! The status page at `/`: the `/status` document as one self-contained HTML page that an
//! operator can keep open during an incident (it refreshes itself every 5 seconds).

use std::fmt::Write;

use crate::status::{EndpointStatus, Status};
use crate::unix_time;

const STYLE: &str = "body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}\
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}table{border-collapse:collapse;margin:.4em 0 1em}\
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}th{background:#f3f3f3}\
.up{background:#d9f2d9}.down{background:#f8d0d0}.unknown{background:#eee}.warn,.suppressed{background:#fde8b4}\
.muted{color:#777}code{font-size:.95em}";

pub fn render(status: &Status) -> String {
    let mut out = format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8><meta http-equiv=refresh content=5>\
         <meta name=viewport content='width=device-width,initial-scale=1'><title>switchyard status</title>\
         <style>{STYLE}</style></head><body><h1>switchyard</h1>\
         <p class=muted>Generated {} · refreshes every 5 s. Raw data: <a href=/status>/status</a> · \
         <a href=/metrics>/metrics</a></p>",
        timestamp(status.generated_at)
    );
    if let Some(fleet) = &status.fleet {
        out += &fleet_section(status, fleet);
    }
    if !status.overrides.is_empty() {
        out += "<h2>Overrides in force</h2><table><tr><th>zone</th><th>pool</th><th>endpoint</th><th>forced</th>\
                <th>reason</th><th>expires</th></tr>";
        for o in &status.overrides {
            let (s, v) = (&o.subject, &o.forced);
            let _ = write!(
                out,
                "<tr class=warn><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&s.zone),
                escape(&s.pool),
                s.endpoint.as_deref().map_or("(whole pool)".into(), escape),
                v.state.label(),
                escape(&v.reason),
                v.until.map_or("never".into(), |t| format!("in {}", ago(-seconds_from(status, unix_time::seconds(t)))))
            );
        }
        out += "</table>";
    }
    for zone in &status.zones {
        let _ = write!(out, "<h2>{} <span class=muted>serial {}</span></h2>", escape(&zone.origin), zone.serial);
        if let Some(dnssec) = &zone.dnssec {
            let keys: Vec<String> =
                dnssec.keys.iter().map(|k| format!("{} {} {} ({})", k.role, k.tag, k.algorithm, k.state)).collect();
            let _ = write!(
                out,
                "<p>Signed: {}. Signatures expire {} (in {}), signed again {}.</p>",
                escape(&keys.join(", ")),
                timestamp(dnssec.signatures_expire_at),
                ago(-seconds_from(status, dnssec.signatures_expire_at)),
                timestamp(dnssec.resign_at)
            );
        }
        if !zone.records.is_empty() {
            out += "<table><tr><th>record</th><th>type</th><th>answering pools</th><th>state</th></tr>";
            for record in &zone.records {
                for (family, route) in &record.families {
                    let class = match (route.all_down, route.summary == "normal") {
                        (true, _) => "down",
                        (false, true) => "up",
                        (false, false) => "warn",
                    };
                    let _ = write!(
                        out,
                        "<tr class={class}><td>{}</td><td>{family}</td><td>{}</td><td>{}</td></tr>",
                        escape(&record.name),
                        escape(&route.answering_pools.join(", ")),
                        escape(&route.summary)
                    );
                }
            }
            out += "</table>";
        }
        for pool in &zone.pools {
            let _ = write!(
                out,
                "<p><b>pool {}</b> <span class=muted>min_healthy {}</span></p>",
                escape(&pool.name),
                pool.min_healthy
            );
            out += "<table><tr><th>endpoint</th><th>state</th><th>reason</th><th>for</th><th>probe</th>\
                    <th>last check</th><th>latency</th><th>weight</th><th>recent transitions</th></tr>";
            for e in &pool.endpoints {
                out += &endpoint_row(status, e);
            }
            out += "</table>";
        }
    }
    out += "</body></html>\n";
    out
}

fn endpoint_row(status: &Status, e: &EndpointStatus) -> String {
    let class = e.state.split(' ').next().unwrap_or("unknown");
    let reason = e.reason.as_deref().map_or(String::new(), escape);
    let reason = match (&e.forced, e.suppressed_seconds_left) {
        (Some(o), _) => format!(
            "forced by operator: {} <span class=muted>(checks say {})</span>",
            escape(&o.reason),
            escape(&e.checked_state)
        ),
        (None, Some(left)) => format!(
            "{reason} <span class=muted>(suppressed for flapping: penalty {}, released in {})</span>",
            e.flap_penalty.unwrap_or_default(),
            ago(left)
        ),
        (None, None) => reason,
    };
    // In a fleet: each node's vote on what the state was agreed from.
    let reason = match e.votes.is_empty() {
        true => reason,
        false => {
            let votes: Vec<String> = e.votes.iter().map(|(node, vote)| format!("{} {vote}", escape(node))).collect();
            let rule = e.agreement.as_deref().unwrap_or_default();
            format!("{reason}<br><span class=muted>votes: {} ({rule})</span>", votes.join(", "))
        }
    };
    let transitions: Vec<String> = e
        .transitions
        .iter()
        .flatten()
        .rev()
        .take(3)
        .map(|t| {
            format!(
                "{} → {} {} ago ({})",
                t.from.label(),
                t.to.label(),
                ago(seconds_from(status, unix_time::seconds(t.at))),
                escape(&t.reason)
            )
        })
        .collect();
    format!(
        "<tr class={class}><td><code>{}</code></td><td>{}</td><td>{reason}</td><td>{}</td><td>{}</td><td>{}</td>\
         <td>{}</td><td>{}</td><td>{}</td></tr>",
        escape(&e.endpoint),
        escape(&e.state),
        e.seconds_in_state.map_or(String::new(), ago),
        match (&e.monitor, &e.probe) {
            (Some(monitor), Some(target)) => format!("{} <code>{target}</code>", escape(monitor)),
            _ => "<span class=muted>not monitored</span>".into(),
        },
        e.last_check.as_ref().map_or("—".into(), |c| format!("{} ago", ago(seconds_from(status, c.at)))),
        e.last_check.as_ref().map_or("—".into(), |c| format!("{:.1} ms", c.latency_seconds * 1000.0)),
        e.weight,
        transitions.join("<br>")
    )
}

/// The fleet: quorum and policy, each peer, each zone's digests across the nodes.
fn fleet_section(status: &Status, fleet: &crate::status::FleetStatus) -> String {
    let policy = match (fleet.policy.as_str(), fleet.holding_until) {
        ("holding", Some(until)) => {
            format!("holding the last agreed verdicts (for {} more)", ago(seconds_from(status, until).abs()))
        }
        ("own_view", _) => "going by its own probes (no quorum for longer than the hold)".into(),
        _ => "deciding by agreement".into(),
    };
    let class = if fleet.policy == "agreed" { "up" } else { "down" };
    let mut out = format!(
        "<h2>Fleet</h2><p class={class}>Node <b>{}</b> hears {} of {} nodes ({}), {policy}.</p>         <table><tr><th>peer</th><th>address</th><th>state</th><th>last seen</th><th>error</th></tr>",
        escape(&fleet.node),
        fleet.heard,
        fleet.nodes,
        if fleet.quorum { "quorum" } else { "no quorum" }
    );
    for peer in &fleet.peers {
        let _ = write!(
            out,
            "<tr class={}><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            if peer.up { "up" } else { "down" },
            escape(&peer.node),
            escape(&peer.address),
            if peer.up { "up" } else { "unreachable" },
            peer.last_seen.map_or("never".into(), |at| format!("{} ago", ago(seconds_from(status, at)))),
            escape(peer.error.as_deref().unwrap_or_default())
        );
    }
    out += "</table><table><tr><th>zone</th><th>config</th><th>answers</th><th>differs on</th></tr>";
    for zone in &fleet.zones {
        let differs = zone.differing();
        let _ = write!(
            out,
            "<tr class={}><td>{}</td><td><code>{}</code></td><td><code>{}</code></td><td>{}</td></tr>",
            if differs.is_empty() { "up" } else { "warn" },
            escape(&zone.zone),
            escape(&zone.config_digest),
            escape(&zone.answers_digest),
            if differs.is_empty() { "in sync".into() } else { escape(&differs.join(", ")) }
        );
    }
    out + "</table>"
}

/// A Unix time as people read it: `2026-11-30 15:07:16 UTC`.
fn timestamp(unix: f64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs_f64(unix.max(0.0));
    unix_time::rfc3339(time).replace('T', " ").replace('Z', " UTC")
}

/// Seconds from a Unix time to the page's time (negative for the future).
fn seconds_from(status: &Status, unix: f64) -> f64 {
    status.generated_at - unix
}

/// A compact duration: "42 s", "3 min", "2.5 h".
fn ago(seconds: f64) -> String {
    let s = seconds.max(0.0);
    if s < 120.0 {
        format!("{s:.0} s")
    } else if s < 7200.0 {
        format!("{:.0} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
