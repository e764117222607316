//! The consistency checker behind [`SledStore::verify`](crate::SledStore::verify).

use std::collections::BTreeMap;
use std::fmt;

use crcm_core::domain::entity::EntityRef;
use crcm_core::domain::event::EventEnvelope;
use crcm_core::domain::history::HistoryEntry;
use crcm_core::domain::ids::LeadId;
use crcm_core::store::error::StoreError;
use crcm_core::store::record::Record;
use crcm_core::store::steps::PhaseStep;

use crate::codec::{decode, hex, record_key, u64_value};
use crate::{SledStore, StoredConfig, index, io};

/// What [`SledStore::verify`](crate::SledStore::verify) found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Records read.
    pub records: usize,
    /// Of which leads.
    pub leads: usize,
    /// Index entries checked.
    pub index_entries: usize,
    /// Board cells checked.
    pub board_cells: usize,
    /// History entries of existing records.
    pub history_entries: usize,
    /// Events in the outbox.
    pub events: u64,
    /// Every inconsistency found (empty: the store is consistent).
    pub problems: Vec<String>,
}

impl VerifyReport {
    /// True when no problem was found.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} records ({} leads), {} index entries, {} board cells, {} history entries, {} events: {}",
            self.records,
            self.leads,
            self.index_entries,
            self.board_cells,
            self.history_entries,
            self.events,
            if self.problems.is_empty() {
                "consistent".to_owned()
            } else {
                format!("{} problems", self.problems.len())
            }
        )
    }
}

pub(crate) fn verify(store: &SledStore) -> Result<VerifyReport, StoreError> {
    let mut report = VerifyReport::default();
    let mut want_idx: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let mut want_board: BTreeMap<Vec<u8>, (u64, i128)> = BTreeMap::new();
    let mut max_number = 0;
    let mut existing: std::collections::BTreeSet<Vec<u8>> = std::collections::BTreeSet::new();
    for item in store.records.iter() {
        let (k, v) = item.map_err(io)?;
        existing.insert(k.to_vec());
        let record: Record = match decode(&v, &k) {
            Ok(r) => r,
            Err(e) => {
                report.problems.push(e.to_string());
                continue;
            }
        };
        report.records += 1;
        if record_key(record.entity()) != k.as_ref() {
            report
                .problems
                .push(format!("record under key {} is {}", hex(&k), record.entity()));
        }
        if let Record::Lead(l) = &record {
            report.leads += 1;
            max_number = max_number.max(l.number);
        }
        for (ik, iv) in index::keys(&record) {
            if want_idx.insert(ik.clone(), iv).is_some() {
                report
                    .problems
                    .push(format!("two records claim index key {}", hex(&ik)));
            }
        }
        if let Some((b, value)) = index::board_cell(&record) {
            let cell = want_board.entry(b).or_default();
            cell.0 += 1;
            cell.1 += value;
        }
        let versions: Vec<u64> = store
            .history
            .scan_prefix(record_key(record.entity()))
            .keys()
            .map(|k| k.map(|k| k.get(17..25).map_or(0, u64_value)))
            .collect::<Result<_, _>>()
            .map_err(io)?;
        report.history_entries += versions.len();
        // A lead's phase steps are what its history says.
        if let Record::Lead(l) = &record {
            let mut entries: Vec<HistoryEntry> = Vec::new();
            for item in store.history.scan_prefix(record_key(record.entity())) {
                let (hk, hv) = item.map_err(io)?;
                match decode(&hv, &hk) {
                    Ok(h) => entries.push(h),
                    Err(e) => report.problems.push(e.to_string()),
                }
            }
            for step in PhaseStep::replay(l.id, &entries) {
                want_idx.extend(index::step_entries(&step));
            }
        }
        if versions != (1..=record.version()).collect::<Vec<_>>() {
            report.problems.push(format!(
                "{}: history versions {versions:?} do not run 1..={}",
                record.entity(),
                record.version()
            ));
        }
    }
    // A deleted lead keeps its history, and so its phase steps: the funnel
    // and time in phase count every lead that reached a phase (on every
    // backend).
    let mut deleted: BTreeMap<Vec<u8>, Vec<HistoryEntry>> = BTreeMap::new();
    let lead_kind = record_key(EntityRef::lead(LeadId(uuid::Uuid::nil())));
    for item in store.history.scan_prefix(&lead_kind[..1]) {
        let (hk, hv) = item.map_err(io)?;
        let Some(owner) = hk.get(..17) else { continue };
        if existing.contains(owner) {
            continue;
        }
        match decode(&hv, &hk) {
            Ok(h) => deleted.entry(owner.to_vec()).or_default().push(h),
            Err(e) => report.problems.push(e.to_string()),
        }
    }
    for (owner, entries) in deleted {
        let id = owner
            .get(1..17)
            .and_then(|b| uuid::Uuid::from_slice(b).ok())
            .unwrap_or_default();
        for step in PhaseStep::replay(LeadId(id), &entries) {
            want_idx.extend(index::step_entries(&step));
        }
    }
    for item in store.idx.iter() {
        let (k, v) = item.map_err(io)?;
        report.index_entries += 1;
        match want_idx.remove(k.as_ref()) {
            Some(want) if want == v.as_ref() => {}
            Some(_) => report
                .problems
                .push(format!("index entry {} has the wrong value", hex(&k))),
            None => report.problems.push(format!("stray index entry {}", hex(&k))),
        }
    }
    for k in want_idx.keys() {
        report.problems.push(format!("missing index entry {}", hex(k)));
    }
    for item in store.board.iter() {
        let (k, v) = item.map_err(io)?;
        report.board_cells += 1;
        let (have, have_value) = index::read_cell(&v);
        let (want, want_value) = want_board.remove(k.as_ref()).unwrap_or_default();
        if have != want {
            report
                .problems
                .push(format!("board cell {} counts {have}, the leads say {want}", hex(&k)));
        } else if have_value != want_value {
            report.problems.push(format!(
                "board cell {} sums {have_value}, the leads say {want_value}",
                hex(&k)
            ));
        }
    }
    for (k, (want, _)) in want_board {
        report
            .problems
            .push(format!("board cell {} is missing (should count {want})", hex(&k)));
    }
    let mut expected_seq = 1;
    for item in store.events.iter() {
        let (k, v) = item.map_err(io)?;
        let seq = u64_value(&k);
        if seq != expected_seq {
            report
                .problems
                .push(format!("event sequence jumps from {} to {seq}", expected_seq - 1));
        }
        match decode::<EventEnvelope>(&v, &k) {
            Ok(e) if e.seq == seq => {}
            Ok(e) => report
                .problems
                .push(format!("event under key {seq} says seq {}", e.seq)),
            Err(e) => report.problems.push(e.to_string()),
        }
        expected_seq = seq + 1;
        report.events += 1;
    }
    let recorded = store.meta.get(b"event_seq").map_err(io)?.map_or(0, u64_value);
    if recorded != report.events {
        report.problems.push(format!(
            "meta event_seq is {recorded}, the outbox holds {}",
            report.events
        ));
    }
    let lead_seq = store.meta.get(b"lead_seq").map_err(io)?.map_or(0, u64_value);
    if lead_seq < max_number {
        report.problems.push(format!(
            "lead_seq {lead_seq} is below the highest lead number {max_number}"
        ));
    }
    if let Some(v) = store.meta.get(b"config").map_err(io)?
        && let Err(e) = decode::<StoredConfig>(&v, b"meta/config")
    {
        report.problems.push(e.to_string());
    }
    Ok(report)
}
