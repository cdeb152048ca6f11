//! The control plane: decide, then do. [`Control`] (`decide.rs`) is plain state and rules
//! over the dense ids of one model (probe ids, zone and pool indices, labels computed once):
//! probe verdicts with flap damping, operator overrides, routing memory, and `rebase`, which
//! carries all of it across a reload. It never awaits, sends, logs or counts. The task
//! (`task.rs`) is the only writer: it feeds Control its inputs, publishes each decision (the
//! answer table with its typed [`crate::status::Status`], `report.rs`) in one atomic store,
//! and does the side effects. `explain.rs` describes answers with the code that builds them.
//!
//! Depends on `answer`, `health`, `model`, `overrides`, `state_file`, `status`, `metrics`;
//! never on `dns` or `http`.

mod decide;
mod explain;
mod report;
mod task;

pub use decide::{Applied, Control, OverrideRequest, Refusal};
pub use explain::ExplainRequest;
pub use task::{Handle, start};
