//! The leads both sides hold: deterministic, realistic enough that every
//! index sees the spread real data gives it: 20 owners, ten sources,
//! unique e-mails and phones, surnames that repeat about once per million
//! leads.
//!
//! A store grows by its history: the same number of leads comes in each
//! day (the smallest scale holds 120 days of them), lead numbers follow
//! creation, and a lead is worked for 90 days: younger leads are in CALL
//! (60 %), QUOTE (30 %) or closed won (10 %), older ones are closed, won
//! or lost. So a larger store holds more closed history, and the open
//! pipeline (what a board and a rotten count look at) stays the size a
//! sales team can work.

use chrono::{DateTime, Duration, Utc};

/// The owners leads are spread over.
pub const OWNERS: usize = 20;

const FIRST: [&str; 32] = [
    "Ada",
    "Alan",
    "Barbara",
    "Claude",
    "Dennis",
    "Donald",
    "Edsger",
    "Frances",
    "Grace",
    "Hedy",
    "Ivan",
    "Jean",
    "John",
    "Karen",
    "Ken",
    "Leslie",
    "Linus",
    "Margaret",
    "Mary",
    "Niklaus",
    "Radia",
    "Robin",
    "Sophie",
    "Tim",
    "Tony",
    "Vint",
    "Whitfield",
    "Xavier",
    "Yukihiro",
    "Zoe",
    "Bjarne",
    "Guido",
];
const SYLLABLES: [&str; 32] = [
    "ka", "lo", "ve", "ri", "mon", "tes", "dar", "bel", "gu", "fin", "sal", "tor", "pa", "ne", "vik", "ro", "han",
    "sen", "mi", "lar", "qui", "zo", "ber", "nak", "ulf", "dra", "cho", "wes", "ty", "jan", "pol", "ek",
];
const SOURCES: [&str; 10] = [
    "web_form",
    "phone_inquiry",
    "email_campaign",
    "referral",
    "partner",
    "trade_show",
    "social_media",
    "cold_call",
    "advertisement",
    "other",
];

/// One lead, as a CSV row and as the raw side's columns.
#[derive(Clone, Debug)]
pub struct Row {
    /// First name.
    pub first: &'static str,
    /// Last name: four syllables drawn from `i`.
    pub last: String,
    /// Company.
    pub company: String,
    /// Unique e-mail.
    pub email: String,
    /// Unique phone, E.164.
    pub phone: String,
    /// Source code.
    pub source: &'static str,
    /// Owner's user id.
    pub owner: String,
    /// Phase code: CALL, QUOTE or CLOSED.
    pub phase: &'static str,
    /// The closing reason of a closed lead: won or lost.
    pub reason: &'static str,
    /// When it was created.
    pub created: DateTime<Utc>,
}

/// SplitMix64: a well-spread hash of `i`.
fn mix(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// How many days a lead stays open at most.
pub const WORKED_DAYS: f64 = 90.0;

/// The shape of one data set: `leads` leads, `per_day` of them a day, the
/// newest created just before `now`.
#[derive(Clone, Copy, Debug)]
pub struct Set {
    /// How many.
    pub leads: usize,
    /// Leads created a day.
    pub per_day: f64,
    /// The newest lead's creation is a few minutes before this.
    pub now: DateTime<Utc>,
}

/// Lead `i` of `set`: lead 0 is the oldest.
pub fn row(i: usize, set: Set) -> Row {
    let h = mix(i as u64);
    let syllable = |k: u32| SYLLABLES[((h >> (5 * k)) & 31) as usize];
    let last = capitalized(&format!("{}{}{}{}", syllable(0), syllable(1), syllable(2), syllable(3)));
    let first = FIRST[((h >> 20) & 31) as usize];
    let company = format!(
        "{} {}",
        capitalized(&format!("{}{}", syllable(4), syllable(5))),
        "Systems"
    );
    // Area codes and exchanges every numbering plan accepts, unique per i
    // up to ten million leads.
    let areas = ["212", "415", "617", "303", "512", "206", "312", "404", "503", "702"];
    let phone = format!("+1{}{}{:04}", areas[i % 10], 200 + (i / 10) % 700, (i / 7_000) % 10_000);
    let age_days = (set.leads - i) as f64 / set.per_day.max(f64::MIN_POSITIVE);
    let (phase, reason) = match (age_days < WORKED_DAYS, h % 10) {
        (true, 0..=5) => ("CALL", ""),
        (true, 6..=8) => ("QUOTE", ""),
        (true, _) => ("CLOSED", "won"),
        (false, 0..=2) => ("CLOSED", "won"),
        (false, _) => ("CLOSED", "lost"),
    };
    let created = set.now - Duration::seconds((age_days * 86_400.0) as i64 + 300);
    Row {
        first,
        email: format!(
            "{}.{}{i}@{}.example.com",
            first.to_lowercase(),
            last.to_lowercase(),
            syllable(4)
        ),
        last,
        company,
        phone,
        source: SOURCES[((h >> 40) % 10) as usize],
        owner: format!("rep{:02}", i % OWNERS),
        phase,
        reason,
        created,
    }
}

/// The header of the import file.
pub const HEADER: &str = "first_name,last_name,company_name,email,phone,source,owner,phase,closing_reason,created_at\n";

/// Rows `from..to` of `set` as the import file crcm reads (header included).
pub fn csv(from: usize, to: usize, set: Set) -> String {
    let mut out = String::with_capacity((to - from) * 140 + HEADER.len());
    out.push_str(HEADER);
    for i in from..to {
        let r = row(i, set);
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{}\n",
            r.first,
            r.last,
            r.company,
            r.email,
            r.phone,
            r.source,
            r.owner,
            r.phase,
            r.reason,
            r.created.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ));
    }
    out
}
