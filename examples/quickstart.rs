//! The quickstart: the story of the manuals on a real sled store.
//!
//! `cargo run --release --example quickstart` creates a store in a fresh
//! directory (named on the first line), configures the funnel of seed 000,
//! works leads as two sales people and a manager, and prints the board, one
//! lead's history and the event outbox.

use std::sync::Arc;

use crcm::{Engine, SledStore};

mod story;

#[tokio::main]
async fn main() -> story::Result<()> {
    let dir = std::env::temp_dir().join(format!("crcm-quickstart-{}", crcm::LeadId::new().0.simple()));
    println!("crcm quickstart: sled store in {}", dir.display());
    let engine = Engine::open(Arc::new(SledStore::open(&dir)?)).await?;
    story::run(&engine).await?;
    println!("\nThe store stays in {} (delete it when done).", dir.display());
    Ok(())
}
