//! Phone parsing agrees with Google's libphonenumber on a corpus of numbers
//! from 32 countries in the forms people write them (E.164, international
//! with spaces, dashes or dots, the "(0)" trunk-prefix convention, national,
//! too short), each read in its own region and in other default regions.
//! The expected E.164 (or refusal) comes from libphonenumber's Python port;
//! `tests/data/phones.py` generated `tests/data/phones.csv`.

use crcm_core::domain::contact::Phone;

#[test]
fn phone_parsing_agrees_with_libphonenumber() {
    let corpus = include_str!("data/phones.csv");
    let mut rows = 0;
    let mut accepted = 0;
    let mut countries = std::collections::BTreeSet::new();
    let mut wrong = Vec::new();
    for line in corpus.lines().skip(1) {
        // No field holds a comma (the generator writes no quotes).
        let [raw, region, e164] = line.split(',').collect::<Vec<_>>()[..] else {
            panic!("malformed corpus line {line:?}");
        };
        rows += 1;
        countries.insert(region);
        let got = Phone::parse(raw, region).map(|p| p.e164);
        match (e164.is_empty(), &got) {
            (true, Err(_)) => {}
            (false, Ok(g)) if g == e164 => accepted += 1,
            _ => wrong.push(format!("{raw:?} in {region}: want {e164:?}, got {got:?}")),
        }
    }
    eprintln!(
        "{rows} numbers, {accepted} accepted, {} refused, {} disagreements",
        rows - accepted - wrong.len(),
        wrong.len()
    );
    assert!(rows >= 200, "the corpus has {rows} rows");
    assert!(
        countries.len() >= 20,
        "the corpus reads numbers in {} regions",
        countries.len()
    );
    assert!(
        wrong.is_empty(),
        "{} of {rows} disagree:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
