//! Property tests on input handling: any lead input is either stored with
//! normalized contact data or refused with a typed error that changes nothing.
#![cfg(feature = "testing")]

use crcm_core::commands;
use crcm_core::testing::AllLeads;
use crcm_core::testing::{MemoryFactory, ann, fixture_engine, strategies};
use crcm_core::{Error, LeadFilter};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn create_lead_stores_normalized_data_or_refuses_cleanly(input in strategies::new_lead()) {
        let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        rt.block_on(async {
            let engine = fixture_engine(&MemoryFactory).await;
            let events_before = engine.events_since(&crcm_core::testing::root(), 0, 100).await.expect("events").len();
            match engine.run(&ann(), commands::CreateLead { lead: input.clone() }).await {
                Ok(lead) => {
                    if let Some(e) = &lead.email {
                        prop_assert_eq!(e.as_str(), e.as_str().to_lowercase());
                        prop_assert_eq!(e.as_str(), e.as_str().trim());
                    }
                    if let Some(p) = &lead.phone {
                        prop_assert!(p.e164.starts_with('+') && p.e164[1..].chars().all(|c| c.is_ascii_digit()));
                    }
                    prop_assert!(lead.probability.is_none_or(|p| p <= 100));
                    prop_assert_eq!(engine.lead(&crcm_core::testing::root(), lead.id).await.expect("stored"), lead);
                }
                Err(Error::Input(_)) => {
                    prop_assert!(engine.lead_list(&LeadFilter::default()).await.expect("leads").is_empty());
                    prop_assert_eq!(engine.events_since(&crcm_core::testing::root(), 0, 100).await.expect("events").len(), events_before);
                }
                Err(other) => prop_assert!(false, "only input errors are expected, got {}", other),
            }
            Ok(())
        })?;
    }
}
