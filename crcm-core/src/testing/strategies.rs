//! Proptest strategies for crcm inputs, for property tests in crcm and in the
//! test suites of applications that embed it.

use proptest::prelude::*;

use crate::domain::ids::Code;
use crate::domain::input::NewLead;
use crate::domain::lead::LeadStatus;

/// E-mail addresses: mostly valid (mixed case, padded), some malformed.
pub fn email() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => ("[a-z][a-z0-9.]{0,10}[a-z0-9]", "[a-z]{2,10}", "(com|org|nl|example)")
            .prop_map(|(l, d, t)| format!("{l}@{d}.{t}")),
        2 => ("[A-Z][a-z]{1,6}", "[A-Z][a-z]{1,8}").prop_map(|(l, d)| format!("  {l}@{d}.COM ")),
        2 => "[a-z@. ]{0,12}",
    ]
}

/// Phone numbers in several national and international formats, some invalid.
pub fn phone() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (200u32..999, 0u32..10_000).prop_map(|(x, n)| format!("+1 (212) {x:03}-{n:04}")),
        2 => (0u32..10_000).prop_map(|n| format!("212.555.{n:04}")),
        2 => (0u32..10_000_000).prop_map(|n| format!("+31 20 {n:07}")),
        1 => "[0-9 ()+-]{0,8}",
    ]
}

/// A lifecycle status.
pub fn lead_status() -> impl Strategy<Value = LeadStatus> {
    proptest::sample::select(LeadStatus::ALL.to_vec())
}

/// New b2b leads of the fixture: names, companies, e-mails and phones of all
/// kinds (the engine accepts or refuses them; it never panics).
pub fn new_lead() -> impl Strategy<Value = NewLead> {
    (
        "[A-Za-z ]{0,12}",
        "[A-Za-z ]{0,12}",
        proptest::option::of(email()),
        proptest::option::of(phone()),
        proptest::option::of(0u8..=120),
        proptest::option::of(proptest::sample::select(vec!["web_form", "referral", "bogus"])),
    )
        .prop_map(|(first_name, company, email, phone, probability, source)| NewLead {
            first_name,
            company,
            email,
            phone,
            probability,
            source: source.and_then(|s| Code::new(s).ok()),
            account_type: Code::new("b2b").ok(),
            ..NewLead::default()
        })
}
