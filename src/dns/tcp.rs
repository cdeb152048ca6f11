//! TCP (RFC 7766): many queries per connection, pipelined, answered in order. Limits keep
//! idle or slow clients from holding connections forever, and the accept loop survives any
//! per-connection error (unlike hickory-server 0.26.3, issue #3725).

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};

use super::{SharedTable, Transport, respond};
use crate::metrics::{Metrics, QueryStats};

#[derive(Clone, Copy, Debug)]
pub struct TcpLimits {
    pub max_connections: usize,
    /// How long a connection may sit without sending a complete query.
    pub idle_timeout: Duration,
}

/// Accepts connections until `stop` turns true.
pub async fn serve_tcp(
    listener: TcpListener,
    table: SharedTable,
    metrics: Arc<Metrics>,
    limits: TcpLimits,
    mut stop: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|&s| s) => return,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) if is_resource_exhaustion(&e) => {
                tracing::warn!(error = %e, "TCP accept failed; pausing briefly");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            // Aborted handshakes and the like concern one client only.
            Err(_) => continue,
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            continue; // over the limit: close at once
        };
        let (table, metrics) = (table.clone(), metrics.clone());
        tokio::spawn(async move {
            let _ = connection(stream, table, metrics, limits.idle_timeout).await;
            drop(permit);
        });
    }
}

fn is_resource_exhaustion(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(23 | 24 | 105 | 12)) // ENFILE, EMFILE, ENOBUFS, ENOMEM
}

async fn connection(stream: TcpStream, table: SharedTable, metrics: Arc<Metrics>, idle: Duration) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let (reader, writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    let mut writer = BufWriter::new(writer);
    let mut stats = QueryStats::new(metrics);
    let mut packet = vec![0u8; 65_535];
    let mut out = Vec::with_capacity(4096);
    loop {
        let Ok(len) = tokio::time::timeout(idle, reader.read_u16()).await else { break };
        let len = len? as usize;
        if len == 0 {
            break;
        }
        tokio::time::timeout(idle, reader.read_exact(&mut packet[..len])).await.map_err(io::Error::other)??;
        let started = Instant::now();
        let table = table.load();
        let Some(outcome) = respond(&table, &packet[..len], Transport::Tcp, &mut out) else { continue };
        writer.write_all(&(out.len() as u16).to_be_bytes()).await?;
        writer.write_all(&out).await?;
        // Pipelined queries already buffered are answered before one flush.
        if reader.buffer().is_empty() {
            writer.flush().await?;
        }
        stats.record(table.zones(), &outcome, Transport::Tcp, started, Instant::now());
    }
    writer.flush().await
}
