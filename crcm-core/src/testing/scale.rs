//! Bulk data and the three reads of the scale tests: a page of "my open
//! leads", the board, and a search. Backends count what each read examines
//! (sled: index entries and rows read; SQL: the query plan's rows) at two
//! store sizes; the count must not grow with the store.
//!
//! Leads are written straight to the store, [`BATCH`] per unit of work,
//! without history or events: the scale tests measure reads, not writes.

use std::sync::Arc;

use chrono::Duration;

use super::{ann, configured, phase};
use crate::domain::ids::{LeadId, UserId};
use crate::domain::lead::Lead;
use crate::engine::Engine;
use crate::engine::board::BoardQuery;
use crate::engine::commands;
use crate::engine::query::LeadQuery;
use crate::store::Store;
use crate::store::error::StoreError;
use crate::store::query::PageRequest;
use crate::store::record::Record;
use crate::store::uow::{UnitOfWork, Write};

/// Leads per unit of work when loading.
pub const BATCH: u64 = 1000;

/// Owners the leads are spread over.
pub const OWNERS: u64 = 10;

/// Rotten leads in the store, whatever its size (the board's rotten counts
/// read one index entry per rotten lead).
pub const ROTTEN: u64 = 20;

/// The owner of lead `n`.
pub fn owner(n: u64) -> UserId {
    UserId::new(format!("seller{}", n % OWNERS)).unwrap_or_else(|e| panic!("{e}"))
}

/// The unique search word of lead `n` (fixed width: no word is a prefix of
/// another).
pub fn name(n: u64) -> String {
    format!("p{n:07}")
}

/// A configured engine over `store` and a template lead to copy.
pub async fn start(store: Arc<dyn Store>) -> (Engine, Lead) {
    let engine = configured(store).await;
    let mut input = super::conformance::b2b("Template", "Acme");
    input.expected_revenue = Some(super::conformance::usd(100_000));
    let template = engine
        .run(&ann(), commands::CreateLead { lead: input })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    (engine, template)
}

/// Writes leads `from..to` (numbers offset by a million, clear of the
/// engine's sequence): spread over [`OWNERS`] owners and the three open b2b
/// phases, one in ten closed, each with a unique name; the first [`ROTTEN`]
/// of the whole store sit (open) in MEETING since long ago.
pub async fn load(store: &dyn Store, template: &Lead, from: u64, to: u64) -> Result<(), StoreError> {
    let phases = [phase("b2b", "CALL"), phase("b2b", "MEETING"), phase("b2b", "QUOTE")];
    let mut n = from;
    while n < to {
        let end = (n + BATCH).min(to);
        let mut uow = UnitOfWork::new(&ann().user, template.created_at, "scale_load");
        for i in n..end {
            let mut lead = template.clone();
            lead.id = LeadId::new();
            lead.number = 1_000_000 + i;
            lead.first_name = name(i);
            lead.last_name = format!("Family{}", i % 97);
            lead.email = None;
            lead.phone = None;
            lead.owner = owner(i);
            lead.phase = Some(phases[(i % 3) as usize].clone());
            if i < ROTTEN {
                lead.phase = Some(phase("b2b", "MEETING"));
                lead.phase_entered_at = template.phase_entered_at - Duration::days(60);
            }
            if i % 10 == 9 && i >= ROTTEN {
                lead.status = crate::domain::lead::LeadStatus::Disqualified;
                lead.lost_reason = Some(super::conformance::code("no_fit"));
            }
            uow.writes.push(Write::Put {
                record: Record::Lead(lead),
                expected: None,
            });
        }
        store.commit(uow).await?;
        n = end;
    }
    Ok(())
}

/// The page read: the first 50 open leads of one owner, by number.
pub fn my_open_leads() -> LeadQuery {
    let mut q = LeadQuery {
        open: Some(true),
        page: PageRequest::first(50),
        ..LeadQuery::default()
    };
    q.filter.owner = Some(owner(3));
    q
}

/// The board read: the b2b board, 5 cards a column.
pub fn board() -> BoardQuery {
    BoardQuery::new(super::conformance::code("b2b"))
}

/// The search read: one lead's unique name.
pub fn search(n: u64) -> LeadQuery {
    LeadQuery {
        search: Some(name(n).to_uppercase()),
        ..LeadQuery::default()
    }
}

/// Runs the three reads and checks their answers: 50 leads of owner 3, the
/// board's three columns with [`ROTTEN`] rotten leads in MEETING, and the
/// searched lead alone.
pub async fn read_all(engine: &Engine, size: u64) {
    let page = engine
        .leads(&crate::testing::root(), &my_open_leads())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(page.items.len(), 50);
    assert!(page.items.iter().all(|l| l.owner == owner(3) && !l.status.is_closed()));
    let board = engine
        .board(&crate::testing::root(), &board())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(board.columns.len(), 3);
    let counted: u64 = board.columns.iter().map(|c| c.count).sum();
    // Every open lead of the load (one in ten is closed, except among the
    // rotten ones), plus the template.
    assert_eq!(counted, size - (size / 10 - ROTTEN / 10) + 1, "board counts at {size}");
    assert_eq!(board.columns[1].rotten, ROTTEN, "rotten leads in MEETING");
    let found = engine
        .leads(&crate::testing::root(), &search(size / 2))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        found.items.iter().map(|l| l.first_name.clone()).collect::<Vec<_>>(),
        vec![name(size / 2)]
    );
}

/// Writes a scale test's summary where CI prints it after the test run
/// (`<target tmp>/crcm-reports/<name>.txt`), and to stderr.
pub fn report(target_tmp: &str, name: &str, summary: &str) {
    eprintln!("{summary}");
    let dir = std::path::Path::new(target_tmp).join("crcm-reports");
    if let Err(e) =
        std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(dir.join(format!("{name}.txt")), summary))
    {
        eprintln!("could not write the report: {e}");
    }
}
