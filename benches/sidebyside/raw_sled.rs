//! The raw baseline on sled: the trees a competent engineer would keep for
//! the same leads, written in one transaction and one durable flush a
//! command, read with composite keys.
//!
//! A lead is its record (as long as crcm's), as many index entries as
//! crcm's sled backend keeps for it (among them the read indexes below), a
//! history entry, an event under a gap-free number, its board cell and its
//! lookup-key versions. The read indexes: owner|open|number for a list,
//! e-mail and phone, word|id for a name, phase|open|number for a board.

use sled::Transactional;
use sled::transaction::{ConflictableTransactionResult, TransactionalTree};

use crate::Result;
use crate::data::Row;
use crate::raw_sql::words_of;

/// The trees, by name.
const TREES: [&str; 8] = [
    "meta", "records", "history", "events", "index", "board", "lookups", "reads",
];

/// The raw baseline on one sled directory.
pub struct RawSled {
    db: sled::Db,
    /// sled's log, `fdatasync`ed after each flush as crcm does (sled 0.34's
    /// flush alone is `sync_file_range`, which a power cut can undo).
    log: std::fs::File,
    trees: [sled::Tree; 8],
    record: Vec<u8>,
    /// Index entries crcm keeps for a new lead, and rewrites for a move.
    index_entries: usize,
    move_entries: usize,
    lookup_keys: usize,
    /// The leads `create` made: (id, number, in QUOTE).
    created: Vec<([u8; 16], u64, bool)>,
    next_number: u64,
}

/// One lead a transaction writes: its row, number, id, phase, version, and
/// how many index entries to write beyond its read keys.
type Write<'a> = (&'a Row, u64, [u8; 16], &'a str, u64, usize);

/// Adds `n` to a big-endian counter stored under `key`; the new value.
fn bump(tree: &TransactionalTree, key: &[u8], n: u64) -> ConflictableTransactionResult<u64> {
    let now = tree
        .get(key)?
        .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
        .map_or(0, u64::from_be_bytes);
    tree.insert(key, &(now + n).to_be_bytes())?;
    Ok(now + n)
}

/// `parts` joined by 0 bytes, then `tail`.
fn key(parts: &[&[u8]], tail: &[u8]) -> Vec<u8> {
    let mut k = Vec::new();
    for p in parts {
        k.extend_from_slice(p);
        k.push(0);
    }
    k.extend_from_slice(tail);
    k
}

/// The read-index keys of a lead (each maps to its id).
fn read_keys(r: &Row, number: u64, id: &[u8; 16], phase: &str) -> Vec<Vec<u8>> {
    let open: &[u8] = if phase == "CLOSED" { b"0" } else { b"1" };
    let n = number.to_be_bytes();
    let mut keys = vec![
        key(&[b"o", r.owner.as_bytes(), open], &n),
        key(&[b"p", phase.as_bytes(), open], &n),
        key(&[b"e", r.email.as_bytes()], &n),
        key(&[b"t", r.phone.as_bytes()], &n),
    ];
    for w in words_of(r) {
        keys.push(key(&[b"w", w.as_bytes()], id));
    }
    keys
}

impl RawSled {
    /// Opens the directory; `sample` is a lead as crcm stores it.
    pub fn open(dir: &std::path::Path, sample: &crcm::Lead) -> Result<Self> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(64 * 1024 * 1024)
            .flush_every_ms(None)
            .open()?;
        let mut trees = Vec::with_capacity(TREES.len());
        for name in TREES {
            trees.push(db.open_tree(name)?);
        }
        let trees: [sled::Tree; 8] = trees.try_into().map_err(|_| "eight trees")?;
        let before = crcm::store::record::Record::Lead(sample.clone());
        let mut moved = sample.clone();
        moved.phase = Some(crcm::PhaseRef {
            account_type: crate::crcm_side::business()?,
            code: crcm::Code::new("QUOTE")?,
        });
        moved.version += 1;
        moved.updated_at += chrono::Duration::seconds(1);
        let after = crcm::store::record::Record::Lead(moved);
        let (old, new) = (crcm::sled::index::keys(&before), crcm::sled::index::keys(&after));
        let move_entries =
            old.iter().filter(|k| !new.contains(k)).count() + new.iter().filter(|k| !old.contains(k)).count();
        Ok(Self {
            log: std::fs::File::open(dir.join("db"))?,
            db,
            trees,
            record: serde_json::to_vec(sample)?,
            index_entries: old.len(),
            move_entries,
            lookup_keys: before.lookup_keys().len(),
            created: Vec::new(),
            next_number: 1,
        })
    }

    /// The record's length, index entries for a new lead and for a move.
    pub fn shape(&self) -> (usize, usize, usize, usize) {
        (
            self.record.len(),
            self.index_entries,
            self.move_entries,
            self.lookup_keys,
        )
    }

    fn durable(&self) -> Result<()> {
        self.db.flush()?;
        self.log.sync_data()?;
        Ok(())
    }

    /// One transaction writing `leads` (row, number, id, phase, version,
    /// index entries to write beyond the read keys), then the flush.
    fn write(&self, leads: &[Write<'_>], left: Option<&str>) -> Result<()> {
        let [meta, records, history, events, index, board, lookups, reads] = &self.trees;
        (meta, records, history, events, index, board, lookups, reads)
            .transaction(|(meta, records, history, events, index, board, lookups, reads)| {
                let seq = bump(meta, b"event-seq", leads.len() as u64)?;
                for (k, (row, number, id, phase, version, filler)) in leads.iter().enumerate() {
                    records.insert(id, self.record.as_slice())?;
                    for rk in read_keys(row, *number, id, phase) {
                        reads.insert(rk, id)?;
                    }
                    for f in 0..*filler {
                        index.insert(key(&[&[f as u8], b"value-of-the-field"], id), id)?;
                    }
                    let mut at = id.to_vec();
                    at.extend_from_slice(&version.to_be_bytes());
                    history.insert(at, self.record.as_slice())?;
                    let n = seq + 1 + k as u64 - leads.len() as u64;
                    events.insert(&n.to_be_bytes(), self.record.as_slice())?;
                    bump(board, phase.as_bytes(), 1)?;
                    for l in 0..self.lookup_keys {
                        bump(lookups, &key(&[&[l as u8]], id), 1)?;
                    }
                }
                if let Some(left) = left {
                    board.insert(left.as_bytes(), &0u64.to_be_bytes())?;
                }
                Ok(())
            })
            .map_err(|e| format!("raw sled transaction: {e:?}"))?;
        self.durable()
    }

    /// Many leads, `chunk` a transaction, one durable flush a chunk.
    pub fn load(&mut self, rows: &[Row], chunk: usize) -> Result<()> {
        for part in rows.chunks(chunk.max(1)) {
            let mut leads = Vec::with_capacity(part.len());
            for r in part {
                let id = *crcm::uuid::Uuid::now_v7().as_bytes();
                let extra = self.index_entries.saturating_sub(read_keys(r, 0, &id, r.phase).len());
                leads.push((r, self.next_number, id, r.phase, 1, extra));
                self.next_number += 1;
            }
            self.write(&leads, None)?;
        }
        Ok(())
    }

    /// One lead, durably.
    pub fn create(&mut self, r: &Row) -> Result<()> {
        let id = *crcm::uuid::Uuid::now_v7().as_bytes();
        let number = self.next_number;
        self.next_number += 1;
        let extra = self.index_entries.saturating_sub(read_keys(r, 0, &id, "CALL").len());
        self.write(&[(r, number, id, "CALL", 1, extra)], None)?;
        self.created.push((id, number, false));
        Ok(())
    }

    /// Moves a lead `create` made: its record, the index entries crcm
    /// rewrites for a move, history, event, board cells and lookups.
    pub fn move_one(&mut self, i: usize, r: &Row) -> Result<()> {
        let n = self.created.len();
        let (id, number, quoted) = *self.created.get(i % n).ok_or("no lead to move")?;
        let (to, from) = if quoted { ("CALL", "QUOTE") } else { ("QUOTE", "CALL") };
        let reads = read_keys(r, number, &id, to).len();
        self.write(
            &[(r, number, id, to, 2 + i as u64, self.move_entries.saturating_sub(reads))],
            Some(from),
        )?;
        if let Some(e) = self.created.get_mut(i % n) {
            e.2 = !quoted;
        }
        Ok(())
    }

    fn records_of(&self, ids: impl Iterator<Item = sled::IVec>) -> Result<usize> {
        let mut n = 0;
        for id in ids {
            if self.trees[1].get(&id)?.is_some() {
                n += 1;
            }
        }
        Ok(n)
    }

    /// A page of 50 of an owner's open leads after lead number `after`.
    pub fn list(&self, owner: &str, after: Option<u64>) -> Result<(usize, Option<u64>)> {
        let prefix = key(&[b"o", owner.as_bytes(), b"1"], &[]);
        let start = key(&[b"o", owner.as_bytes(), b"1"], &(after.unwrap_or(0) + 1).to_be_bytes());
        let mut end = prefix.clone();
        end.push(0xff);
        let mut ids = Vec::with_capacity(50);
        let mut last = None;
        for item in self.trees[7].range(start..end).take(50) {
            let (k, v) = item?;
            last = k
                .get(k.len().saturating_sub(8)..)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(u64::from_be_bytes);
            ids.push(v);
        }
        Ok((self.records_of(ids.into_iter())?, last))
    }

    /// The leads with this e-mail (`e`) or phone (`t`), first 50 by number.
    pub fn by(&self, tag: &[u8], value: &str) -> Result<usize> {
        let prefix = key(&[tag, value.as_bytes()], &[]);
        let ids: Vec<_> = self.trees[7]
            .scan_prefix(prefix)
            .take(50)
            .filter_map(|i| i.ok().map(|(_, v)| v))
            .collect();
        self.records_of(ids.into_iter())
    }

    /// The leads with each of `words` (whole words, as the search types
    /// them): the longest word's entries drive, the others are checked by
    /// key; first 50.
    pub fn by_words(&self, words: &[String]) -> Result<usize> {
        let Some(longest) = words.iter().max_by_key(|w| w.len()) else {
            return Ok(0);
        };
        let mut found = 0;
        for item in self.trees[7].scan_prefix(key(&[b"w", longest.as_bytes()], &[])) {
            let (_, v) = item?;
            let Ok(id) = <[u8; 16]>::try_from(v.as_ref()) else {
                continue;
            };
            let mut all = true;
            for w in words.iter().filter(|w| *w != longest) {
                all &= self.trees[7].contains_key(key(&[b"w", w.as_bytes()], &id))?;
            }
            if all && self.trees[1].get(id)?.is_some() {
                found += 1;
                if found == 50 {
                    break;
                }
            }
        }
        Ok(found)
    }

    /// The board: each open phase's cell and its first five leads.
    pub fn board(&self) -> Result<usize> {
        let mut cards = 0;
        for phase in ["CALL", "QUOTE"] {
            let _count = self.trees[5].get(phase.as_bytes())?;
            let prefix = key(&[b"p", phase.as_bytes(), b"1"], &[]);
            let ids: Vec<_> = self.trees[7]
                .scan_prefix(prefix)
                .take(5)
                .filter_map(|i| i.ok().map(|(_, v)| v))
                .collect();
            cards += self.records_of(ids.into_iter())?;
        }
        Ok(cards)
    }
}
