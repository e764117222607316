//! Secondary indexes: tags, key encodings, and which index answers a filter.
//!
//! An index key is `tag` + length-prefixed value parts + kind byte + UUID, with
//! an empty value. Two exceptions: the lead-number index is unique
//! (`N` + number, value = kind byte + UUID) so a transaction can check it with
//! one read, and the update-time index uses a fixed 8-byte order-preserving
//! timestamp so a time range is one key range.

use crcm_core::domain::activity::Subject;
use crcm_core::domain::entity::EntityKind;
use crcm_core::domain::ids::LeadId;
use crcm_core::store::record::Record;
use crcm_core::store::{DealFilter, LeadFilter};
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
/// Customer e-mail.
pub const CUSTOMER_EMAIL: u8 = b'e';
/// Customer phone.
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

/// Every index entry of a record.
pub fn keys(record: &Record) -> Vec<Entry> {
    let mut out = Vec::new();
    match record {
        Record::Lead(l) => {
            let (k, id) = (EntityKind::Lead, l.id.0);
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
            let mut number_value = vec![kind_byte(k)];
            number_value.extend_from_slice(id.as_bytes());
            out.push((lead_number_key(l.number), number_value));
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
            if let Some(e) = &c.email {
                out.push(entry(
                    CUSTOMER_EMAIL,
                    &[e.as_str().as_bytes()],
                    EntityKind::Customer,
                    c.id.0,
                ));
            }
            if let Some(p) = &c.phone {
                out.push(entry(
                    CUSTOMER_PHONE,
                    &[p.key().as_bytes()],
                    EntityKind::Customer,
                    c.id.0,
                ));
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

/// The board cell a lead counts in: its account type, its phase (the
/// phase's own account type and code: an unphased type's lead may sit in
/// another type's phase, and two types may share a phase code; both empty
/// without a phase), and its status.
pub fn board_key(record: &Record) -> Option<Vec<u8>> {
    match record {
        Record::Lead(l) => {
            let mut k = Vec::new();
            push_part(&mut k, l.account_type.as_str().as_bytes());
            let (phase_type, phase_code) = l.phase.as_ref().map_or((&b""[..], &b""[..]), |p| {
                (p.account_type.as_str().as_bytes(), p.code.as_str().as_bytes())
            });
            push_part(&mut k, phase_type);
            push_part(&mut k, phase_code);
            push_part(&mut k, l.status.as_str().as_bytes());
            Some(k)
        }
        _ => None,
    }
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

/// How a lead filter is answered.
#[derive(Debug, PartialEq, Eq)]
pub enum Plan {
    /// The union of these index prefixes (then the whole filter is applied).
    Prefixes(Vec<Vec<u8>>),
    /// One key range of the update-time index.
    Range(Vec<u8>, Vec<u8>),
    /// No indexed field is set: read every lead.
    Scan,
}

/// Chooses the most selective index for a filter.
pub fn lead_plan(f: &LeadFilter) -> Plan {
    let one = |tag: u8, parts: &[&[u8]]| Plan::Prefixes(vec![prefix(tag, parts)]);
    if let Some(e) = &f.email {
        return one(EMAIL, &[e.as_bytes()]);
    }
    if let Some(p) = &f.phone {
        return one(PHONE, &[p.as_bytes()]);
    }
    if let Some(c) = &f.customer {
        return one(CUSTOMER, &[c.0.as_bytes()]);
    }
    if let Some(p) = &f.phase {
        return one(PHASE, &[p.account_type.as_str().as_bytes(), p.code.as_str().as_bytes()]);
    }
    if let Some(r) = &f.lost_reason {
        return one(LOST_REASON, &[r.as_str().as_bytes()]);
    }
    if let Some(r) = &f.closing_reason {
        return one(CLOSING_REASON, &[r.as_str().as_bytes()]);
    }
    if let Some(c) = &f.has_custom {
        return one(CUSTOM, &[c.as_str().as_bytes()]);
    }
    if let Some(t) = &f.tag {
        return one(TAG, &[t.as_str().as_bytes()]);
    }
    if let Some(o) = &f.owner {
        return one(OWNER, &[o.as_str().as_bytes()]);
    }
    if let Some(s) = &f.source {
        return one(SOURCE, &[s.as_str().as_bytes()]);
    }
    if let Some(p) = &f.priority {
        return one(PRIORITY, &[p.as_str().as_bytes()]);
    }
    if let Some(a) = &f.account_type {
        return one(ACCOUNT_TYPE, &[a.as_str().as_bytes()]);
    }
    if let Some(z) = &f.zone {
        return one(ZONE, &[z.as_bytes()]);
    }
    if let Some(statuses) = &f.statuses {
        return Plan::Prefixes(
            statuses
                .iter()
                .map(|s| prefix(STATUS, &[s.as_str().as_bytes()]))
                .collect(),
        );
    }
    if f.updated_from.is_some() || f.updated_before.is_some() {
        let from = f
            .updated_from
            .map_or_else(|| vec![UPDATED], |t| [&[UPDATED][..], &time_bytes(t)].concat());
        let to = f
            .updated_before
            .map_or_else(|| vec![UPDATED + 1], |t| [&[UPDATED][..], &time_bytes(t)].concat());
        return Plan::Range(from, to);
    }
    Plan::Scan
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
    f.status.map(|s| prefix(DEAL_STATUS, &[s.as_str().as_bytes()]))
}
