//! Matching by contact data: which of the leads sharing an e-mail or phone
//! count as duplicates, or as the lead an inbound communication belongs to.
//! (The engine finds the leads and customers sharing the normalized e-mail or
//! E.164 phone; Qualify's customer candidates are all of those customers.)

use crate::domain::config::Config;
use crate::domain::ids::LeadId;
use crate::domain::lead::Lead;

/// The open leads among `found`, other than `except`. Closed leads
/// (converted, disqualified, merged, or in a closing phase) are never
/// proposed as duplicates, and never receive a communication.
pub fn open_matches(config: &Config, mut found: Vec<Lead>, except: Option<LeadId>) -> Vec<Lead> {
    found.retain(|l| Some(l.id) != except && !l.is_closed(config));
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::lead::LeadStatus;

    #[test]
    fn closed_leads_and_the_lead_itself_are_not_matches() {
        let config = crate::rules::test_support::config();
        let lead = |number, status| crate::rules::test_support::lead(&config, number, status);
        let me = lead(1, LeadStatus::New);
        let found = vec![
            me.clone(),
            lead(2, LeadStatus::Contacted),
            lead(3, LeadStatus::Converted),
            lead(4, LeadStatus::Disqualified),
            lead(5, LeadStatus::Merged),
            lead(6, LeadStatus::Qualified),
        ];
        let numbers: Vec<u64> = open_matches(&config, found, Some(me.id))
            .iter()
            .map(|l| l.number)
            .collect();
        assert_eq!(numbers, vec![2, 6]);
    }
}
