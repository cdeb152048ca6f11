//! The status page at `/`: the `/status` document as one self-contained HTML page that an
//! operator can keep open during an incident (it refreshes itself every 5 seconds).

use std::fmt::Write;

use serde_json::Value;

const STYLE: &str = "body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}\
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}table{border-collapse:collapse;margin:.4em 0 1em}\
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}th{background:#f3f3f3}\
.up{background:#d9f2d9}.down{background:#f8d0d0}.unknown{background:#eee}.warn,.suppressed{background:#fde8b4}\
.muted{color:#777}code{font-size:.95em}";

pub fn render(status: &Value) -> String {
    let mut out = format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8><meta http-equiv=refresh content=5>\
         <meta name=viewport content='width=device-width,initial-scale=1'><title>switchyard status</title>\
         <style>{STYLE}</style></head><body><h1>switchyard</h1>\
         <p class=muted>Generated {} · refreshes every 5 s. Raw data: <a href=/status>/status</a> · \
         <a href=/metrics>/metrics</a></p>",
        status["generated_at"].as_f64().map_or("—".into(), timestamp)
    );
    let overrides = status["overrides"].as_array().map_or(&[][..], Vec::as_slice);
    if !overrides.is_empty() {
        out += "<h2>Overrides in force</h2><table><tr><th>zone</th><th>pool</th><th>endpoint</th><th>forced</th>\
                <th>reason</th><th>expires</th></tr>";
        for o in overrides {
            let (s, v) = (&o["subject"], &o["override"]);
            let _ = write!(
                out,
                "<tr class=warn><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                text(&s["zone"]),
                text(&s["pool"]),
                s["endpoint"].as_str().map_or("(whole pool)".into(), escape),
                text(&v["state"]),
                text(&v["reason"]),
                v["until"].as_f64().map_or("never".into(), |t| format!("in {}", ago(-seconds_from_now(t))))
            );
        }
        out += "</table>";
    }
    for zone in status["zones"].as_array().into_iter().flatten() {
        let _ = write!(out, "<h2>{} <span class=muted>serial {}</span></h2>", text(&zone["origin"]), zone["serial"]);
        let records = zone["records"].as_array().map_or(&[][..], Vec::as_slice);
        if !records.is_empty() {
            out += "<table><tr><th>record</th><th>type</th><th>answering pools</th><th>state</th></tr>";
            for record in records {
                for (family, route) in record["families"].as_object().into_iter().flatten() {
                    let pools: Vec<String> =
                        route["answering_pools"].as_array().into_iter().flatten().map(text).collect();
                    let class = match (route["all_down"] == true, route["summary"] == "normal") {
                        (true, _) => "down",
                        (false, true) => "up",
                        (false, false) => "warn",
                    };
                    let shown = text(&route["summary"]);
                    let _ = write!(
                        out,
                        "<tr class={class}><td>{}</td><td>{family}</td><td>{}</td><td>{shown}</td></tr>",
                        text(&record["name"]),
                        pools.join(", ")
                    );
                }
            }
            out += "</table>";
        }
        for pool in zone["pools"].as_array().into_iter().flatten() {
            let _ = write!(
                out,
                "<p><b>pool {}</b> <span class=muted>min_healthy {}</span></p>",
                text(&pool["name"]),
                pool["min_healthy"]
            );
            out += "<table><tr><th>endpoint</th><th>state</th><th>reason</th><th>for</th><th>probe</th>\
                    <th>last check</th><th>latency</th><th>weight</th><th>recent transitions</th></tr>";
            for e in pool["endpoints"].as_array().into_iter().flatten() {
                let state = e["state"].as_str().unwrap_or("unknown");
                let class = state.split(' ').next().unwrap_or("unknown");
                let reason = match e["override"].as_object() {
                    Some(o) => format!(
                        "forced by operator: {} <span class=muted>(checks say {})</span>",
                        text(&o["reason"]),
                        text(&e["checked_state"])
                    ),
                    None => match e["suppressed_seconds_left"].as_f64() {
                        Some(left) => format!(
                            "{} <span class=muted>(suppressed for flapping: penalty {}, released in {})</span>",
                            text(&e["reason"]),
                            e["flap_penalty"],
                            ago(left)
                        ),
                        None => text(&e["reason"]),
                    },
                };
                let transitions: Vec<String> = e["transitions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .rev()
                    .take(3)
                    .map(|t| {
                        format!(
                            "{} → {} {} ago ({})",
                            text(&t["from"]),
                            text(&t["to"]),
                            ago(seconds_from_now(t["at"].as_f64().unwrap_or(0.0))),
                            text(&t["reason"])
                        )
                    })
                    .collect();
                let _ = write!(
                    out,
                    "<tr class={class}><td><code>{}</code></td><td>{}</td><td>{reason}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    text(&e["endpoint"]),
                    escape(state),
                    e["seconds_in_state"].as_f64().map_or(String::new(), ago),
                    match e["probe"].as_str() {
                        Some(target) => format!("{} <code>{}</code>", text(&e["monitor"]), escape(target)),
                        None => "<span class=muted>not monitored</span>".into(),
                    },
                    e["last_check"]["at"]
                        .as_f64()
                        .map_or("—".into(), |t| format!("{} ago", ago(seconds_from_now(t)))),
                    e["last_check"]["latency_seconds"]
                        .as_f64()
                        .map_or("—".into(), |l| format!("{:.1} ms", l * 1000.0)),
                    e["weight"],
                    transitions.join("<br>")
                );
            }
            out += "</table>";
        }
    }
    out += "</body></html>\n";
    out
}

/// A Unix time as people read it: `2026-11-30 15:07:16 UTC`.
fn timestamp(unix: f64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs_f64(unix.max(0.0));
    crate::unix_time::rfc3339(time).replace('T', " ").replace('Z', " UTC")
}

/// Seconds since a Unix time (negative for the future).
fn seconds_from_now(unix: f64) -> f64 {
    crate::unix_time::now() - unix
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

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => escape(s),
        Value::Null => String::new(),
        other => escape(&other.to_string()),
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
