//! The account's employee attributes as Personio configures them.
//!
//! Only the standard attributes have fixed keys (`first_name`, `hire_date`, ...). Personal data
//! such as the IBAN or the date of birth lives in company-configured attributes whose key is
//! `dynamic_<n>`, numbered per account; the employee object carries each with its `label` and,
//! where Personio knows the attribute, a `universal_id` (`dynamic_21827` labelled "IBAN" with
//! `universal_id: iban`, `dynamic_180883` labelled "Birthday" with `universal_id: date_of_birth`
//! in the Personnel Data OpenAPI file; `dynamic_153804` "Address, postcode" with a null
//! `universal_id` in <https://developer.personio.de/changelog/employees-api-universal-id-is-now-exposed>).
//! `GET /company/employees/attributes` lists them with `key, label, type, universal_id, options`
//! (same file; `options` since
//! <https://developer.personio.de/changelog/get-list-allowed-attributes-list-options-values>).
//!
//! The numbers are derived from the account (its company name, itself from the seed), so two
//! simulated accounts number the same attribute differently, as two Personio accounts do, and a
//! client that hard-codes keys or expects fixed names gets nothing.

use std::collections::{BTreeMap, BTreeSet};

use crate::company::{Company, Employee};

/// What a configured personal attribute holds, in the simulated company's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Birthday,
    Nationality,
    Ssn,
    Iban,
    Phone,
    PrivateEmail,
    Street,
    City,
    Zip,
    Country,
}

impl Role {
    const ALL: [Role; 10] = [
        Role::Birthday,
        Role::Nationality,
        Role::Ssn,
        Role::Iban,
        Role::Phone,
        Role::PrivateEmail,
        Role::Street,
        Role::City,
        Role::Zip,
        Role::Country,
    ];

    /// Label, attribute type and universal id. Only the two universal ids the OpenAPI file
    /// shows are set; the others are attributes the company created itself, found by label.
    fn shape(self) -> (&'static str, &'static str, Option<&'static str>) {
        match self {
            Role::Birthday => ("Birthday", "date", Some("date_of_birth")),
            Role::Iban => ("IBAN", "standard", Some("iban")),
            Role::Nationality => ("Nationality", "standard", None),
            Role::Ssn => ("Social security number", "standard", None),
            Role::Phone => ("Mobile phone", "standard", None),
            Role::PrivateEmail => ("Private email", "standard", None),
            Role::Street => ("Address, street", "standard", None),
            Role::City => ("Address, city", "standard", None),
            Role::Zip => ("Address, postcode", "standard", None),
            Role::Country => ("Address, country", "standard", None),
        }
    }

    /// The employee's value for this attribute, as the text Personio shows (dates apart).
    pub fn text(self, e: &Employee) -> Option<&str> {
        match self {
            Role::Birthday => None,
            Role::Nationality => e.nationality.as_deref(),
            Role::Ssn => e.ssn.as_deref(),
            Role::Iban => e.iban.as_deref(),
            Role::Phone => e.mobile_phone.as_deref(),
            Role::PrivateEmail => e.personal_email.as_deref(),
            Role::Street => e.street.as_deref(),
            Role::City => e.city.as_deref(),
            Role::Zip => e.zip.as_deref(),
            Role::Country => e.country.as_deref(),
        }
    }
}

/// One configured attribute.
#[derive(Debug, Clone)]
pub struct Definition {
    pub key: String,
    pub label: &'static str,
    pub kind: &'static str,
    pub universal_id: Option<&'static str>,
    pub role: Role,
}

/// The dynamic attributes of one account.
#[derive(Debug, Clone)]
pub struct Attributes {
    pub personal: Vec<Definition>,
    salt: u64,
}

/// FNV-1a: stable across runs and platforms, unlike the std hasher.
fn fnv(parts: &[&[u8]]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in *part {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        hash ^= 0xff;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

impl Attributes {
    pub fn of(company: &Company) -> Self {
        let salt = fnv(&[company.name.as_bytes()]);
        let mut taken = BTreeSet::new();
        let personal = Role::ALL
            .into_iter()
            .map(|role| {
                let (label, kind, universal_id) = role.shape();
                // Personal attributes below 500,000, custom ones above: the two never collide,
                // and a custom key needs no knowledge of the others (it is computed per page).
                let mut n = 10_000 + fnv(&[&salt.to_le_bytes(), label.as_bytes()]) % 490_000;
                while !taken.insert(n) {
                    n += 1;
                }
                Definition {
                    key: format!("dynamic_{n}"),
                    label,
                    kind,
                    universal_id,
                    role,
                }
            })
            .collect();
        Attributes { personal, salt }
    }

    /// The key of the company's free-form custom attribute `name`.
    pub fn custom_key(&self, name: &str) -> String {
        let n = 500_000 + fnv(&[&self.salt.to_le_bytes(), b"custom", name.as_bytes()]) % 499_999;
        format!("dynamic_{n}")
    }

    /// Every custom attribute the company's employees use: (name, key), by name.
    pub fn custom_of(&self, company: &Company) -> BTreeMap<String, String> {
        let names: BTreeSet<&String> = company.hris.employees.values().flat_map(|e| e.custom.keys()).collect();
        names.into_iter().map(|n| (n.clone(), self.custom_key(n))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::generate_companies;
    use tributary_model::ToolKind;

    #[test]
    fn keys_are_per_account_distinct_and_stable() {
        let a = &generate_companies(1, 20, &[ToolKind::Personio])[&ToolKind::Personio];
        let b = &generate_companies(2, 20, &[ToolKind::Personio])[&ToolKind::Personio];
        assert_ne!(a.name, b.name, "two seeds, two accounts");
        let (ka, kb) = (Attributes::of(a), Attributes::of(b));
        let keys: BTreeSet<&str> = ka.personal.iter().map(|d| d.key.as_str()).collect();
        assert_eq!(keys.len(), ka.personal.len(), "distinct keys");
        assert!(keys.iter().all(|k| k.starts_with("dynamic_")));
        assert_ne!(
            ka.personal.iter().map(|d| &d.key).collect::<Vec<_>>(),
            kb.personal.iter().map(|d| &d.key).collect::<Vec<_>>(),
            "numbered per account"
        );
        let again = Attributes::of(a);
        assert_eq!(
            ka.personal.iter().map(|d| &d.key).collect::<Vec<_>>(),
            again.personal.iter().map(|d| &d.key).collect::<Vec<_>>()
        );
        let desk = ka.custom_key("Desk");
        assert!(!keys.contains(desk.as_str()));
        assert_eq!(ka.custom_key("Desk"), desk);
        assert_ne!(kb.custom_key("Desk"), desk);
    }
}
