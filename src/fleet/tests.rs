use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::*;
use crate::model::Check;

fn settings(peers: &[&str]) -> Fleet {
    Fleet {
        secret: Arc::from(&b"0123456789abcdef"[..]),
        peers: peers
            .iter()
            .enumerate()
            .map(|(i, p)| (p.to_string(), format!("127.0.0.{}:9153", i + 2).parse().unwrap()))
            .collect(),
        interval: Duration::from_secs(1),
        stale_after: Duration::from_secs(10),
        hold: Duration::from_secs(60),
    }
}

fn probe(agreement: Agreement) -> Arc<Probe> {
    Arc::new(Probe {
        target: "127.0.0.1:80".parse().unwrap(),
        check: Check::Tcp,
        interval: Duration::from_secs(1),
        timeout: Duration::from_secs(1),
        rise: 1,
        fall: 1,
        flap_hold: Duration::ZERO,
        agreement,
    })
}

fn report(node: &str, votes: &[(&str, Vote)], full: bool) -> Result<(Report, usize), String> {
    let verdicts = votes.iter().map(|&(probe, vote)| WireVerdict { probe: probe.into(), vote, age: 0.0 }).collect();
    Ok((Report { node: node.into(), epoch: 7, generation: 2, full, verdicts, ..Report::default() }, 100))
}

#[test]
fn agreement_rules_count_the_votes() {
    use Vote::{Down, Suppressed, Unknown, Up};
    let routable = |rule, votes: &[Vote]| Agreed::of(rule, votes).routable;
    assert!(routable(Agreement::Majority, &[Up, Up, Down]), "one vantage point alone does not fail over");
    assert!(!routable(Agreement::Majority, &[Up, Down, Down]));
    assert!(routable(Agreement::Majority, &[Up, Down]), "a tie is up");
    assert!(routable(Agreement::AnyUp, &[Down, Down, Up]));
    assert!(!routable(Agreement::AllUp, &[Up, Up, Down]));
    assert!(routable(Agreement::AtLeast(2), &[Up, Up, Down]));
    assert!(!routable(Agreement::AtLeast(2), &[Up, Down, Down]));
    assert!(routable(Agreement::Majority, &[Unknown, Unknown]), "no verdict counts as up, as alone");
    let suppressed = Agreed::of(Agreement::Majority, &[Suppressed, Suppressed, Up]);
    assert_eq!(suppressed, Agreed { routable: false, passing: true });
}

#[test]
fn a_node_without_quorum_holds_then_goes_by_its_own_view_and_rejoins() {
    let t = Instant::now();
    let mut view = View::new("ns1".into(), settings(&["ns2", "ns3"]), 1);
    let probes = [probe(Agreement::Majority)];
    let keys = [probe_key(&probes[0])];
    let key = keys[0].as_str();
    // Both peers see it down: down here too, though this node sees it up.
    view.received("ns2", report("ns2", &[(key, Vote::Down)], true), t);
    view.received("ns3", report("ns3", &[(key, Vote::Down)], true), t);
    assert_eq!(view.update_policy(t), Some(t + Duration::from_secs(10)), "looked at again when a peer goes stale");
    assert!(!view.agree(&probes, &keys, &[Vote::Up], t)[0].routable);
    // Both peers silent past stale_after: no quorum, the last agreed verdict is kept.
    let later = t + Duration::from_secs(11);
    let until = view.update_policy(later).unwrap();
    assert_eq!((view.policy().label(), until), ("holding", later + Duration::from_secs(60)));
    assert!(!view.agree(&probes, &keys, &[Vote::Up], later)[0].routable);
    // The hold ends: own view.
    let after = until + Duration::from_millis(1);
    view.update_policy(after);
    assert_eq!(view.policy(), Policy::OwnView);
    assert!(view.agree(&probes, &keys, &[Vote::Up], after)[0].routable);
    // One peer back makes a quorum of two; its vote and ours tie: up under majority.
    view.received("ns2", report("ns2", &[(key, Vote::Down)], false), after);
    view.update_policy(after);
    assert_eq!(view.policy(), Policy::Agreed);
    assert!(view.agree(&probes, &keys, &[Vote::Up], after)[0].routable);
    let status = view.status(after);
    assert_eq!((status.heard, status.nodes, status.quorum), (2, 3, true));
}

#[test]
fn unknown_peers_and_failures_change_nothing_and_votes_merge_by_delta() {
    let t = Instant::now();
    let mut view = View::new("ns1".into(), settings(&["ns2"]), 1);
    assert!(view.received("ns9", report("ns9", &[], true), t).is_none());
    view.received("ns2", Err("timeout".into()), t);
    assert_eq!(view.status(t).peers[0].error.as_deref(), Some("timeout"));
    view.received("ns2", report("ns2", &[("a", Vote::Down), ("b", Vote::Up)], true), t);
    view.received("ns2", report("ns2", &[("a", Vote::Unknown)], false), t);
    assert_eq!(view.votes("a", Vote::Up, t).get("ns2").map(String::as_str), Some("unknown"));
    assert_eq!(view.votes("b", Vote::Up, t).get("ns2").map(String::as_str), Some("up"));
    view.received("ns2", report("ns2", &[], true), t);
    assert_eq!(view.votes("b", Vote::Up, t).get("ns2").map(String::as_str), Some("unknown"), "a full report replaces");
}

#[test]
fn the_export_sends_only_what_changed_since_the_askers_generation() {
    let mut view = View::new("ns1".into(), settings(&["ns2"]), 42);
    let now = SystemTime::now();
    let overrides = Overrides::default();
    let votes = |list: &[(&'static str, Vote)]| list.iter().map(|&(k, v)| (k, v, now)).collect::<Vec<_>>().into_iter();
    view.publish(votes(&[("a", Vote::Up), ("b", Vote::Up)]), &overrides);
    let first = view.export().report(0, 0, now);
    assert!(first.full && first.verdicts.len() == 2 && first.overrides.is_some());
    view.publish(votes(&[("a", Vote::Down), ("b", Vote::Up)]), &overrides);
    let delta = view.export().report(42, first.generation, now);
    assert!(!delta.full && delta.overrides.is_none());
    assert_eq!(delta.verdicts.iter().map(|v| (v.probe.as_str(), v.vote)).collect::<Vec<_>>(), [("a", Vote::Down)]);
    // Nothing new: nothing sent; a probe gone is sent once as unknown, never in a full report.
    view.publish(votes(&[("a", Vote::Down), ("b", Vote::Up)]), &overrides);
    assert!(view.export().report(42, delta.generation, now).verdicts.is_empty());
    view.publish(votes(&[("a", Vote::Down)]), &overrides);
    let gone = view.export().report(42, delta.generation, now);
    assert_eq!(gone.verdicts.iter().map(|v| (v.probe.as_str(), v.vote)).collect::<Vec<_>>(), [("b", Vote::Unknown)]);
    assert_eq!(view.export().report(41, gone.generation, now).verdicts.len(), 1, "another epoch gets all there is");
}

#[test]
fn the_exchange_of_ten_thousand_endpoints_stays_small() {
    let mut view = View::new("ns1".into(), settings(&["ns2"]), 42);
    let now = SystemTime::now();
    let probes: Vec<Probe> = (0..10_000u32)
        .map(|i| Probe {
            target: SocketAddr::from(([10, 0, (i / 250) as u8, (i % 250) as u8], 8080)),
            ..(*probe(Agreement::Majority)).clone()
        })
        .collect();
    let votes = |down: usize| {
        let list = probes.iter().enumerate().map(move |(i, p)| {
            (probe_key(p), if i < down { Vote::Down } else { Vote::Up }, now - Duration::from_secs(3600))
        });
        list.collect::<Vec<_>>()
    };
    view.publish(votes(0).iter().map(|(k, v, t)| (k.as_str(), *v, *t)), &Overrides::default());
    let size = |report: &Report| serde_json::to_vec(report).unwrap().len();
    let full = view.export().report(0, 0, now);
    view.publish(votes(10).iter().map(|(k, v, t)| (k.as_str(), *v, *t)), &Overrides::default());
    let delta = view.export().report(42, full.generation, now);
    let idle = view.export().report(42, delta.generation, now);
    println!(
        "10,000 endpoints: full {} bytes, 10 changed {} bytes, nothing changed {} bytes",
        size(&full),
        size(&delta),
        size(&idle)
    );
    // What the control task does with every peer answer, at this size (printed, not asserted).
    let arcs: Vec<Arc<Probe>> = probes.iter().cloned().map(Arc::new).collect();
    let keys: Vec<String> = probes.iter().map(probe_key).collect();
    let own = vec![Vote::Up; keys.len()];
    view.received("ns2", Ok((full.clone(), 0)), Instant::now());
    let started = Instant::now();
    for _ in 0..10 {
        view.publish(keys.iter().map(|k| (k.as_str(), Vote::Up, now)), &Overrides::default());
        view.update_policy(Instant::now());
        view.agree(&arcs, &keys, &own, Instant::now());
    }
    println!("10,000 endpoints: a peer answer costs the control task {:?}", started.elapsed() / 10);
    assert!(size(&full) < 800_000, "{}", size(&full));
    assert!(size(&delta) < 1_000 && size(&idle) < 200, "{} {}", size(&delta), size(&idle));
}
