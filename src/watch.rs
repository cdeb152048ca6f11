//! Reload on zone file changes (`watch: true`). Editors save in bursts (write a temporary
//! file, rename, touch the backup), so events are debounced into one reload per burst; a
//! reload that catches a half-written file is rejected like any other and the next event
//! retries it.

use std::path::Path;
use std::time::Duration;

use notify_debouncer_full::notify::event::{EventKind, ModifyKind};
use notify_debouncer_full::notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};
use tokio::sync::mpsc;

use crate::config;
use crate::control::Handle;

/// Quiet time after the last change before reloading.
pub const DEBOUNCE: Duration = Duration::from_millis(300);

/// A running watcher; dropping it stops watching.
pub type Watcher = Debouncer<RecommendedWatcher, RecommendedCache>;

/// Watches `dir` until the returned watcher is dropped.
pub fn start(dir: &Path, control: Handle) -> anyhow::Result<Watcher> {
    let (changed, mut changes) = mpsc::unbounded_channel();
    let mut debouncer = new_debouncer(DEBOUNCE, None, move |events: DebounceEventResult| match events {
        Ok(events) => {
            // Content changes only: reading a file (as a reload does) must not trigger one.
            let edits = |kind: &EventKind| match kind {
                EventKind::Modify(ModifyKind::Metadata(_)) => false,
                kind => kind.is_create() || kind.is_modify() || kind.is_remove(),
            };
            if events.iter().any(|e| edits(&e.kind) && e.paths.iter().any(|p| config::is_zone_file_name(p))) {
                let _ = changed.send(());
            }
        }
        Err(errors) => errors.iter().for_each(|e| tracing::warn!(error = %e, "zone file watcher error")),
    })?;
    debouncer.watch(dir, RecursiveMode::NonRecursive)?;
    tokio::spawn(async move {
        while changes.recv().await.is_some() {
            while changes.try_recv().is_ok() {} // one reload covers every change so far
            match control.reload().await {
                Ok(summary) => tracing::info!(%summary, "reloaded after a zone file change"),
                Err(problems) => tracing::error!(errors = problems.len(), "reload after a zone file change rejected"),
            }
        }
    });
    Ok(debouncer)
}
