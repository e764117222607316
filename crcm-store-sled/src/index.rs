//! Secondary indexes: tags, key encodings, and which index answers a filter.
//!
//! An index key is `tag` + length-prefixed value parts + kind byte + UUID, with
//! an empty value. The exceptions: the lead-number index is unique
//! (`N` + number, value = kind byte + UUID) so a transaction can check it with
//! one read and a scan of it is number order; the update-time index uses a
//! fixed 8-byte order-preserving timestamp so a time range is one key range;
//! search words are not length-prefixed, so a word prefix is a key prefix;
//! and each lead's query row ([`ROW`]) carries the encoded [`LeadRow`].

use crcm_core::domain::activity::Subject;
use crcm_core::domain::config::PhaseRef;
use crcm_core::domain::entity::EntityKind;
use crcm_core::domain::ids::{Code, LeadId};
use crcm_core::store::DealFilter;
use crcm_core::store::query::{LeadKey, LeadOrder, LeadRow, TimeRange, customer_words, deal_words};
use crcm_core::store::record::Record;
use crcm_core::store::steps::PhaseStep;
use uuid::Uuid;

use crate::codec::{kind_byte, kind_from_byte};

/// Lead status.
pub const STATUS: u8 = b'S';
/// Lead owner.
pub const OWNER: u8 = b'O';
/// Lead account type.
pub const ACCOUNT_TYPE: u8 = b'A';
/// Lead phase (account type, code).
pub const PHASE: u8 = b'P';
/// Lead source.
pub const SOURCE: u8 = b'R';
/// Lead priority.
pub const PRIORITY: u8 = b'Y';
/// Lead tag (one entry per tag).
pub const TAG: u8 = b'T';
/// Lead zone.
pub const ZONE: u8 = b'Z';
/// Lead e-mail (normalized).
pub const EMAIL: u8 = b'E';
/// Lead phone (E.164).
pub const PHONE: u8 = b'H';
/// Lead number (unique).
pub const NUMBER: u8 = b'N';
/// Lead external reference (`system:id`).
pub const EXTERNAL_REF: u8 = b'r';
/// The import that created a lead (its id).
pub const IMPORT: u8 = b'I';
/// Lead update time.
pub const UPDATED: u8 = b'U';
/// Lead's customer.
pub const CUSTOMER: u8 = b'C';
/// Lead closing reason.
pub const CLOSING_REASON: u8 = b'K';
/// Lead lost reason.
pub const LOST_REASON: u8 = b'L';
/// Lead custom field present (one entry per field).
pub const CUSTOM: u8 = b'F';
/// Customer e-mail: its own and its contact persons' (one entry each).
pub const CUSTOMER_EMAIL: u8 = b'e';
/// Customer phone: its own and its contact persons' (one entry each).
pub const CUSTOMER_PHONE: u8 = b'h';
/// Deal's lead.
pub const DEAL_LEAD: u8 = b'd';
/// Deal's customer.
pub const DEAL_CUSTOMER: u8 = b'c';
/// Deal pipeline and stage.
pub const DEAL_STAGE: u8 = b'p';
/// Deal status.
pub const DEAL_STATUS: u8 = b's';
/// Deal lost reason.
pub const DEAL_LOST_REASON: u8 = b'l';
/// Deal owner.
pub const DEAL_OWNER: u8 = b'o';
/// Activity subject.
pub const ACTIVITY_SUBJECT: u8 = b'a';
/// Follow-up subject.
pub const FOLLOW_UP_SUBJECT: u8 = b'f';
/// Communication's lead.
pub const COMMUNICATION_LEAD: u8 = b'm';
/// Communication status.
pub const COMMUNICATION_STATUS: u8 = b'g';
/// Lead phase and the time it entered it: `Q` + phase parts + 8-byte
/// order-preserving time + kind byte + UUID, so "in this phase since before
/// a time" (rotten, stuck) is one key range.
pub const PHASE_ENTERED: u8 = b'Q';
/// Lead search word: `W` + word bytes + 0 + kind byte + UUID, so that a word
/// prefix is a key prefix.
pub const WORD: u8 = b'W';
/// Customer search word, laid out as [`WORD`].
pub const CUSTOMER_WORD: u8 = b'V';
/// Deal search word (title), laid out as [`WORD`].
pub const DEAL_WORD: u8 = b'D';
/// A lead's query columns ([`LeadRow`]): `R` + kind byte + UUID, the encoded
/// row as value. Queries filter and sort on rows and decode only the leads
/// they return.
pub const ROW: u8 = b'R';

/// A lead's stay in a phase ([`PhaseStep`]): `J` + account type part +
/// 8-byte time the lead was created + UUID + phase code part + 8-byte time it
/// entered, the encoded step as value; the funnel of leads created in an
/// interval is one key range.
pub const STEP: u8 = b'J';
/// A stay that ended: `X` + account type part + 8-byte time it ended + UUID +
/// phase code part + 8-byte time it entered, the encoded step as value; time
/// in phase over an interval is one key range.
pub const STEP_LEFT: u8 = b'X';

/// A lead's sort key for one order ([`sort_tag`]): `k` + order byte +
/// 8-byte order-preserving key + kind byte + UUID, so a page in that order is
/// a walk from the cursor, as for numbers.
pub const SORT: u8 = b'k';

/// The orders kept as [`SORT`] entries, with their order byte. Number order
/// walks the unique number index; priority order depends on the ranks a
/// query passes, so it is sorted from the matching rows.
const SORTED: [(LeadKey, u8); 5] = [
    (LeadKey::Created, b'c'),
    (LeadKey::Updated, b'u'),
    (LeadKey::ExpectedClose, b'e'),
    (LeadKey::Value, b'v'),
    (LeadKey::PhaseEntered, b'q'),
];

/// The order byte of the [`SORT`] entries of an order, if it has them.
pub fn sort_tag(key: &LeadKey) -> Option<u8> {
    SORTED.iter().find(|(k, _)| k == key).map(|(_, t)| *t)
}

/// The [`SORT`] key of a lead with sort key `key` in the order `tag`.
pub fn sort_key(tag: u8, key: i64, id: Uuid) -> Vec<u8> {
    let mut k = vec![SORT, tag];
    // Flip the sign bit so negative keys sort before positive ones.
    k.extend_from_slice(&((key as u64) ^ (1 << 63)).to_be_bytes());
    k.push(kind_byte(EntityKind::Lead));
    k.extend_from_slice(id.as_bytes());
    k
}

/// The key range of every [`SORT`] entry of the order `tag`.
pub fn sort_range(tag: u8) -> (Vec<u8>, Vec<u8>) {
    (vec![SORT, tag], vec![SORT, tag + 1])
}

/// A lead by owner, phase and number: `b` + owner part + phase part
/// (`type/code`, empty without a phase) + 8-byte number + kind byte + UUID.
/// An owner's leads in some phases, in number order, are a merge of one key
/// range per phase, so a list of an owner's open leads reads its page, not
/// the owner's closed history.
pub const OWNER_PHASE_NUMBER: u8 = b'b';
/// A lead by phase and number: `j` + account type part + code part + 8-byte
/// number + kind byte + UUID; a board column's cards are one key range.
pub const PHASE_NUMBER: u8 = b'j';

/// The phase part of [`OWNER_PHASE_NUMBER`] entries.
pub fn phase_part(phase: Option<&PhaseRef>) -> String {
    phase.map_or_else(String::new, |p| format!("{}/{}", p.account_type, p.code))
}

/// The [`OWNER_PHASE_NUMBER`] prefix of an owner's leads, or of those in one phase part.
pub fn owner_phase_prefix(owner: &str, phase: Option<&str>) -> Vec<u8> {
    match phase {
        Some(p) => prefix(OWNER_PHASE_NUMBER, &[owner.as_bytes(), p.as_bytes()]),
        None => prefix(OWNER_PHASE_NUMBER, &[owner.as_bytes()]),
    }
}

/// The [`PHASE_NUMBER`] prefix of a phase's leads.
pub fn phase_number_prefix(phase: &PhaseRef) -> Vec<u8> {
    prefix(
        PHASE_NUMBER,
        &[phase.account_type.as_str().as_bytes(), phase.code.as_str().as_bytes()],
    )
}

/// The phase part right after an owner's prefix in an [`OWNER_PHASE_NUMBER`] key.
pub fn phase_part_of<'k>(key: &'k [u8], owner_prefix: &[u8]) -> Option<&'k [u8]> {
    let rest = key.strip_prefix(owner_prefix)?;
    let len = usize::from(u16::from_be_bytes([*rest.first()?, *rest.get(1)?]));
    rest.get(2..2 + len)
}

/// The number of a lead in a key that ends with 8-byte number, kind byte and UUID.
pub fn number_before_id(key: &[u8]) -> Option<u64> {
    let at = key.len().checked_sub(25)?;
    Some(u64::from_be_bytes(key.get(at..at + 8)?.try_into().ok()?))
}

/// The order byte of the [`SORT`] entries of closed leads by the time they
/// closed (no list sorts by it; a report over closing times reads one range).
pub const CLOSED_SORT: u8 = b'x';

/// The key range of the [`SORT`] entries of the order `tag` whose keys lie
/// in `[from, before)` (an unset end is open).
pub fn sort_span(tag: u8, from: Option<i64>, before: Option<i64>) -> (Vec<u8>, Vec<u8>) {
    let at = |key: i64| {
        let mut k = vec![SORT, tag];
        k.extend_from_slice(&((key as u64) ^ (1 << 63)).to_be_bytes());
        k
    };
    let (all_start, all_end) = sort_range(tag);
    (from.map_or(all_start, at), before.map_or(all_end, at))
}

/// One index entry: key and value.
pub type Entry = (Vec<u8>, Vec<u8>);

fn push_part(out: &mut Vec<u8>, part: &[u8]) {
    let len = u16::try_from(part.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&part[..usize::from(len)]);
}

/// `tag` + length-prefixed parts: the prefix all entries of one value share.
pub fn prefix(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    let mut out = vec![tag];
    for p in parts {
        push_part(&mut out, p);
    }
    out
}

/// Splits a run of length-prefixed parts (after no tag).
pub fn split_parts(mut bytes: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while bytes.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([bytes[0], bytes[1]]));
        if bytes.len() < 2 + len {
            break;
        }
        out.push(&bytes[2..2 + len]);
        bytes = &bytes[2 + len..];
    }
    out
}

fn entry(tag: u8, parts: &[&[u8]], kind: EntityKind, id: Uuid) -> Entry {
    let mut k = prefix(tag, parts);
    k.push(kind_byte(kind));
    k.extend_from_slice(id.as_bytes());
    (k, Vec::new())
}

/// Order-preserving bytes of a timestamp in microseconds.
fn time_bytes(t: chrono::DateTime<chrono::Utc>) -> [u8; 8] {
    // Flip the sign bit so negative times sort before positive ones.
    ((t.timestamp_micros() as u64) ^ (1 << 63)).to_be_bytes()
}

/// The unique key of a lead number.
pub fn lead_number_key(number: u64) -> Vec<u8> {
    let mut k = vec![NUMBER];
    k.extend_from_slice(&number.to_be_bytes());
    k
}

/// The prefix of all lead-number keys.
pub fn lead_number_prefix() -> Vec<u8> {
    vec![NUMBER]
}

/// The number in a lead-number key.
pub fn number_from_key(k: &[u8]) -> u64 {
    k.get(1..9)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u64::from_be_bytes)
}

/// The record an index entry points to.
pub fn target(key: &[u8], value: &[u8]) -> Option<(EntityKind, Uuid)> {
    let tail = if key.first() == Some(&NUMBER) {
        value
    } else {
        key.get(key.len().checked_sub(17)?..)?
    };
    let (kind, id) = tail.split_first()?;
    Some((kind_from_byte(*kind)?, Uuid::from_slice(id).ok()?))
}

fn subject_bytes(s: Subject) -> Vec<u8> {
    match s {
        Subject::Lead(id) => [&[kind_byte(EntityKind::Lead)][..], id.0.as_bytes()].concat(),
        Subject::Deal(id) => [&[kind_byte(EntityKind::Deal)][..], id.0.as_bytes()].concat(),
    }
}

/// A search-word entry: `tag` + word + 0 + kind byte + UUID.
fn word_entry(tag: u8, word: &str, kind: EntityKind, id: Uuid) -> Entry {
    let mut k = word_prefix(tag, word);
    k.push(0);
    k.push(kind_byte(kind));
    k.extend_from_slice(id.as_bytes());
    (k, Vec::new())
}

/// The prefix of the phase-entered entries of a phase.
pub fn phase_entered_prefix(phase: &crcm_core::domain::config::PhaseRef) -> Vec<u8> {
    prefix(
        PHASE_ENTERED,
        &[phase.account_type.as_str().as_bytes(), phase.code.as_str().as_bytes()],
    )
}

/// The key range of the leads that entered `phase` at or before `at`.
pub fn entered_by(
    phase: &crcm_core::domain::config::PhaseRef,
    at: chrono::DateTime<chrono::Utc>,
) -> (Vec<u8>, Vec<u8>) {
    let start = phase_entered_prefix(phase);
    let mut end = start.clone();
    match at.checked_add_signed(chrono::Duration::microseconds(1)) {
        Some(next) => end.extend_from_slice(&time_bytes(next)),
        None => end.push(0xFF),
    }
    (start, end)
}

/// The prefix of the word entries of every word that starts with `word`.
pub fn word_prefix(tag: u8, word: &str) -> Vec<u8> {
    let mut k = vec![tag];
    k.extend_from_slice(word.as_bytes());
    k
}

/// The key of a lead's query row.
pub fn row_key(id: Uuid) -> Vec<u8> {
    let mut k = vec![ROW, kind_byte(EntityKind::Lead)];
    k.extend_from_slice(id.as_bytes());
    k
}

/// The prefix of every lead's query row.
pub fn row_prefix() -> Vec<u8> {
    vec![ROW, kind_byte(EntityKind::Lead)]
}

/// The encoded query row of a lead (JSON; empty only if encoding failed,
/// which a reader reports as a corrupt row).
pub fn encode_row(row: &LeadRow) -> Vec<u8> {
    serde_json::to_vec(row).unwrap_or_default()
}

/// Every index entry of a record.
pub fn keys(record: &Record) -> Vec<Entry> {
    let mut out = Vec::new();
    match record {
        Record::Lead(l) => {
            let (k, id) = (EntityKind::Lead, l.id.0);
            let row = LeadRow::of(l);
            for w in &row.words {
                out.push(word_entry(WORD, w, k, id));
            }
            for (key, tag) in &SORTED {
                let order = LeadOrder {
                    key: key.clone(),
                    descending: false,
                };
                out.push((sort_key(*tag, order.key_row(&row), id), Vec::new()));
            }
            if let Some(closed) = row.closed {
                out.push((sort_key(CLOSED_SORT, closed, id), Vec::new()));
            }
            out.push((row_key(id), encode_row(&row)));
            out.push(entry(STATUS, &[l.status.as_str().as_bytes()], k, id));
            out.push(entry(OWNER, &[l.owner.as_str().as_bytes()], k, id));
            out.push(entry(ACCOUNT_TYPE, &[l.account_type.as_str().as_bytes()], k, id));
            if let Some(p) = &l.phase {
                out.push(entry(
                    PHASE,
                    &[p.account_type.as_str().as_bytes(), p.code.as_str().as_bytes()],
                    k,
                    id,
                ));
                let mut key = phase_entered_prefix(p);
                key.extend_from_slice(&time_bytes(l.phase_entered_at));
                key.push(kind_byte(k));
                key.extend_from_slice(id.as_bytes());
                out.push((key, Vec::new()));
            }
            if let Some(s) = &l.source {
                out.push(entry(SOURCE, &[s.as_str().as_bytes()], k, id));
            }
            if let Some(p) = &l.priority {
                out.push(entry(PRIORITY, &[p.as_str().as_bytes()], k, id));
            }
            for t in &l.tags {
                out.push(entry(TAG, &[t.as_str().as_bytes()], k, id));
            }
            out.push(entry(ZONE, &[l.zone.as_bytes()], k, id));
            if let Some(e) = &l.email {
                out.push(entry(EMAIL, &[e.as_str().as_bytes()], k, id));
            }
            if let Some(p) = &l.phone {
                out.push(entry(PHONE, &[p.key().as_bytes()], k, id));
            }
            if let Some(r) = &l.external_ref {
                out.push(entry(EXTERNAL_REF, &[r.key().as_bytes()], k, id));
            }
            if let Some(i) = &l.import {
                out.push(entry(IMPORT, &[i.id.0.to_string().as_bytes()], k, id));
            }
            let mut number_value = vec![kind_byte(k)];
            number_value.extend_from_slice(id.as_bytes());
            out.push((lead_number_key(l.number), number_value));
            let numbered = |mut key: Vec<u8>| {
                key.extend_from_slice(&l.number.to_be_bytes());
                key.push(kind_byte(k));
                key.extend_from_slice(id.as_bytes());
                (key, Vec::new())
            };
            let phase = phase_part(l.phase.as_ref());
            out.push(numbered(owner_phase_prefix(l.owner.as_str(), Some(&phase))));
            if let Some(p) = &l.phase {
                out.push(numbered(phase_number_prefix(p)));
            }
            let mut updated = vec![UPDATED];
            updated.extend_from_slice(&time_bytes(l.updated_at));
            updated.push(kind_byte(k));
            updated.extend_from_slice(id.as_bytes());
            out.push((updated, Vec::new()));
            if let Some(c) = l.customer {
                out.push(entry(CUSTOMER, &[c.0.as_bytes()], k, id));
            }
            if let Some(r) = &l.closing_reason {
                out.push(entry(CLOSING_REASON, &[r.as_str().as_bytes()], k, id));
            }
            if let Some(r) = &l.lost_reason {
                out.push(entry(LOST_REASON, &[r.as_str().as_bytes()], k, id));
            }
            for name in l.custom.keys() {
                out.push(entry(CUSTOM, &[name.as_str().as_bytes()], k, id));
            }
        }
        Record::Customer(c) => {
            for w in customer_words(c) {
                out.push(word_entry(CUSTOMER_WORD, &w, EntityKind::Customer, c.id.0));
            }
            // Its own e-mail and phone and its contact persons', each once.
            for e in c.emails() {
                out.push(entry(CUSTOMER_EMAIL, &[e.as_bytes()], EntityKind::Customer, c.id.0));
            }
            for p in c.phones() {
                out.push(entry(CUSTOMER_PHONE, &[p.as_bytes()], EntityKind::Customer, c.id.0));
            }
        }
        Record::Deal(d) => {
            let (k, id) = (EntityKind::Deal, d.id.0);
            if let Some(l) = d.lead {
                out.push(entry(DEAL_LEAD, &[l.0.as_bytes()], k, id));
            }
            out.push(entry(DEAL_CUSTOMER, &[d.customer.0.as_bytes()], k, id));
            out.push(entry(
                DEAL_STAGE,
                &[d.pipeline.as_str().as_bytes(), d.stage.as_str().as_bytes()],
                k,
                id,
            ));
            out.push(entry(DEAL_STATUS, &[d.status.as_str().as_bytes()], k, id));
            if let Some(r) = &d.lost_reason {
                out.push(entry(DEAL_LOST_REASON, &[r.as_str().as_bytes()], k, id));
            }
            out.push(entry(DEAL_OWNER, &[d.owner.as_str().as_bytes()], k, id));
            for w in deal_words(d) {
                out.push(word_entry(DEAL_WORD, &w, k, id));
            }
        }
        Record::Activity(a) => {
            out.push(entry(
                ACTIVITY_SUBJECT,
                &[&subject_bytes(a.subject)],
                EntityKind::Activity,
                a.id.0,
            ));
        }
        Record::FollowUp(f) => {
            out.push(entry(
                FOLLOW_UP_SUBJECT,
                &[&subject_bytes(f.subject)],
                EntityKind::FollowUp,
                f.id.0,
            ));
        }
        Record::Communication(c) => {
            out.push(entry(
                COMMUNICATION_STATUS,
                &[c.status.as_str().as_bytes()],
                EntityKind::Communication,
                c.id.0,
            ));
            if let Some(l) = c.lead {
                out.push(entry(
                    COMMUNICATION_LEAD,
                    &[l.0.as_bytes()],
                    EntityKind::Communication,
                    c.id.0,
                ));
            }
        }
    }
    out
}

/// The board cell a lead counts in, and the expected revenue it adds: the
/// key is its account type, its phase (the phase's own account type and code:
/// an unphased type's lead may sit in another type's phase, and two types may
/// share a phase code; both empty without a phase), its status, its owner and
/// its revenue's currency (empty without one).
pub fn board_cell(record: &Record) -> Option<(Vec<u8>, i128)> {
    match record {
        Record::Lead(l) => {
            // The cell is crcm-core's (`BoardCell::of`); this only lays out its key.
            let cell = crcm_core::store::tally::BoardCell::of(l);
            let mut k = board_prefix(cell.account_type.as_str());
            let (phase_type, phase_code) = cell.phase.as_ref().map_or((&b""[..], &b""[..]), |p| {
                (p.account_type.as_str().as_bytes(), p.code.as_str().as_bytes())
            });
            push_part(&mut k, phase_type);
            push_part(&mut k, phase_code);
            push_part(&mut k, cell.status.as_str().as_bytes());
            push_part(&mut k, cell.owner.as_str().as_bytes());
            push_part(&mut k, cell.currency.as_deref().unwrap_or_default().as_bytes());
            Some((k, cell.value))
        }
        _ => None,
    }
}

/// The prefix of an account type's board cells.
pub fn board_prefix(account_type: &str) -> Vec<u8> {
    let mut k = Vec::new();
    push_part(&mut k, account_type.as_bytes());
    k
}

/// A board cell's value: the count and the summed revenue, big-endian.
pub fn cell_value(count: u64, value: i128) -> [u8; 24] {
    let mut out = [0; 24];
    out[..8].copy_from_slice(&count.to_be_bytes());
    out[8..].copy_from_slice(&value.to_be_bytes());
    out
}

/// Reads a board cell's value: the count and a 128-bit sum, or the 64-bit
/// sum older builds wrote (a shorter value reads as zero).
pub fn read_cell(bytes: &[u8]) -> (u64, i128) {
    let count = bytes
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u64::from_be_bytes);
    let value = match bytes.get(8..) {
        Some(b) if b.len() == 16 => b.try_into().map_or(0, i128::from_be_bytes),
        Some(b) => b.try_into().map_or(0, |b| i128::from(i64::from_be_bytes(b))),
        None => 0,
    };
    (count, value)
}

/// Timeline prefix of a subject for an index tag.
pub fn subject_prefix(tag: u8, subject: Subject) -> Vec<u8> {
    prefix(tag, &[&subject_bytes(subject)])
}

/// Communications of a lead.
pub fn communication_lead_prefix(lead: LeadId) -> Vec<u8> {
    prefix(COMMUNICATION_LEAD, &[lead.0.as_bytes()])
}

/// Customers by e-mail.
pub fn customer_email_prefix(email: &str) -> Vec<u8> {
    prefix(CUSTOMER_EMAIL, &[email.as_bytes()])
}

/// Customers by phone.
pub fn customer_phone_prefix(e164: &str) -> Vec<u8> {
    prefix(CUSTOMER_PHONE, &[e164.as_bytes()])
}

/// The index prefix that answers a deal filter, if any field is indexed.
pub fn deal_prefix(f: &DealFilter) -> Option<Vec<u8>> {
    if let Some(l) = f.lead {
        return Some(prefix(DEAL_LEAD, &[l.0.as_bytes()]));
    }
    if let Some(c) = f.customer {
        return Some(prefix(DEAL_CUSTOMER, &[c.0.as_bytes()]));
    }
    if let Some(p) = &f.pipeline {
        return Some(match &f.stage {
            Some(s) => prefix(DEAL_STAGE, &[p.as_str().as_bytes(), s.as_str().as_bytes()]),
            None => prefix(DEAL_STAGE, &[p.as_str().as_bytes()]),
        });
    }
    if let Some(r) = &f.lost_reason {
        return Some(prefix(DEAL_LOST_REASON, &[r.as_str().as_bytes()]));
    }
    if let Some(o) = &f.owner {
        return Some(prefix(DEAL_OWNER, &[o.as_str().as_bytes()]));
    }
    if let Some(w) = f.search.as_ref().and_then(|s| s.words.iter().max_by_key(|w| w.len())) {
        return Some(word_prefix(DEAL_WORD, w));
    }
    f.status.map(|s| prefix(DEAL_STATUS, &[s.as_str().as_bytes()]))
}

fn step_key(tag: u8, step: &PhaseStep, at: chrono::DateTime<chrono::Utc>) -> Vec<u8> {
    let mut k = prefix(tag, &[step.phase.account_type.as_str().as_bytes()]);
    k.extend_from_slice(&time_bytes(at));
    k.extend_from_slice(step.lead.0.as_bytes());
    push_part(&mut k, step.phase.code.as_str().as_bytes());
    k.extend_from_slice(&time_bytes(step.entered_at));
    k
}

/// The entries of a phase step: the [`STEP`] entry, and the [`STEP_LEFT`]
/// entry once the stay ended. A later write of the same stay lands on the
/// same keys.
pub fn step_entries(step: &PhaseStep) -> Vec<Entry> {
    let value = serde_json::to_vec(step).unwrap_or_default();
    let mut out = vec![(step_key(STEP, step, step.lead_created), value.clone())];
    if let Some(left) = step.left_at {
        out.push((step_key(STEP_LEFT, step, left), value));
    }
    out
}

/// The key range of the [`STEP`] or [`STEP_LEFT`] entries of an account
/// type whose time lies in `range`.
pub fn step_range(tag: u8, account_type: &Code, range: &TimeRange) -> (Vec<u8>, Vec<u8>) {
    let base = prefix(tag, &[account_type.as_str().as_bytes()]);
    let bound = |t: Option<chrono::DateTime<chrono::Utc>>, open: u8| {
        let mut k = base.clone();
        match t {
            Some(t) => k.extend_from_slice(&time_bytes(t)),
            None => k.extend_from_slice(&[open; 8]),
        }
        k
    };
    (bound(range.from, 0), bound(range.before, 0xFF))
}
