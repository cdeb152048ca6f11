//! The state file (`state_file:` in the config): operator overrides, the last verdict of every
//! endpoint and the pool answering each failover record, so a restart answers like before
//! instead of starting from "unknown". Written atomically (temporary file, fsync, rename) by
//! one background writer that always writes the latest state, so a crash leaves either the
//! old or the new file, never a torn one.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::health::state::Status;
use crate::overrides::Overrides;

const VERSION: u32 = 1;

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Saved {
    pub version: u32,
    #[serde(default)]
    pub overrides: Overrides,
    #[serde(default)]
    pub endpoints: Vec<SavedEndpoint>,
    #[serde(default)]
    pub routes: Vec<SavedRoute>,
    /// The last serial of each transferable zone, so serials never go back across a restart.
    #[serde(default)]
    pub serials: Vec<crate::transfer::SavedSerial>,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedEndpoint {
    pub zone: String,
    pub pool: String,
    pub endpoint: String,
    pub state: Status,
}

/// The failover pool answering one record for one record type.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedRoute {
    pub zone: String,
    pub record: String,
    pub family: String,
    pub pool: String,
}

/// Reads the state file; a missing file is an empty state, an unreadable one is logged and
/// ignored (the server starts as if fresh rather than not at all).
pub fn load(path: &Path) -> Saved {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Saved::default(),
        Err(e) => {
            tracing::error!(path = %path.display(), error = %e, "cannot read the state file; starting fresh");
            return Saved::default();
        }
    };
    match serde_json::from_str::<Saved>(&text) {
        Ok(saved) if saved.version == VERSION => saved,
        Ok(saved) => {
            tracing::error!(path = %path.display(), version = saved.version, "unknown state file version; starting fresh");
            Saved::default()
        }
        Err(e) => {
            tracing::error!(path = %path.display(), error = %e, "unreadable state file; starting fresh");
            Saved::default()
        }
    }
}

/// Hands states to the background writer; only changed documents are written.
pub struct Writer {
    latest: watch::Sender<String>,
    task: tokio::task::JoinHandle<()>,
}

impl Writer {
    pub fn start(path: PathBuf) -> Writer {
        let (latest, mut changes) = watch::channel(String::new());
        let task = tokio::spawn(async move {
            // Ends when the sender is dropped, after writing whatever was still pending.
            while changes.changed().await.is_ok() {
                let text = changes.borrow_and_update().clone();
                let path = path.clone();
                match tokio::task::spawn_blocking(move || write_atomically(&path, text.as_bytes())).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => tracing::error!(error = %e, "cannot write the state file"),
                    Err(e) => tracing::error!(error = %e, "state file writer failed"),
                }
            }
        });
        Writer { latest, task }
    }

    pub fn save(&self, mut saved: Saved) {
        saved.version = VERSION;
        let text = serde_json::to_string_pretty(&saved).expect("the state serialises");
        self.latest.send_if_modified(|current| {
            let changed = *current != text;
            if changed {
                *current = text;
            }
            changed
        });
    }

    /// Waits until the latest state is on disk (for shutdown).
    pub async fn flush(self) {
        drop(self.latest);
        let _ = self.task.await;
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename, with
/// fsyncs so that after a crash the file is either entirely old or entirely new.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| std::io::Error::other("the path names no file"))?;
    let temp = dir.join(format!(".{}.{}.tmp", name.to_string_lossy(), std::process::id()));
    let mut file = std::fs::File::create(&temp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temp, path)?;
    std::fs::File::open(dir)?.sync_all()
}
