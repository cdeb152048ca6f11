//! TCP (RFC 7766): many queries per connection, pipelined, answered in order. Limits keep
//! idle or slow clients from holding connections forever (a global cap, a cap per client
//! address, an idle timeout), the accept loop survives any per-connection error (unlike
//! hickory-server 0.26.3, issue #3725), and a stop lets every connection finish the query it
//! is answering before it closes.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};

use super::{Handoff, Identity, Outcome, QueryStats, Transport, rcode_of, respond};
use crate::answer::Shared;
use crate::metrics::Metrics;

#[derive(Clone, Copy, Debug)]
pub struct TcpLimits {
    pub max_connections: usize,
    /// Connections one client address may hold at once.
    pub max_connections_per_ip: usize,
    /// How long a connection may sit without sending a complete query.
    pub idle_timeout: Duration,
}

/// Open connections per client address; an entry leaves when its last connection closes.
#[derive(Default)]
struct PerClient(Mutex<HashMap<IpAddr, usize>>);

/// One client's hold on a connection slot; released on drop.
struct ClientSlot {
    clients: Arc<PerClient>,
    ip: IpAddr,
}

impl PerClient {
    fn claim(self: &Arc<Self>, ip: IpAddr, limit: usize) -> Option<ClientSlot> {
        let mut open = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(ip).or_default();
        if *count >= limit {
            return None;
        }
        *count += 1;
        Some(ClientSlot { clients: self.clone(), ip })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut open = self.clients.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// Accepts connections until `stop` turns true, then waits (at most `drain`) for open
/// connections to finish the query they are answering.
pub async fn serve_tcp(
    listener: TcpListener,
    table: Shared,
    identity: Arc<Identity>,
    metrics: Arc<Metrics>,
    limits: TcpLimits,
    mut stop: watch::Receiver<bool>,
    drain: Duration,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let clients = Arc::new(PerClient::default());
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|&s| s) => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) if is_resource_exhaustion(&e) => {
                tracing::warn!(error = %e, "TCP accept failed; pausing briefly");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            // Aborted handshakes and the like concern one client only.
            Err(_) => continue,
        };
        // Over either limit: close at once.
        let Some(client) = clients.claim(peer.ip().to_canonical(), limits.max_connections_per_ip) else { continue };
        let Ok(permit) = slots.clone().try_acquire_owned() else { continue };
        let (table, identity, metrics, stop) = (table.clone(), identity.clone(), metrics.clone(), stop.clone());
        tokio::spawn(async move {
            let _ = connection(stream, peer.ip(), table, &identity, metrics, limits.idle_timeout, stop).await;
            drop((permit, client));
        });
    }
    drop(listener);
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(drain, slots.acquire_many(all)).await;
}

fn is_resource_exhaustion(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(23 | 24 | 105 | 12)) // ENFILE, EMFILE, ENOBUFS, ENOMEM
}

async fn connection(
    stream: TcpStream,
    peer: IpAddr,
    table: Shared,
    identity: &Identity,
    metrics: Arc<Metrics>,
    idle: Duration,
    mut stop: watch::Receiver<bool>,
) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let (reader, writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    let mut writer = BufWriter::new(writer);
    let mut stats = QueryStats::new(metrics);
    let mut packet = vec![0u8; 65_535];
    let mut out = Vec::with_capacity(4096);
    loop {
        // Between queries a stop closes the connection; queries already sent are answered
        // first (`biased`: the read is polled before the stop).
        let len = tokio::select! {
            biased;
            len = tokio::time::timeout(idle, reader.read_u16()) => match len {
                Ok(len) => len?,
                Err(_) => break,
            },
            _ = stop.wait_for(|&s| s) => break,
        };
        let len = len as usize;
        if len == 0 {
            break;
        }
        tokio::time::timeout(idle, reader.read_exact(&mut packet[..len])).await.map_err(io::Error::other)??;
        let started = Instant::now();
        let current = table.load();
        let Some(mut outcome) = respond(&current.answers, identity, &packet[..len], Transport::Tcp, &mut out) else {
            continue;
        };
        if outcome.handoff == Some(Handoff::Sign) {
            current.transfers.keys.sign_response(&packet[..len], &mut out);
            outcome.rcode = rcode_of(&out);
        }
        if outcome.handoff == Some(Handoff::Transfer) {
            // A zone transfer: its messages are built off the runtime's threads, from the
            // version published when it was asked for, and written as they come (a few wait
            // at most: a slow client holds back the building, not memory).
            let (transfers, request) = (current.transfers.clone(), packet[..len].to_vec());
            let (messages, mut built) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
            tokio::task::spawn_blocking(move || {
                transfers.answer(&request, peer, Transport::Tcp, &mut |m| messages.blocking_send(m).is_ok())
            });
            let mut rcode = None;
            while let Some(message) = built.recv().await {
                rcode.get_or_insert(rcode_of(&message));
                let Ok(len) = u16::try_from(message.len()) else { break };
                writer.write_all(&len.to_be_bytes()).await?;
                writer.write_all(&message).await?;
            }
            writer.flush().await?;
            let Some(rcode) = rcode else { continue };
            stats.record(
                current.answers.zones(),
                &Outcome { rcode, ..outcome },
                Transport::Tcp,
                started,
                Instant::now(),
            );
            continue;
        }
        // Templates leave room for the OPT record, so every response fits; one that did not
        // would be dropped, never sent with a wrong length.
        let Ok(len) = u16::try_from(out.len()) else { continue };
        writer.write_all(&len.to_be_bytes()).await?;
        writer.write_all(&out).await?;
        // Pipelined queries already buffered are answered before one flush.
        if reader.buffer().is_empty() {
            writer.flush().await?;
        }
        stats.record(current.answers.zones(), &outcome, Transport::Tcp, started, Instant::now());
    }
    writer.flush().await
}
