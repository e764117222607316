//! The quickstart's story on the SQL backend.
//!
//! ```text
//! cargo run --release --features postgres,mysql --example sql                                   # a new SQLite file
//! cargo run --release --features postgres,mysql --example sql -- sqlite:///tmp/crm.db?mode=rwc  # a SQLite file of yours
//! cargo run --release --features postgres,mysql --example sql -- postgres://user@host/db        # a new schema in db
//! cargo run --release --features postgres,mysql --example sql -- mysql://user@host/db           # the (empty) database db
//! ```
//!
//! On PostgreSQL each run uses a schema of its own (named on the first line),
//! so runs never collide; on SQLite and MySQL the database must hold no crcm
//! data yet. An application enables crcm's `sea` (SQLite), `postgres` or
//! `mysql` feature and uses `crcm::SeaStore`, as this example does; it needs
//! the `postgres` and `mysql` features so that the quickstart, with crcm's
//! default features, builds no SQL driver.

use std::sync::Arc;

use crcm::Engine;
use crcm::{SeaOptions, SeaStore};

mod story;

#[tokio::main]
async fn main() -> story::Result<()> {
    let run_id = crcm::LeadId::new().0.simple().to_string();
    let url = match std::env::args().nth(1) {
        Some(url) => url,
        None => {
            let file = std::env::temp_dir().join(format!("crcm-sql-{run_id}.db"));
            format!("sqlite://{}?mode=rwc", file.display())
        }
    };
    let mut options = SeaOptions::default();
    if url.starts_with("postgres") {
        options.schema = Some(format!("crcm_example_{}", &run_id[run_id.len() - 12..]));
    }
    let shown = url.split('@').next_back().unwrap_or(&url);
    match &options.schema {
        Some(schema) => println!("crcm sql example: {shown}, schema {schema}"),
        None => println!("crcm sql example: {shown}"),
    }
    let store = SeaStore::connect_with(&url, options.clone()).await?;
    let engine = Engine::open(Arc::new(store)).await?;
    story::run(&engine).await?;
    if let Some(schema) = options.schema {
        println!("\nThe data stays in schema {schema} (DROP SCHEMA {schema} CASCADE when done).");
    } else {
        println!("\nThe data stays in {shown}.");
    }
    Ok(())
}
