//! `crcm generate`: a CSV of made-up leads in seed 001's default columns,
//! for trying an import at scale. The same row count gives the same file.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use crate::Failure;

const FIRST: [&str; 16] = [
    "Ana", "Ben", "Chloé", "Dmitri", "Emma", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kofi", "Lena", "Mateo",
    "Nora", "Omar", "Priya",
];
const LAST: [&str; 16] = [
    "Alvarez", "Brown", "Chen", "Dubois", "Evans", "Fischer", "García", "Hughes", "Ivanova", "Jensen", "Kim", "López",
    "Müller", "Nakamura", "O'Brien", "Patel",
];
const COMPANIES: [&str; 8] = [
    "Acme Corp",
    "Globex",
    "Initech",
    "Umbrella Ltd",
    "Hooli",
    "Vandelay Industries",
    "Stark, Inc.",
    "Wayne Enterprises",
];
const CITIES: [&str; 8] = [
    "New York", "Chicago", "Boston", "Seattle", "Austin", "Denver", "Miami", "Portland",
];
// Labels as a person types them; the import matches them case-insensitively.
const SOURCES: [&str; 6] = [
    "Web Form",
    "Referral",
    "trade_show",
    "cold call",
    "Partner",
    "EMAIL CAMPAIGN",
];
const PRIORITIES: [&str; 4] = ["High", "Medium", "low", ""];
// US area codes: each gives a million distinct numbers (exchanges 200-299).
const AREA_CODES: [u32; 6] = [212, 312, 415, 617, 206, 303];

/// Writes `rows` leads to `file`: every e-mail and phone distinct (up to six
/// million rows), so the whole file imports without duplicates.
pub fn generate(file: &Path, rows: u64, force: bool) -> Result<(), Failure> {
    if !force && file.exists() {
        return Err(Failure::Usage(format!(
            "{}: the file exists; give --force to replace it",
            file.display()
        )));
    }
    let capacity = AREA_CODES.len() as u64 * 1_000_000;
    if rows > capacity {
        return Err(Failure::Error(format!("--rows {rows}: at most {capacity}")));
    }
    let out = File::create(file).map_err(|e| Failure::Error(format!("{}: {e}", file.display())))?;
    let mut csv = csv::Writer::from_writer(BufWriter::new(out));
    csv.write_record([
        "contact_name",
        "phone",
        "source",
        "company_name",
        "email",
        "city",
        "priority",
        "description",
    ])?;
    for i in 0..rows {
        // A fixed scramble of the row number picks the words, so files look varied.
        let h = i.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17);
        let pick = |n: usize, shift: u32| ((h >> shift) as usize) % n;
        let first = FIRST[pick(FIRST.len(), 0)];
        let last = LAST[pick(LAST.len(), 8)];
        let area = AREA_CODES[(i / 1_000_000) as usize];
        let local = i % 1_000_000;
        let phone = format!("+1 {area} {} {:04}", 200 + local / 10_000, local % 10_000);
        let email = format!("{}.{}.{i}@example.com", ascii(first), ascii(last));
        let description = if pick(3, 16) == 0 {
            format!("Asked for a quote, \"urgent\"\nfollow up in {} days", 2 + pick(12, 20))
        } else {
            String::new()
        };
        csv.write_record([
            format!("{first} {last}").as_str(),
            &phone,
            SOURCES[pick(SOURCES.len(), 24)],
            COMPANIES[pick(COMPANIES.len(), 32)],
            &email,
            CITIES[pick(CITIES.len(), 40)],
            PRIORITIES[pick(PRIORITIES.len(), 48)],
            &description,
        ])?;
    }
    csv.flush()
        .map_err(|e| Failure::Error(format!("{}: {e}", file.display())))?;
    Ok(())
}

/// The name as an e-mail's local part: folded as search folds it (`Chloé`
/// as `chloe`), letters a-z only.
fn ascii(name: &str) -> String {
    crcm::store::query::fold(name)
        .chars()
        .filter(char::is_ascii_alphabetic)
        .collect()
}
