//! Reads that do not grow with the store: a page of "my open leads" (by
//! number, and newest first), the board and a search examine about as many index entries and rows at 100,000
//! leads as at 10,000 (counted with [`SledStore::select_reads`], not timed).

use std::sync::Arc;

use crcm_core::testing::scale;
use crcm_store_sled::{Durability, SledOptions, SledStore};

/// Index entries and rows each read examines.
fn measure(rt: &tokio::runtime::Runtime, store: &SledStore, engine: &crcm_core::Engine, size: u64) -> [u64; 4] {
    rt.block_on(scale::read_all(engine, size));
    let mut out = [0; 4];
    let before = store.select_reads();
    rt.block_on(engine.leads(&crcm_core::testing::root(), &scale::my_open_leads()))
        .unwrap_or_else(|e| panic!("{e}"));
    out[0] = store.select_reads() - before;
    let before = store.select_reads();
    rt.block_on(engine.board(&crcm_core::testing::root(), &scale::board()))
        .unwrap_or_else(|e| panic!("{e}"));
    out[1] = store.select_reads() - before;
    let before = store.select_reads();
    rt.block_on(engine.leads(&crcm_core::testing::root(), &scale::search(size / 2)))
        .unwrap_or_else(|e| panic!("{e}"));
    out[2] = store.select_reads() - before;
    // The same page newest first: walked on the creation-time sort entries.
    let newest = crcm_core::engine::query::LeadQuery {
        sort: crcm_core::engine::query::LeadSort::Created,
        descending: true,
        ..scale::my_open_leads()
    };
    let before = store.select_reads();
    let page = rt
        .block_on(engine.leads(&crcm_core::testing::root(), &newest))
        .unwrap_or_else(|e| panic!("{e}"));
    out[3] = store.select_reads() - before;
    assert_eq!(page.items.len(), 50, "a full page newest first");
    assert!(
        page.items.windows(2).all(|w| w[0].created_at >= w[1].created_at),
        "newest first"
    );
    out
}

#[test]
fn page_board_and_search_read_the_same_at_10k_and_100k_leads() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let options = SledOptions {
        // Loading speed only; the reads measured do not depend on it.
        durability: Durability::Periodic { every_ms: 1000 },
        ..SledOptions::default()
    };
    let store = SledStore::open_with(tmp.path().join("s"), options).unwrap_or_else(|e| panic!("{e}"));
    let rt = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
    let (engine, template) = rt.block_on(scale::start(Arc::new(store.clone())));
    rt.block_on(scale::load(&store, &template, 0, 10_000))
        .unwrap_or_else(|e| panic!("{e}"));
    let small = measure(&rt, &store, &engine, 10_000);
    rt.block_on(scale::load(&store, &template, 10_000, 100_000))
        .unwrap_or_else(|e| panic!("{e}"));
    let large = measure(&rt, &store, &engine, 100_000);
    let summary = format!(
        "sled reads (index entries + rows) at 10k / 100k leads: page {} / {}, board {} / {}, search {} / {}, \
         page newest first {} / {}",
        small[0], large[0], small[1], large[1], small[2], large[2], small[3], large[3]
    );
    scale::report(env!("CARGO_TARGET_TMPDIR"), "sled-scale", &summary);
    for (i, what) in ["page", "board", "search", "page newest first"].iter().enumerate() {
        assert!(small[i] > 0, "{what}: the counter counts");
        assert!(
            large[i] <= 2 * small[i],
            "{what}: {} reads at 100k leads against {} at 10k",
            large[i],
            small[i]
        );
    }
}
