//! Contact data: e-mail addresses (validated with `email_address`, stored
//! normalized) and phone numbers (parsed with `phonenumber`, normalized to E.164
//! for matching, the raw input kept for display).

use serde::{Deserialize, Serialize};

use crate::domain::error::InputError;

/// A validated, normalized e-mail address.
///
/// Seed 003: "The Email field is validated by format. If the address is entered
/// incorrectly, the system will show an error." Normalization trims and lower-cases
/// the whole address, so that matching leads and customers by e-mail is exact.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(into = "String")]
#[cfg_attr(feature = "schema", schemars(from = "String"))]
pub struct Email(String);

/// Read from its text; another text is `invalid_email`.
impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::domain::error::deserialize_checked(deserializer, |text| Self::parse(&text))
    }
}

impl Email {
    /// Validates and normalizes an address. Display names (`Ann <a@b.c>`) and
    /// domain literals are refused; the domain needs at least one dot.
    pub fn parse(raw: &str) -> Result<Self, InputError> {
        let trimmed = raw.trim();
        if trimmed.chars().count() > crate::domain::limits::EMAIL {
            return Err(InputError::InvalidEmail {
                value: raw.to_owned(),
                reason: format!("an address has at most {} characters", crate::domain::limits::EMAIL),
            });
        }
        let options = email_address::Options {
            minimum_sub_domains: 2,
            allow_domain_literal: false,
            allow_display_text: false,
        };
        match email_address::EmailAddress::parse_with_options(trimmed, options) {
            Ok(addr) => Ok(Self(addr.as_str().to_lowercase())),
            Err(e) => Err(InputError::InvalidEmail {
                value: raw.to_owned(),
                reason: e.to_string(),
            }),
        }
    }

    /// The normalized address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = InputError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Email> for String {
    fn from(value: Email) -> Self {
        value.0
    }
}

impl std::fmt::Display for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A phone number: the text as entered and its E.164 form used for matching
/// (seed 003: "The Phone field is used … for automatic lead lookup when
/// processing calls").
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(try_from = "PhoneFields")]
pub struct Phone {
    /// The number as the user entered it, trimmed.
    pub raw: String,
    /// The E.164 form, e.g. `+13955571028`.
    pub e164: String,
}

/// A phone's serde form, checked before it becomes a [`Phone`].
#[derive(Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
struct PhoneFields {
    raw: String,
    e164: String,
}

impl TryFrom<PhoneFields> for Phone {
    type Error = InputError;

    /// A stored or received phone is checked as a phone is when entered,
    /// except for its region's numbering plan (already applied when it was
    /// parsed): the text within limits, the key in E.164 form (`+` and 2 to
    /// 15 digits).
    fn try_from(f: PhoneFields) -> Result<Self, Self::Error> {
        let invalid = |reason: &str| InputError::InvalidPhone {
            value: f.raw.clone(),
            reason: reason.to_owned(),
        };
        let raw_ok = !f.raw.trim().is_empty() && f.raw.len() <= 64 && !f.raw.chars().any(char::is_control);
        if !raw_ok {
            return Err(invalid("a phone number has 1 to 64 characters"));
        }
        let digits = f.e164.strip_prefix('+').unwrap_or("");
        if !(2..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.starts_with('0') {
            return Err(invalid("the E.164 form is + and 2 to 15 digits"));
        }
        Ok(Self {
            raw: f.raw,
            e164: f.e164,
        })
    }
}

impl Phone {
    /// Parses a number. Numbers without a `+country` prefix are read in
    /// `default_region` (an ISO 3166 alpha-2 code such as `US` or `NL`, see
    /// [`Settings::default_phone_region`](crate::domain::config::Settings)). An extension
    /// (`x208`) is accepted and not part of the matching key.
    pub fn parse(raw: &str, default_region: &str) -> Result<Self, InputError> {
        let trimmed = raw.trim();
        let invalid = |reason: &str| InputError::InvalidPhone {
            value: raw.to_owned(),
            reason: reason.to_owned(),
        };
        if trimmed.is_empty() || trimmed.len() > 64 {
            return Err(invalid("a phone number has 1 to 64 characters"));
        }
        let region = default_region
            .parse::<phonenumber::country::Id>()
            .map_err(|_| InputError::InvalidRegion {
                value: default_region.to_owned(),
            })?;
        // A number with its country code is read without the default region:
        // the phonenumber crate would otherwise strip the default region's
        // national prefix from it (`+49 1512…` read in US lost its `1`).
        let international = trimmed.starts_with('+') || trimmed.starts_with('\u{FF0B}');
        let number =
            phonenumber::parse((!international).then_some(region), trimmed).map_err(|e| invalid(&e.to_string()))?;
        if !phonenumber::is_valid(&number) || !whole_number_matches(&number) {
            return Err(invalid("not a valid number for its region"));
        }
        let e164 = number.format().mode(phonenumber::Mode::E164).to_string();
        Ok(Self {
            raw: trimmed.to_owned(),
            e164,
        })
    }

    /// The key used to match leads, customers and incoming calls.
    pub fn key(&self) -> &str {
        &self.e164
    }
}

/// Whether a number type's pattern of the number's country matches the whole
/// national number, as libphonenumber requires. The phonenumber crate (0.3)
/// accepts a pattern that matches only the number's beginning, so a number
/// missing digits could pass its `is_valid` (`+86 10 123456`).
fn whole_number_matches(number: &phonenumber::PhoneNumber) -> bool {
    use phonenumber::Type;
    const KINDS: [Type; 10] = [
        Type::FixedLine,
        Type::Mobile,
        Type::TollFree,
        Type::PremiumRate,
        Type::SharedCost,
        Type::PersonalNumber,
        Type::Voip,
        Type::Pager,
        Type::Uan,
        Type::Voicemail,
    ];
    let national = number.national().to_string();
    let Some(regions) = phonenumber::metadata::DATABASE.by_code(&number.code().value()) else {
        return false;
    };
    regions.iter().any(|meta| {
        let d = meta.descriptors();
        whole_match(d.general(), &national)
            && KINDS
                .iter()
                .any(|k| d.get(*k).is_some_and(|x| whole_match(x, &national)))
    })
}

fn whole_match(d: &phonenumber::metadata::Descriptor, national: &str) -> bool {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    // Anchored forms of the metadata's patterns, compiled once each.
    static ANCHORED: OnceLock<Mutex<HashMap<String, Option<regex::Regex>>>> = OnceLock::new();
    let lengths = d.possible_length();
    if !lengths.is_empty() && !lengths.iter().any(|l| usize::from(*l) == national.len()) {
        return false;
    }
    let pattern = d.national_number().as_str();
    let mut cache = ANCHORED
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    cache
        .entry(pattern.to_owned())
        .or_insert_with(|| {
            // The metadata's patterns are laid out with white space.
            let compact: String = pattern.split_whitespace().collect();
            regex::Regex::new(&format!("^(?:{compact})$")).ok()
        })
        .as_ref()
        .is_some_and(|r| r.is_match(national))
}

/// Checks that a text is a region code `phonenumber` knows.
pub fn validate_region(region: &str) -> Result<(), InputError> {
    region
        .parse::<phonenumber::country::Id>()
        .map(|_| ())
        .map_err(|_| InputError::InvalidRegion {
            value: region.to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_checked_when_deserialized() {
        let ok: Phone = serde_json::from_str(r#"{"raw": "(415) 555-0100", "e164": "+14155550100"}"#)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ok.key(), "+14155550100");
        for bad in [
            r#"{"raw": "", "e164": "+14155550100"}"#,
            r#"{"raw": "415", "e164": "14155550100"}"#,
            r#"{"raw": "415", "e164": "+1415555010012345"}"#,
            r#"{"raw": "415", "e164": "+1-415"}"#,
            r#"{"raw": "415", "e164": "+0415"}"#,
        ] {
            assert!(serde_json::from_str::<Phone>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn email_is_validated_and_normalized() {
        // Seed 003: "The Email field is validated by format."
        assert_eq!(
            Email::parse("  Ann.Smith@Example.COM ").map(String::from),
            Ok("ann.smith@example.com".to_owned())
        );
        for bad in [
            "ann",
            "ann@",
            "@example.com",
            "ann@localhost",
            "Ann <ann@example.com>",
            "a b@example.com",
        ] {
            assert!(
                matches!(Email::parse(bad), Err(InputError::InvalidEmail { .. })),
                "{bad} must be refused"
            );
        }
    }

    #[test]
    fn phone_numbers_normalize_to_e164_for_matching() {
        let x = Phone::parse("+1 (212) 555-0147 x12", "NL").expect("valid with country prefix");
        let y = Phone::parse("212.555.0147", "US").expect("valid national number");
        assert_eq!(x.e164, "+12125550147");
        assert_eq!(x.key(), y.key());
        assert_eq!(y.raw, "212.555.0147");
        let nl = Phone::parse("020 123 4567", "NL").expect("valid Dutch number");
        assert_eq!(nl.e164, "+31201234567");
    }

    #[test]
    fn international_numbers_parse_whatever_the_default_region() {
        for (raw, e164) in [
            ("+44 121 234 5678", "+441212345678"),
            ("+44 (0)20 7031 3000", "+442070313000"),
            ("+44 20 7031 3000", "+442070313000"),
            ("+33 1 23 45 67 89", "+33123456789"),
            ("+49 1512 3456789", "+4915123456789"),
        ] {
            for region in ["US", "GB", "DE"] {
                assert_eq!(
                    Phone::parse(raw, region).map(|p| p.e164),
                    Ok(e164.to_owned()),
                    "{raw} read in {region}"
                );
            }
        }
        // Missing digits: libphonenumber refuses it, and so does crcm.
        assert!(Phone::parse("+86 10 123456", "US").is_err());
    }

    #[test]
    fn bad_phone_numbers_and_regions_are_typed_errors() {
        assert!(matches!(Phone::parse("12", "US"), Err(InputError::InvalidPhone { .. })));
        assert!(matches!(
            Phone::parse("not a phone", "US"),
            Err(InputError::InvalidPhone { .. })
        ));
        assert!(matches!(Phone::parse("", "US"), Err(InputError::InvalidPhone { .. })));
        assert!(matches!(
            Phone::parse("212 555 0147", "ZZ"),
            Err(InputError::InvalidRegion { .. })
        ));
    }
}
