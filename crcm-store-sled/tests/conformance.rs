//! The whole conformance suite of crcm-core against sled, with reopen.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use crcm_core::store::Store;
use crcm_core::store::error::StoreError;
use crcm_core::testing::StoreFactory;
use crcm_store_sled::SledStore;

/// Each store lives in its own temporary directory, removed with the factory.
#[derive(Default)]
struct SledFactory {
    dirs: Mutex<Vec<(tempfile::TempDir, PathBuf)>>,
    /// The stores created, for `verify` (weak: a reopen must be able to
    /// close a store).
    stores: Mutex<Vec<std::sync::Weak<SledStore>>>,
}

#[async_trait]
impl StoreFactory for SledFactory {
    async fn create(&self) -> Result<Arc<dyn Store>, StoreError> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::backend("sled", e))?;
        let path = dir.path().join("crcm");
        let store = Arc::new(SledStore::open(&path)?);
        self.dirs.lock().unwrap_or_else(|e| e.into_inner()).push((dir, path));
        self.stores
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::downgrade(&store));
        Ok(store)
    }

    async fn verify(&self) -> Result<Vec<String>, StoreError> {
        let stores = self.stores.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut problems = Vec::new();
        for store in stores.iter().filter_map(std::sync::Weak::upgrade) {
            problems.extend(store.verify()?.problems);
        }
        Ok(problems)
    }

    async fn reopen(&self, store: Arc<dyn Store>) -> Result<Option<Arc<dyn Store>>, StoreError> {
        drop(store);
        let path = self
            .dirs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .last()
            .map(|(_, p)| p.clone());
        let Some(path) = path else { return Ok(None) };
        Ok(Some(Arc::new(SledStore::open(path)?)))
    }

    fn state_machine_cases(&self) -> u32 {
        // Every step is a flushed commit on disk; the in-memory run covers 2,000.
        256
    }
}

crcm_core::conformance_tests!(SledFactory::default());

/// The JSON command fuzz run (see `crcm_core::testing::fuzz`), bounded for CI;
/// every round of reads also runs `SledStore::verify`.
#[test]
fn json_fuzz() {
    crcm_core::testing::fuzz::run_json_fuzz(Arc::new(SledFactory::default()), 1500);
}
