//! Fleets: three real nodes on 127.0.0.1, .2 and .3, each probing from its own address
//! (`probe_source`) real backends that reset connections from some of them, exchanging
//! verdicts over real HTTP through proxies the tests can black-hole; answers compared with
//! real DNS queries to each node.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;
use switchyard::config::fleet::Fleet;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::common::{Backend, Server, eventually, free_port, http, post, rrs};

const SECRET: &str = "fleet-test-secret-0123456789";
const INTERVAL: Duration = Duration::from_millis(250);
const HOLD: Duration = Duration::from_secs(3);

/// A TCP forwarder standing for the network between two nodes: while `held`, nothing it
/// carries arrives (a black hole: connections open, nothing answers).
struct Link {
    addr: SocketAddr,
    held: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Link {
    async fn to(target: SocketAddr) -> Link {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let held = Arc::new(AtomicBool::new(false));
        let flag = held.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let held = flag.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(target).await else { return };
                    let (client_read, client_write) = client.into_split();
                    let (server_read, server_write) = server.into_split();
                    tokio::join!(pump(client_read, server_write, &held), pump(server_read, client_write, &held));
                });
            }
        });
        Link { addr, held, task }
    }

    fn hold(&self, held: bool) {
        self.held.store(held, Ordering::SeqCst);
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn pump(mut from: tokio::net::tcp::OwnedReadHalf, mut to: tokio::net::tcp::OwnedWriteHalf, held: &AtomicBool) {
    let mut buf = vec![0; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        while held.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

fn zone(a: u16, b: u16, dr: u16) -> String {
    format!(
        "origin: fleet.test.\nsoa: {{mname: ns1, rname: hostmaster}}\nmonitors:\n  \
         web: {{type: http, port: 80, interval: 500ms, timeout: 400ms, rise: 1, fall: 1, flap_hold: 0s}}\n\
         pools:\n  \
         a: {{monitor: web, endpoints: [{{address: 192.0.2.1, check_address: 127.0.0.1, port: {a}}}]}}\n  \
         b: {{monitor: web, endpoints: [{{address: 192.0.2.2, check_address: 127.0.0.1, port: {b}}}]}}\n  \
         dr: {{monitor: web, endpoints: [{{address: 192.0.2.9, check_address: 127.0.0.1, port: {dr}}}]}}\n\
         records:\n  \"@\": {{NS: [ns1]}}\n  ns1: {{A: 127.0.0.1}}\n  \
         one: {{dynamic: {{failover: [a, dr], ttl: 30}}}}\n  two: {{dynamic: {{failover: [b, dr], ttl: 30}}}}\n"
    )
}

/// Three nodes, the links between them (`links[i][j]`: how node i reaches node j), and the
/// backends of pools a, b and dr.
struct Three {
    nodes: Vec<Option<Server>>,
    links: Vec<Vec<Option<Link>>>,
    http: Vec<SocketAddr>,
    backends: [Backend; 3],
    dir: tempfile::TempDir,
}

impl Three {
    async fn start() -> Three {
        let backends = [Backend::start().await, Backend::start().await, Backend::start().await];
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("secret"), SECRET).unwrap();
        let http: Vec<SocketAddr> = (1..=3).map(|i| format!("127.0.0.{i}:{}", free_port()).parse().unwrap()).collect();
        let mut links = Vec::new();
        for i in 0..3 {
            let mut row = Vec::new();
            for (j, &target) in http.iter().enumerate() {
                row.push(if i == j { None } else { Some(Link::to(target).await) });
            }
            links.push(row);
        }
        let mut three = Three { nodes: vec![None, None, None], links, http, backends, dir };
        for i in 0..3 {
            three.start_node(i).await;
        }
        for i in 0..3 {
            three.hears_everyone(i).await;
        }
        three
    }

    /// Waits until node `i` has heard from both peers.
    async fn hears_everyone(&self, i: usize) {
        eventually(Duration::from_secs(5), || async { self.status(i).await["fleet"]["heard"] == 3 }).await;
    }

    fn zone(&self) -> String {
        zone(self.backends[0].addr.port(), self.backends[1].addr.port(), self.backends[2].addr.port())
    }

    async fn start_node(&mut self, i: usize) {
        let peers = (0..3)
            .filter(|&j| j != i)
            .map(|j| (format!("ns{}", j + 1), self.links[i][j].as_ref().unwrap().addr))
            .collect();
        let (http, state) = (self.http[i], self.dir.path().join(format!("ns{}.json", i + 1)));
        let zone = self.zone();
        let server = Server::start_with(&[("fleet.test.yaml", zone.as_str())], |s| {
            s.listen = vec![format!("127.0.0.{}:0", i + 1).parse().unwrap()];
            s.http = http;
            s.node = format!("ns{}", i + 1);
            s.probe_source = Some(format!("127.0.0.{}", i + 1).parse().unwrap());
            s.state_file = Some(state);
            s.fleet = Some(Fleet {
                secret: SECRET.as_bytes().into(),
                peers,
                interval: INTERVAL,
                stale_after: Duration::from_secs(2),
                hold: HOLD,
            });
        })
        .await;
        self.nodes[i] = Some(server);
    }

    fn node(&self, i: usize) -> &Server {
        self.nodes[i].as_ref().unwrap()
    }

    /// Cuts (or restores) every link into and out of node `i`.
    fn isolate(&self, i: usize, cut: bool) {
        for (a, row) in self.links.iter().enumerate() {
            for (b, link) in row.iter().enumerate() {
                if let Some(link) = link.as_ref().filter(|_| a == i || b == i) {
                    link.hold(cut);
                }
            }
        }
    }

    /// What node `i` answers for `one` and `two` (A records).
    async fn answers(&self, i: usize) -> [Vec<String>; 2] {
        let node = self.node(i);
        [
            rrs(&node.query("one.fleet.test.", RecordType::A).await.answers),
            rrs(&node.query("two.fleet.test.", RecordType::A).await.answers),
        ]
    }

    /// Waits until the nodes in `which` all answer `one` and `two` with these addresses.
    async fn agree(&self, which: &[usize], one: &str, two: &str, limit: Duration) -> Duration {
        eventually(limit, || async {
            for &i in which {
                let [a, b] = self.answers(i).await;
                let wanted = |rrs: &[String], ip: &str| rrs.len() == 1 && rrs[0].ends_with(ip);
                if !wanted(&a, one) || !wanted(&b, two) {
                    return false;
                }
            }
            true
        })
        .await
    }

    async fn status(&self, i: usize) -> serde_json::Value {
        serde_json::from_str(&self.node(i).http_get("/status").await.1).unwrap()
    }
}

fn endpoint<'a>(status: &'a serde_json::Value, pool: &str) -> &'a serde_json::Value {
    let pools = status["zones"][0]["pools"].as_array().unwrap();
    &pools.iter().find(|p| p["name"] == pool).unwrap()["endpoints"][0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_agree_by_majority_whatever_each_one_sees() {
    let three = Three::start().await;
    three.agree(&[0, 1, 2], "192.0.2.1", "192.0.2.2", Duration::from_secs(5)).await;
    // A path broken from ns1 only: ns1's probes fail, the fleet keeps the endpoint up everywhere.
    three.backends[0].refuse_from(&["127.0.0.1"]);
    eventually(Duration::from_secs(5), || async { endpoint(&three.status(0).await, "a")["votes"]["ns1"] == "down" })
        .await;
    tokio::time::sleep(INTERVAL * 4).await;
    three.agree(&[0, 1, 2], "192.0.2.1", "192.0.2.2", Duration::ZERO).await;
    let seen = three.status(0).await;
    let a = endpoint(&seen, "a");
    assert_eq!((a["state"].as_str(), a["agreement"].as_str()), (Some("up"), Some("majority")), "{a}");
    assert_eq!(a["votes"], serde_json::json!({"ns1": "down", "ns2": "up", "ns3": "up"}));
    // Broken from two of three: down on all three, soon after the second node's verdict.
    three.backends[1].refuse_from(&["127.0.0.1", "127.0.0.2"]);
    let started = Instant::now();
    three.agree(&[0, 1, 2], "192.0.2.1", "192.0.2.9", Duration::from_secs(5)).await;
    println!("failed over on all three nodes {:?} after two of them lost the path", started.elapsed());
    // Every node answers alike, name by name, and says so.
    let answers = [three.answers(0).await, three.answers(1).await, three.answers(2).await];
    assert!(answers[0] == answers[1] && answers[1] == answers[2], "{answers:?}");
    for i in 0..3 {
        let node = three.node(i);
        eventually(Duration::from_secs(3), || async {
            node.metric("switchyard_fleet_answers_in_sync", &[("zone", "fleet.test.")]).await == Some(1.0)
        })
        .await;
        assert_eq!(node.metric("switchyard_fleet_quorum", &[]).await, Some(1.0));
        assert_eq!(node.metric("switchyard_fleet_policy", &[("policy", "agreed")]).await, Some(1.0));
    }
    // Drift: ns3 serves another version of the zone; the others see it, and so does the CLI.
    three.node(2).write_zone("fleet.test.yaml", &three.zone().replace("ttl: 30}}\n  two", "ttl: 60}}\n  two"));
    assert_eq!(three.node(2).reload().await.0, 200);
    let node = three.node(0);
    eventually(Duration::from_secs(3), || async {
        node.metric("switchyard_fleet_config_in_sync", &[("zone", "fleet.test.")]).await == Some(0.0)
    })
    .await;
    let cli = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["fleet", "--http", &three.http[0].to_string()])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&cli.stdout);
    assert_eq!(cli.status.code(), Some(1), "drift makes `fleet` fail: {out}");
    assert!(out.contains("node ns1: hears 3 of 3 nodes (quorum), deciding by agreement"), "{out}");
    assert!(out.contains("ns3 (config)"), "{out}");
    assert!(out.contains("endpoint 192.0.2.1: ns1 down, ns2 up, ns3 up -> up (majority)"), "{out}");
    let cli = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["status", "--http", &three.http[0].to_string()])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&cli.stdout);
    assert!(out.starts_with("node ns1 hears 3 of 3 nodes (quorum), policy agreed"), "{out}");
    assert!(out.contains("[votes: ns1 down, ns2 up, ns3 up]"), "{out}");
    let (_, page) = node.http_get("/").await;
    for shown in [
        "hears 3 of 3 nodes (quorum), deciding by agreement",
        "votes: ns1 down, ns2 up, ns3 up (majority)",
        "ns3 (config)",
    ] {
        assert!(page.contains(shown), "{shown} not on the status page");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_isolated_node_holds_then_goes_its_own_way_and_rejoins() {
    let three = Three::start().await;
    three.agree(&[0, 1, 2], "192.0.2.1", "192.0.2.2", Duration::from_secs(5)).await;
    three.isolate(0, true);
    eventually(Duration::from_secs(5), || async { three.status(0).await["fleet"]["policy"] == "holding" }).await;
    let held_at = Instant::now();
    // Now ns1 loses its own path to a: it keeps the agreed verdict while it holds...
    three.backends[0].refuse_from(&["127.0.0.1"]);
    eventually(Duration::from_secs(3), || async { endpoint(&three.status(0).await, "a")["votes"]["ns1"] == "down" })
        .await;
    let seen = three.status(0).await;
    assert_eq!(
        three.answers(0).await[0],
        ["one.fleet.test. 30 A 192.0.2.1"],
        "{} {}",
        endpoint(&seen, "a"),
        seen["fleet"]
    );
    let status = three.status(0).await;
    assert_eq!((status["fleet"]["quorum"].as_bool(), status["fleet"]["heard"].as_u64()), (Some(false), Some(1)));
    assert_eq!(three.node(0).metric("switchyard_fleet_policy", &[("policy", "holding")]).await, Some(1.0));
    // ...while the other two keep agreeing (b lost from both of them: both fail over).
    three.backends[1].refuse_from(&["127.0.0.2", "127.0.0.3"]);
    three.agree(&[1, 2], "192.0.2.1", "192.0.2.9", Duration::from_secs(5)).await;
    // The hold ends: ns1 goes by its own probes (a down, b up from where it stands).
    three.agree(&[0], "192.0.2.9", "192.0.2.2", HOLD + Duration::from_secs(3)).await;
    assert!(held_at.elapsed() >= HOLD - INTERVAL * 4, "not before the hold ended: {:?}", held_at.elapsed());
    assert_eq!(three.status(0).await["fleet"]["policy"], "own_view");
    assert_eq!(three.node(0).metric("switchyard_fleet_peer_up", &[("peer", "ns2")]).await, Some(0.0));
    // Healed: all three converge (a: 2 up of 3; b: 2 down of 3).
    three.isolate(0, false);
    three.agree(&[0, 1, 2], "192.0.2.1", "192.0.2.9", Duration::from_secs(5)).await;
    assert_eq!(three.status(0).await["fleet"]["policy"], "agreed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_override_set_on_one_node_is_in_force_on_all_even_after_a_restart() {
    let mut three = Three::start().await;
    three.agree(&[0, 1, 2], "192.0.2.1", "192.0.2.2", Duration::from_secs(5)).await;
    let body = r#"{"state": "down", "reason": "drill", "for": "6s"}"#;
    let (status, reply) = post(three.http[0], "/pools/a", body, None).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["applied"]["override"]["author"], "ns1");
    assert_eq!(reply["nodes"], serde_json::json!({"ns1": "applied", "ns2": "applied", "ns3": "applied"}), "{reply}");
    three.agree(&[0, 1, 2], "192.0.2.9", "192.0.2.2", INTERVAL * 4).await;
    // ns3 restarts without its state file: it learns the override from its peers.
    three.nodes[2].take().unwrap().running.stop().await;
    std::fs::remove_file(three.dir.path().join("ns3.json")).unwrap();
    three.start_node(2).await;
    // It serves DNS once it hears a quorum: its first answers already follow the override.
    three.agree(&[2], "192.0.2.9", "192.0.2.2", Duration::ZERO).await;
    let status = three.status(2).await;
    assert_eq!(status["overrides"][0]["override"]["reason"], "drill", "{status}");
    // It expires everywhere at the same moment.
    three.agree(&[0, 1, 2], "192.0.2.1", "192.0.2.2", Duration::from_secs(8)).await;
    for i in 0..3 {
        assert_eq!(three.status(i).await["overrides"], serde_json::json!([]));
    }
    // A clearing travels too, and the later change wins: set on ns2, cleared on ns3.
    let (status, _) = post(three.http[1], "/endpoints/b/192.0.2.2", r#"{"state": "down", "reason": "r"}"#, None).await;
    assert_eq!(status, 200);
    three.agree(&[0, 1, 2], "192.0.2.1", "192.0.2.9", INTERVAL * 8).await;
    let (status, reply) = post(three.http[2], "/endpoints/b/192.0.2.2", r#"{"state": "auto"}"#, None).await;
    assert_eq!((status, &reply["nodes"]["ns1"]), (200, &serde_json::json!("applied")), "{reply}");
    three.agree(&[0, 1, 2], "192.0.2.1", "192.0.2.2", INTERVAL * 8).await;
}

/// A fake peer: answers every request with `reply` (after `delay`).
async fn fake_peer(reply: &'static [u8], delay: Duration) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0; 4096];
                let _ = stream.read(&mut buf).await;
                tokio::time::sleep(delay).await;
                let _ = stream.write_all(reply).await;
                if reply.ends_with(b"\r\n\r\n") {
                    // A body without end: as much as the node reads.
                    let chunk = vec![b'['; 64 * 1024];
                    while stream.write_all(&chunk).await.is_ok() {}
                }
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn peers_must_sign_and_bad_peers_cannot_hurt_a_node() {
    let dr = Backend::start().await;
    let garbage =
        fake_peer(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot json!", Duration::ZERO).await;
    let huge = fake_peer(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n", Duration::ZERO).await;
    let silent = fake_peer(b"", Duration::from_secs(3600)).await;
    let zone = zone(dr.addr.port(), dr.addr.port(), dr.addr.port());
    let node = Server::start_with(&[("fleet.test.yaml", zone.as_str())], |s| {
        s.node = "ns1".into();
        s.fleet = Some(Fleet {
            secret: SECRET.as_bytes().into(),
            peers: vec![("garbage".into(), garbage), ("huge".into(), huge), ("silent".into(), silent)],
            interval: INTERVAL,
            stale_after: Duration::from_secs(2),
            hold: Duration::from_secs(60),
        });
    })
    .await;
    eventually(Duration::from_secs(5), || async {
        let status: serde_json::Value = serde_json::from_str(&node.http_get("/status").await.1).unwrap();
        let errors: Vec<String> = status["fleet"]["peers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["error"].as_str().unwrap_or("").to_string())
            .collect();
        errors[0].contains("not signed") && errors[1].contains("larger than") && errors[2].contains("timed out")
    })
    .await;
    // Still answering, and within bounds.
    assert_eq!(rrs(&node.query("one.fleet.test.", RecordType::A).await.answers), ["one.fleet.test. 30 A 192.0.2.1"]);
    assert_eq!(node.metric("switchyard_fleet_peer_up", &[("peer", "huge")]).await, Some(0.0));
    // The exchange refuses whoever cannot sign.
    let path = "/fleet/exchange?epoch=0&since=0";
    assert_eq!(http(node.running.http, "GET", path).await.0, 401);
    let signed = |secret: &str, who: &str, time: u64| {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
        let mac = ring::hmac::sign(&key, format!("switchyard-peer\n{who}\n{time}\n{path}").as_bytes());
        mac.as_ref().iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let ask = |who: &'static str, mac: String, time: u64| {
        let url = format!("http://{}{path}", node.running.http);
        async move {
            let client = reqwest::Client::builder().no_proxy().build().unwrap();
            let request = client.get(url).header("x-switchyard-node", who).header("x-switchyard-time", time);
            let response = request.header("x-switchyard-signature", mac).send().await.unwrap();
            let signature = response.headers().get("x-switchyard-signature").cloned();
            (response.status().as_u16(), signature, response.bytes().await.unwrap())
        }
    };
    assert_eq!(ask("huge", signed("wrong-secret-0123456789", "huge", now), now).await.0, 401);
    assert_eq!(ask("huge", signed(SECRET, "huge", now - 300), now - 300).await.0, 401, "outside the replay window");
    assert_eq!(ask("stranger", signed(SECRET, "stranger", now), now).await.0, 403);
    let mac = signed(SECRET, "huge", now);
    let (status, signature, body) = ask("huge", mac.clone(), now).await;
    assert_eq!(status, 200);
    let report: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((report["node"].as_str(), report["full"].as_bool()), (Some("ns1"), Some(true)));
    assert_eq!(report["verdicts"].as_array().unwrap().len(), 1, "one probe (the same check on every pool)");
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, SECRET.as_bytes());
    let expected = ring::hmac::sign(&key, &[mac.as_bytes(), &body].concat());
    let expected: String = expected.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(signature.unwrap().to_str().unwrap(), expected, "the answer is signed for this request");
}
