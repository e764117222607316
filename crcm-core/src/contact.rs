//! Contact data: e-mail addresses (validated with `email_address`, stored
//! normalized) and phone numbers (parsed with `phonenumber`, normalized to E.164
//! for matching, the raw input kept for display).

use serde::{Deserialize, Serialize};

use crate::error::InputError;

/// A validated, normalized e-mail address.
///
/// Seed 003: "The Email field is validated by format. If the address is entered
/// incorrectly, the system will show an error." Normalization trims and lower-cases
/// the whole address, so that matching leads and customers by e-mail is exact.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    /// Validates and normalizes an address. Display names (`Ann <a@b.c>`) and
    /// domain literals are refused; the domain needs at least one dot.
    pub fn parse(raw: &str) -> Result<Self, InputError> {
        let trimmed = raw.trim();
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
pub struct Phone {
    /// The number as the user entered it, trimmed.
    pub raw: String,
    /// The E.164 form, e.g. `+13955571028`.
    pub e164: String,
}

impl Phone {
    /// Parses a number. Numbers without a `+country` prefix are read in
    /// `default_region` (an ISO 3166 alpha-2 code such as `US` or `NL`, see
    /// [`Settings::default_phone_region`](crate::config::Settings)). An extension
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
        let number = phonenumber::parse(Some(region), trimmed).map_err(|e| invalid(&e.to_string()))?;
        if !phonenumber::is_valid(&number) {
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
