//! Newtypes for the ids the gateway protocol carries, so a run id cannot be passed where a
//! request id is meant. (The session key is [`crate::routing::SessionKey`].)

use std::borrow::Borrow;
use std::fmt;

/// The id of one run (= the `idempotencyKey` we send; the gateway's `runId`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RunId(String);

/// The id of one request frame (`req.id`, echoed by its `res`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestId(String);

macro_rules! string_id {
    ($name:ident) => {
        impl $name {
            /// A fresh random id (UUID v4).
            pub fn new() -> $name {
                $name(uuid::Uuid::new_v4().to_string())
            }

            /// The id as sent on the wire.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                $name(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                $name(id.to_owned())
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_id!(RunId);
string_id!(RequestId);
