//! The read side on sled: every [`Select`] from index range scans.
//!
//! Leads are filtered and sorted on their query rows ([`index::ROW`]), never
//! on the decoded leads; only the leads of the page are decoded. The access
//! path, most selective first:
//!
//! 1. a lookup by number, e-mail, phone or customer, or a search (the word
//!    index for the longest search word, the phone and e-mail indexes): the
//!    candidates' rows are read, filtered and sorted;
//! 2. any order but priority, with no such lookup and no total: the order's
//!    index (the number index, or the order's sort entries, [`index::SORT`])
//!    is walked in order from the cursor on, each entry's row checked, and
//!    the walk stops at the end of the page; its cost follows the page size
//!    and the share of leads the filter keeps, not the store's size. In
//!    number order with an owner or a phase, the walk is a merge of the
//!    owner's open phases ([`index::OWNER_PHASE_NUMBER`]) or the phase's
//!    range ([`index::PHASE_NUMBER`]), so closed history is not read;
//! 3. priority order (its ranks come with the query) or a total: the rows of
//!    the narrowest equality index (phase, tag, custom field, reason, owner,
//!    source, priority, account type, zone), or every row, filtered and
//!    sorted.
//!
//! A total counts every matching row (a walk over the candidates).
//! [`SledStore::select_reads`] counts the index entries and rows read, so a
//! test can show what a query costs.

use std::collections::BTreeSet;
use std::ops::Bound;
use std::sync::atomic::Ordering;

use crcm_core::domain::entity::{EntityKind, EntityRef};
use crcm_core::domain::ids::Code;
use crcm_core::store::error::StoreError;
use crcm_core::store::query::{
    CommunicationFilter, Cursor, CustomerFilter, LeadFilter, LeadKey, LeadOrder, LeadRow, Page, PageRequest, Select,
    TimeRange, Visible, page_of,
};
use crcm_core::store::record::Record;
use crcm_core::store::steps::PhaseStep;
use crcm_core::store::tally::{Tally, TallyRow, step_seen};
use uuid::Uuid;

use crate::codec::{decode, record_key};
use crate::{SledStore, index, io};

/// Index entries in key order.
type Entries = Box<dyn Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>>;

/// Streams of entries that each end in a lead number, merged into one in
/// number order (ascending, or descending).
struct Merged {
    streams: Vec<std::iter::Peekable<Entries>>,
    descending: bool,
}

impl Iterator for Merged {
    type Item = sled::Result<(sled::IVec, sled::IVec)>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut best: Option<(usize, u64)> = None;
        for (i, stream) in self.streams.iter_mut().enumerate() {
            let number = match stream.peek() {
                None => continue,
                // An error goes out first.
                Some(Err(_)) => return stream.next(),
                Some(Ok((k, _))) => index::number_before_id(k).unwrap_or(0),
            };
            let better = match best {
                None => true,
                Some((_, b)) if self.descending => number > b,
                Some((_, b)) => number < b,
            };
            if better {
                best = Some((i, number));
            }
        }
        self.streams.get_mut(best?.0)?.next()
    }
}

impl SledStore {
    /// Index entries and rows read by selects since the store was opened.
    pub fn select_reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    fn count_read(&self, n: u64) {
        self.reads.fetch_add(n, Ordering::Relaxed);
    }

    /// The ids under an index prefix, each once, in key order.
    fn ids_under(&self, prefix: &[u8]) -> Result<Vec<Uuid>, StoreError> {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for item in self.idx.scan_prefix(prefix) {
            let (k, v) = item.map_err(io)?;
            self.count_read(1);
            if let Some((_, id)) = index::target(&k, &v)
                && seen.insert(id)
            {
                out.push(id);
            }
        }
        Ok(out)
    }

    fn row(&self, id: Uuid) -> Result<Option<LeadRow>, StoreError> {
        let key = index::row_key(id);
        self.count_read(1);
        match self.idx.get(&key).map_err(io)? {
            None => Ok(None),
            Some(v) => serde_json::from_slice(&v).map(Some).map_err(|e| StoreError::Corrupt {
                what: format!("query row of lead {id}"),
                message: e.to_string(),
            }),
        }
    }

    fn record(&self, entity: EntityRef) -> Result<Option<Record>, StoreError> {
        self.count_read(1);
        let key = record_key(entity);
        match self.records.get(&key).map_err(io)? {
            None => Ok(None),
            Some(v) => decode::<Record>(&v, &key).map(Some),
        }
    }

    /// Candidates from a selective lookup (path 1), or `None`.
    fn selective_leads(&self, f: &LeadFilter) -> Result<Option<Vec<Uuid>>, StoreError> {
        let one = |tag: u8, part: &[u8]| self.ids_under(&index::prefix(tag, &[part])).map(Some);
        if let Some(n) = f.number {
            return self.ids_under(&index::lead_number_key(n)).map(Some);
        }
        if let Some(e) = &f.email {
            return one(index::EMAIL, e.as_bytes());
        }
        if let Some(p) = &f.phone {
            return one(index::PHONE, p.as_bytes());
        }
        if let Some(r) = &f.external_ref {
            return one(index::EXTERNAL_REF, r.as_bytes());
        }
        if let Some(i) = &f.import {
            return one(index::IMPORT, i.0.to_string().as_bytes());
        }
        if let Some(c) = &f.customer {
            return one(index::CUSTOMER, c.0.as_bytes());
        }
        if let Some(cut) = f.cutoffs.as_ref().filter(|c| c.past) {
            // Rotten or stuck: one key range per phase, up to its cut-off.
            let mut ids = Vec::new();
            for (phase, at) in &cut.cutoffs {
                if f.phase.as_ref().is_some_and(|p| p != phase) {
                    continue;
                }
                let (start, end) = index::entered_by(phase, *at);
                for item in self.idx.range(start..end) {
                    let (k, v) = item.map_err(io)?;
                    self.count_read(1);
                    if let Some((_, id)) = index::target(&k, &v) {
                        ids.push(id);
                    }
                }
            }
            return Ok(Some(ids));
        }
        if let Some(s) = &f.search {
            let mut ids = Vec::new();
            // The longest word narrows most; the filter then checks them all.
            if let Some(w) = s.words.iter().max_by_key(|w| w.len()) {
                ids.extend(self.ids_under(&index::word_prefix(index::WORD, w))?);
            }
            if let Some(p) = &s.phone {
                ids.extend(self.ids_under(&index::prefix(index::PHONE, &[p.as_bytes()]))?);
            }
            if let Some(e) = &s.email {
                ids.extend(self.ids_under(&index::prefix(index::EMAIL, &[e.as_bytes()]))?);
            }
            ids.sort();
            ids.dedup();
            return Ok(Some(ids));
        }
        Ok(None)
    }

    /// Candidates from the narrowest equality index (path 3), or `None`.
    fn broad_leads(&self, f: &LeadFilter) -> Result<Option<Vec<Uuid>>, StoreError> {
        let prefix = if let Some(p) = &f.phase {
            index::prefix(
                index::PHASE,
                &[p.account_type.as_str().as_bytes(), p.code.as_str().as_bytes()],
            )
        } else if let Some(t) = f.tags.iter().next() {
            index::prefix(index::TAG, &[t.as_str().as_bytes()])
        } else if let Some(c) = &f.has_custom {
            index::prefix(index::CUSTOM, &[c.as_str().as_bytes()])
        } else if let Some(r) = &f.lost_reason {
            index::prefix(index::LOST_REASON, &[r.as_str().as_bytes()])
        } else if let Some(r) = &f.closing_reason {
            index::prefix(index::CLOSING_REASON, &[r.as_str().as_bytes()])
        } else if let Some(o) = &f.owner {
            index::prefix(index::OWNER, &[o.as_str().as_bytes()])
        } else if let Some(s) = &f.source {
            index::prefix(index::SOURCE, &[s.as_str().as_bytes()])
        } else if let Some(p) = &f.priority {
            index::prefix(index::PRIORITY, &[p.as_str().as_bytes()])
        } else if let Some(a) = &f.account_type {
            index::prefix(index::ACCOUNT_TYPE, &[a.as_str().as_bytes()])
        } else if let Some(z) = &f.zone {
            index::prefix(index::ZONE, &[z.as_bytes()])
        } else {
            return Ok(None);
        };
        self.ids_under(&prefix).map(Some)
    }

    /// Every lead's query row (path 3 without an index).
    fn all_rows(&self) -> Result<Vec<LeadRow>, StoreError> {
        let mut out = Vec::new();
        for item in self.idx.scan_prefix(index::row_prefix()) {
            let (k, v) = item.map_err(io)?;
            self.count_read(1);
            out.push(serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt {
                what: format!("query row {}", crate::codec::hex(&k)),
                message: e.to_string(),
            })?);
        }
        Ok(out)
    }

    /// The page of rows for a lead select.
    fn lead_rows(&self, f: &LeadFilter, order: &LeadOrder, page: &PageRequest) -> Result<Page<LeadRow>, StoreError> {
        let keyed = |rows: Vec<LeadRow>| -> Vec<(i64, Uuid, LeadRow)> {
            rows.into_iter()
                .filter(|r| f.matches_row(r))
                .map(|r| (order.key_row(&r), r.id.0, r))
                .collect()
        };
        let rows_of = |ids: Vec<Uuid>| -> Result<Vec<LeadRow>, StoreError> {
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                if let Some(r) = self.row(id)? {
                    out.push(r);
                }
            }
            Ok(out)
        };
        if let Some(ids) = self.selective_leads(f)? {
            return Ok(page_of(keyed(rows_of(ids)?), order.descending, page));
        }
        // Orders with an index are walked; a total, or an order without one
        // (priority), reads the rows the narrowest index gives.
        let walkable = order.key == LeadKey::Number || index::sort_tag(&order.key).is_some();
        let broad = if walkable && !page.total {
            None
        } else {
            self.broad_leads(f)?
        };
        if walkable && broad.is_none() {
            return self.walk(f, order, page);
        }
        let rows = match broad {
            Some(ids) => rows_of(ids)?,
            None => self.all_rows()?,
        };
        Ok(page_of(keyed(rows), order.descending, page))
    }

    /// Path 2: walk the index of the order (the number index, or the
    /// order's [`index::SORT`] entries) from the cursor on, reading each
    /// lead's row, until the page is full.
    fn walk(&self, f: &LeadFilter, order: &LeadOrder, page: &PageRequest) -> Result<Page<LeadRow>, StoreError> {
        let limit = page.limit();
        let descending = order.descending;
        let after = page.after;
        // With a total the walk covers every entry (the total counts the
        // rows before the cursor too); without one it starts at the cursor.
        let from = if page.total { None } else { after };
        let streams = if page.total || order.key != LeadKey::Number {
            None
        } else {
            self.number_streams(f, from, descending)?
        };
        let iter: Entries = match index::sort_tag(&order.key) {
            _ if streams.is_some() => Box::new(Merged {
                streams: streams
                    .unwrap_or_default()
                    .into_iter()
                    .map(Iterator::peekable)
                    .collect(),
                descending,
            }),
            None => {
                let (start, end) = (index::lead_number_prefix(), vec![index::NUMBER + 1]);
                let at = |c: Cursor| index::lead_number_key(u64::try_from(c.key()).unwrap_or(0));
                match (from, descending) {
                    (None, false) => Box::new(self.idx.range(start..end)),
                    (None, true) => Box::new(self.idx.range(start..end).rev()),
                    (Some(c), false) => Box::new(self.idx.range((Bound::Excluded(at(c)), Bound::Excluded(end)))),
                    (Some(c), true) => Box::new(self.idx.range(start..at(c)).rev()),
                }
            }
            Some(tag) => {
                let (start, end) = index::sort_range(tag);
                let at = |c: Cursor| index::sort_key(tag, c.key(), c.id());
                match (from, descending) {
                    (None, false) => Box::new(self.idx.range(start..end)),
                    (None, true) => Box::new(self.idx.range(start..end).rev()),
                    (Some(c), false) => Box::new(self.idx.range((Bound::Excluded(at(c)), Bound::Excluded(end)))),
                    (Some(c), true) => Box::new(self.idx.range(start..at(c)).rev()),
                }
            }
        };
        let past_cursor = |key: (i64, Uuid)| match after {
            None => true,
            Some(c) if descending => key < (c.key(), c.id()),
            Some(c) => key > (c.key(), c.id()),
        };
        let mut items: Vec<LeadRow> = Vec::new();
        let mut more = false;
        let mut total = 0u64;
        for item in iter {
            let (k, v) = item.map_err(io)?;
            self.count_read(1);
            let Some((_, id)) = index::target(&k, &v) else {
                continue;
            };
            let Some(row) = self.row(id)? else {
                continue;
            };
            if !f.matches_row(&row) {
                continue;
            }
            total += 1;
            if !past_cursor((order.key_row(&row), row.id.0)) {
                continue;
            }
            if items.len() < limit {
                items.push(row);
            } else {
                more = true;
                if !page.total {
                    break;
                }
            }
        }
        let next = match items.last() {
            Some(last) if more => Some(Cursor::new(order.key_row(last), last.id.0)),
            _ => None,
        };
        Ok(Page {
            items,
            next,
            total: page.total.then_some(total),
        })
    }

    /// Candidates from a time interval (creation, or closing), when the
    /// filter sets one: one range of [`index::SORT`] entries.
    fn span_leads(&self, f: &LeadFilter) -> Result<Option<Vec<Uuid>>, StoreError> {
        let (tag, range) = if !f.created.is_open() {
            (index::sort_tag(&LeadKey::Created), f.created)
        } else if !f.closed_at.is_open() {
            (Some(index::CLOSED_SORT), f.closed_at)
        } else {
            return Ok(None);
        };
        let Some(tag) = tag else { return Ok(None) };
        let (from, before) = range.micros();
        let (start, end) = index::sort_span(tag, from, before);
        let mut ids = Vec::new();
        for item in self.idx.range(start..end) {
            let (k, _) = item.map_err(io)?;
            self.count_read(1);
            if let Some(id) = k
                .get(k.len().saturating_sub(16)..)
                .and_then(|b| Uuid::from_slice(b).ok())
            {
                ids.push(id);
            }
        }
        Ok(Some(ids))
    }

    /// Path 2 in number order when the filter names an owner or a phase:
    /// one key range per phase of [`index::OWNER_PHASE_NUMBER`] (an owner's
    /// phases found by skipping from one to the next, closing phases left
    /// out when only open leads are asked for), or the phase's
    /// [`index::PHASE_NUMBER`] range, each from the cursor on. `None`: no
    /// such filter.
    fn number_streams(
        &self,
        f: &LeadFilter,
        from: Option<Cursor>,
        descending: bool,
    ) -> Result<Option<Vec<Entries>>, StoreError> {
        let prefixes = if let Some(owner) = &f.owner {
            let owner_prefix = index::owner_phase_prefix(owner.as_str(), None);
            let wanted = f.phase.as_ref().map(|p| index::phase_part(Some(p)));
            let closing: BTreeSet<String> = match &f.closed {
                Some(c) if !c.closed => c.closing_phases.iter().map(|p| index::phase_part(Some(p))).collect(),
                _ => BTreeSet::new(),
            };
            let mut prefixes = Vec::new();
            let mut seek = owner_prefix.clone();
            while let Some(item) = self.idx.range(seek.clone()..).next() {
                let (k, _) = item.map_err(io)?;
                self.count_read(1);
                let Some(part) = index::phase_part_of(&k, &owner_prefix) else {
                    break;
                };
                let part = String::from_utf8_lossy(part).into_owned();
                let stream = index::owner_phase_prefix(owner.as_str(), Some(&part));
                // Past every key of this phase: they are the prefix and 25 bytes.
                seek = stream.clone();
                seek.extend_from_slice(&[0xff; 26]);
                if wanted.as_ref().is_none_or(|w| *w == part) && !closing.contains(&part) {
                    prefixes.push(stream);
                }
            }
            prefixes
        } else if let Some(phase) = &f.phase {
            vec![index::phase_number_prefix(phase)]
        } else {
            return Ok(None);
        };
        let streams = prefixes
            .into_iter()
            .map(|prefix| {
                let mut end = prefix.clone();
                end.extend_from_slice(&[0xff; 26]);
                let at = |n: u64| {
                    let mut k = prefix.clone();
                    k.extend_from_slice(&n.to_be_bytes());
                    k
                };
                let number = |c: Cursor| u64::try_from(c.key()).unwrap_or(0);
                let entries: Entries = match (from, descending) {
                    (None, false) => Box::new(self.idx.range(prefix.clone()..end)),
                    (None, true) => Box::new(self.idx.range(prefix.clone()..end).rev()),
                    (Some(c), false) => Box::new(self.idx.range(at(number(c).saturating_add(1))..end)),
                    (Some(c), true) => Box::new(self.idx.range(prefix.clone()..at(number(c))).rev()),
                };
                entries
            })
            .collect();
        Ok(Some(streams))
    }

    /// Every lead row a filter matches, from the narrowest index: a lookup,
    /// then a time interval (reports ask for one), then an equality index.
    fn matching_rows(&self, f: &LeadFilter) -> Result<Vec<LeadRow>, StoreError> {
        let ids = match self.selective_leads(f)? {
            Some(ids) => Some(ids),
            None => match self.span_leads(f)? {
                Some(ids) => Some(ids),
                None => self.broad_leads(f)?,
            },
        };
        let rows = match ids {
            Some(ids) => {
                let mut out = Vec::with_capacity(ids.len());
                for id in ids {
                    if let Some(r) = self.row(id)? {
                        out.push(r);
                    }
                }
                out
            }
            None => self.all_rows()?,
        };
        Ok(rows.into_iter().filter(|r| f.matches_row(r)).collect())
    }

    /// Answers a tally: leads from their query rows, deals from their records.
    pub(crate) fn tally_now(&self, tally: &Tally) -> Result<Vec<TallyRow>, StoreError> {
        match tally {
            Tally::Leads(t) => Ok(t.answer_rows(self.matching_rows(&t.filter)?.iter())),
            Tally::Deals(t) => {
                let records = self.records_under(EntityKind::Deal, index::deal_prefix(&t.filter))?;
                Ok(t.answer(records.iter().filter_map(|r| match r {
                    Record::Deal(d) => Some(d),
                    _ => None,
                })))
            }
            Tally::PhaseReach(t) => {
                let steps = self.steps_in(index::STEP, &t.account_type, &t.created)?;
                Ok(t.answer(self.seen_steps(t.visible.as_ref(), steps)?.iter()))
            }
            Tally::PhaseTime(t) => {
                let steps = self.steps_in(index::STEP_LEFT, &t.account_type, &t.left)?;
                Ok(t.answer(self.seen_steps(t.visible.as_ref(), steps)?.iter()))
            }
            // Every follow-up record (they are few next to leads).
            Tally::FollowUps(t) => {
                let records = self.records_under(EntityKind::FollowUp, None)?;
                Ok(t.answer(records.iter().filter_map(|r| match r {
                    Record::FollowUp(f) => Some(f),
                    _ => None,
                })))
            }
        }
    }

    /// The phase steps of an account type whose [`index::STEP`] or
    /// [`index::STEP_LEFT`] time lies in `range`: one key range.
    /// The steps of leads `visible` sees, by each lead's query row.
    fn seen_steps(&self, visible: Option<&Visible>, steps: Vec<PhaseStep>) -> Result<Vec<PhaseStep>, StoreError> {
        if visible.is_none() {
            return Ok(steps);
        }
        let mut out = Vec::with_capacity(steps.len());
        for step in steps {
            let row = self.row(step.lead.0)?;
            if step_seen(visible, &step, |_| row.map(|r| (r.owner, r.team))) {
                out.push(step);
            }
        }
        Ok(out)
    }

    fn steps_in(&self, tag: u8, account_type: &Code, range: &TimeRange) -> Result<Vec<PhaseStep>, StoreError> {
        let (start, end) = index::step_range(tag, account_type, range);
        let mut out = Vec::new();
        for item in self.idx.range(start..end) {
            let (k, v) = item.map_err(io)?;
            self.count_read(1);
            out.push(serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt {
                what: format!("phase step {}", crate::codec::hex(&k)),
                message: e.to_string(),
            })?);
        }
        Ok(out)
    }

    /// Decoded records of `kind` under an index prefix, or of every record of
    /// that kind.
    fn records_under(&self, kind: EntityKind, prefix: Option<Vec<u8>>) -> Result<Vec<Record>, StoreError> {
        let mut out = Vec::new();
        match prefix {
            Some(p) => {
                for id in self.ids_under(&p)? {
                    if let Some(r) = self.record(EntityRef { kind, id })? {
                        out.push(r);
                    }
                }
            }
            None => {
                for item in self.records.scan_prefix([crate::codec::kind_byte(kind)]) {
                    let (k, v) = item.map_err(io)?;
                    self.count_read(1);
                    out.push(decode::<Record>(&v, &k)?);
                }
            }
        }
        Ok(out)
    }

    fn customer_prefix(f: &CustomerFilter) -> Option<Vec<u8>> {
        if let Some(e) = &f.email {
            return Some(index::customer_email_prefix(e));
        }
        if let Some(p) = &f.phone {
            return Some(index::customer_phone_prefix(p));
        }
        None
    }

    fn communication_prefix(f: &CommunicationFilter) -> Option<Vec<u8>> {
        if let Some(l) = f.lead {
            return Some(index::communication_lead_prefix(l));
        }
        f.status
            .map(|s| index::prefix(index::COMMUNICATION_STATUS, &[s.as_str().as_bytes()]))
    }

    /// Answers a select (see the store contract).
    pub(crate) fn select_now(&self, select: &Select, page: &PageRequest) -> Result<Page<Record>, StoreError> {
        let records = match select {
            Select::Leads { filter, order } => {
                let rows = self.lead_rows(filter, order, page)?;
                let mut items = Vec::with_capacity(rows.items.len());
                for row in &rows.items {
                    let lead = self
                        .record(EntityRef::lead(row.id))?
                        .ok_or_else(|| StoreError::Corrupt {
                            what: format!("lead {}", row.id),
                            message: "its query row has no lead".into(),
                        })?;
                    items.push(lead);
                }
                return Ok(Page {
                    items,
                    next: rows.next,
                    total: rows.total,
                });
            }
            Select::Deals { filter, .. } => self.records_under(EntityKind::Deal, index::deal_prefix(filter))?,
            Select::Customers { filter } => {
                let prefix = Self::customer_prefix(filter);
                match (&prefix, &filter.search) {
                    (None, Some(s)) => {
                        let mut ids = Vec::new();
                        if let Some(w) = s.words.iter().max_by_key(|w| w.len()) {
                            ids.extend(self.ids_under(&index::word_prefix(index::CUSTOMER_WORD, w))?);
                        }
                        if let Some(p) = &s.phone {
                            ids.extend(self.ids_under(&index::customer_phone_prefix(p))?);
                        }
                        if let Some(e) = &s.email {
                            ids.extend(self.ids_under(&index::customer_email_prefix(e))?);
                        }
                        ids.sort();
                        ids.dedup();
                        let mut out = Vec::new();
                        for id in ids {
                            if let Some(r) = self.record(EntityRef {
                                kind: EntityKind::Customer,
                                id,
                            })? {
                                out.push(r);
                            }
                        }
                        out
                    }
                    _ => self.records_under(EntityKind::Customer, prefix)?,
                }
            }
            Select::Activities { subject } => self.records_under(
                EntityKind::Activity,
                Some(index::subject_prefix(index::ACTIVITY_SUBJECT, *subject)),
            )?,
            Select::FollowUps { subject } => self.records_under(
                EntityKind::FollowUp,
                Some(index::subject_prefix(index::FOLLOW_UP_SUBJECT, *subject)),
            )?,
            Select::Communications { filter } => {
                self.records_under(EntityKind::Communication, Self::communication_prefix(filter))?
            }
        };
        Ok(select.answer(&records, page))
    }
}
