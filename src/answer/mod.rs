//! Answers: `compile(model, health) -> AnswerTable` and `AnswerTable::lookup(qname, qtype)`.
//! Pure: no sockets, no tokio, no clocks. The DNS front-end only reads what this builds.

mod compile;
pub mod route;
mod table;
pub mod template;

pub use compile::{Compiler, LiveRrsets, Located, RouteKey, Routes, follows_health};
pub use route::Health;
pub use table::{Answer, AnswerSet, AnswerTable};
pub use template::{Denial, Rcode, Serial, Template};

use std::sync::Arc;

use arc_swap::ArcSwap;

/// One publication of the control plane: the answers and the status document that describes
/// them, swapped in together so that they always agree. (Between two decisions the status
/// alone may be refreshed with the latest probe details, beside the same answers.)
#[derive(Default)]
pub struct Published {
    pub answers: Arc<AnswerTable>,
    pub status: crate::status::Status,
    /// The versions zone transfers are answered from.
    pub transfers: Arc<crate::transfer::Transfers>,
    /// What this node tells its peers, in a fleet.
    pub exchange: Option<Arc<crate::fleet::Export>>,
}

/// The current publication: one atomic pointer, swapped whole by the control task and read
/// without locks by the query path and the HTTP API.
pub type Shared = Arc<ArcSwap<Published>>;
