//! Answers: `compile(model, health) -> AnswerTable` and `AnswerTable::lookup(qname, qtype)`.
//! Pure: no sockets, no tokio, no clocks. The DNS front-end only reads what this builds.

mod compile;
pub mod route;
mod table;
pub mod template;

pub use compile::{Compiler, Health, Located, RouteKey, Routes, ZoneHealth};
pub use table::{Answer, AnswerSet, AnswerTable};
pub use template::{Rcode, Template};
