//! The safe body parsers of `crate::json::parse`, under the name the HTTP layer has always used.

pub use crate::json::parse::{parse_array, parse_object, typed, BodyError};
