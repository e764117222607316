//! The engine for hosts that do not run async Rust: the C ABI, a plain
//! `main`, a thread pool of an ERP. A [`BlockingEngine`] owns its runtime
//! and answers each call before it returns.
//!
//! ```no_run
//! # fn demo() -> crcm::Result<()> {
//! use crcm::blocking::BlockingEngine;
//! use crcm::open::StoreOptions;
//!
//! let engine = BlockingEngine::open("sled:./crcm-data", &StoreOptions::default())?;
//! let answer = engine.handle_json(
//!     r#"{"actor": {"user": "ann", "role": "manager"}, "type": "get_lead_by_number", "number": 1}"#,
//! );
//! println!("{answer}");
//! # Ok(())
//! # }
//! ```
//!
//! Calls may come from any number of host threads at once. A call from a
//! thread that is itself running an async runtime would block that runtime,
//! so it is refused with `inside_runtime` (8001) instead; use the async
//! [`Engine`] there. A panic inside crcm (a bug) is caught and answered as
//! `internal` (8002); it never unwinds into the host.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crcm_core::engine::api::{Envelope, Request, Response};
use crcm_core::error::RequestError;
use crcm_core::{Engine, Error};
use tokio::runtime::Runtime;

/// An [`Engine`] with its own runtime, answering every call before it
/// returns.
#[derive(Debug)]
pub struct BlockingEngine {
    // An `Option` so that `Drop` can shut the runtime down without blocking
    // when the engine is dropped inside another runtime.
    runtime: Option<Runtime>,
    engine: Engine,
}

/// The runtime a blocking engine owns: two workers for the SQL drivers'
/// background tasks; calls run on the calling thread.
fn runtime() -> Result<Runtime, Error> {
    refuse_inside_runtime()?;
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("crcm")
        .enable_all()
        .build()
        .map_err(|e| {
            RequestError::Internal {
                message: format!("the runtime could not start: {e}"),
            }
            .into()
        })
}

fn refuse_inside_runtime() -> Result<(), Error> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(RequestError::InsideRuntime.into());
    }
    Ok(())
}

/// The text of a caught panic's payload.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

impl BlockingEngine {
    /// Opens the store `spec` names (see [`crate::open`]) and an engine
    /// over it.
    #[cfg(any(feature = "sled", feature = "sea"))]
    pub fn open(spec: &str, options: &crate::open::StoreOptions) -> Result<Self, Error> {
        let runtime = runtime()?;
        let engine = runtime.block_on(crate::open::open_engine(spec, options))?;
        Ok(Self {
            runtime: Some(runtime),
            engine,
        })
    }

    /// A blocking engine made by `make` (an async block that opens a store
    /// and an engine over it), run on the blocking engine's own runtime.
    pub fn with<F>(make: F) -> Result<Self, Error>
    where
        F: Future<Output = Result<Engine, Error>>,
    {
        let runtime = runtime()?;
        let engine = runtime.block_on(make)?;
        Ok(Self {
            runtime: Some(runtime),
            engine,
        })
    }

    /// The async engine inside (for reads a host wants typed).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Runs `future` to its end on this engine's runtime: refused inside
    /// another runtime, a panic answered as `internal`.
    pub fn block_on<T>(&self, future: impl Future<Output = Result<T, Error>>) -> Result<T, Error> {
        refuse_inside_runtime()?;
        let Some(runtime) = &self.runtime else {
            return Err(RequestError::Internal {
                message: "the engine's runtime is shut down".to_owned(),
            }
            .into());
        };
        catch_unwind(AssertUnwindSafe(|| runtime.block_on(future))).unwrap_or_else(|payload| {
            Err(RequestError::Internal {
                message: panic_message(&*payload),
            }
            .into())
        })
    }

    /// [`Engine::handle`], blocking.
    pub fn handle(&self, request: &Request) -> Result<Response, Error> {
        self.block_on(self.engine.handle(request))
    }

    /// [`Engine::handle_json`], blocking: whatever the text, the answer is
    /// an envelope (`{"wire": 1, "ok": ...}` or `{"wire": 1, "error": ...}`).
    pub fn handle_json(&self, text: &str) -> String {
        self.handle_json_bytes(text.as_bytes())
    }

    /// [`Engine::handle_json_bytes`], blocking: bytes that are not UTF-8 are
    /// `malformed_request`.
    pub fn handle_json_bytes(&self, bytes: &[u8]) -> String {
        let answered = self.block_on(async { Ok(self.engine.handle_json_bytes(bytes).await) });
        answered.unwrap_or_else(|error| Envelope::error(&error).to_json())
    }
}

impl Drop for BlockingEngine {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            // Dropping a runtime blocks until its workers stop, which a
            // thread inside another runtime must not do.
            if tokio::runtime::Handle::try_current().is_ok() {
                runtime.shutdown_background();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memory() -> Result<BlockingEngine, Error> {
        BlockingEngine::with(async { Engine::open(std::sync::Arc::new(crcm_core::MemoryStore::new())).await })
    }

    #[test]
    fn a_blocking_engine_answers_json_and_refuses_inside_a_runtime() -> Result<(), Error> {
        let engine = memory()?;
        let answer = engine.handle_json(r#"{"actor": {"user": "ann", "role": "admin"}, "type": "get_config"}"#);
        let answer: serde_json::Value = serde_json::from_str(&answer).unwrap_or_default();
        assert_eq!(answer["wire"], 1);
        assert_eq!(answer["error"]["name"], "config_missing", "{answer}");

        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .map_err(|e| RequestError::Internal { message: e.to_string() })?;
        let inside = runtime.block_on(async { engine.handle_json("{}") });
        let inside: serde_json::Value = serde_json::from_str(&inside).unwrap_or_default();
        assert_eq!(inside["error"]["code"], 8001, "{inside}");
        let opened = runtime.block_on(async { memory().map(|_| ()) });
        assert_eq!(opened.err().map(|e| e.code().code), Some(8001));
        // Dropping the engine inside a runtime does not block or panic.
        runtime.block_on(async move { drop(engine) });
        Ok(())
    }

    #[test]
    fn a_panic_inside_is_answered_as_internal() -> Result<(), Error> {
        let engine = memory()?;
        let result: Result<(), Error> = engine.block_on(async { panic!("boom") });
        let error = result.err().map(|e| (e.code().code, e.to_string()));
        assert_eq!(
            error,
            Some((8002, "crcm failed inside while handling the request: boom".to_owned()))
        );
        // The engine still answers afterwards.
        let answer = engine.handle_json("not json");
        assert!(answer.contains("\"malformed_request\""), "{answer}");
        Ok(())
    }
}
