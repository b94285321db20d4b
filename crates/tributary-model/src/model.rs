use serde::{Deserialize, Serialize};

/// Whether a model belongs to the HRIS or the ATS half of the unified API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Category {
    Hris,
    Ats,
}

macro_rules! models {
    ($( $variant:ident => $name:literal, $scope:literal, $path:literal, $label:literal, $cat:ident; )*) => {
        /// Every unified model the mirror holds. `as_str` is the name stored in the mirror,
        /// `scope_id` the id Kombo's scope config and `read_models` use, `api_path` the
        /// gateway route below `/v1`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Model { $( $variant, )* }

        impl Model {
            pub const ALL: &'static [Model] = &[ $( Model::$variant, )* ];

            pub const fn as_str(self) -> &'static str {
                match self { $( Model::$variant => $name, )* }
            }

            pub const fn scope_id(self) -> &'static str {
                match self { $( Model::$variant => $scope, )* }
            }

            pub const fn api_path(self) -> &'static str {
                match self { $( Model::$variant => $path, )* }
            }

            pub const fn label(self) -> &'static str {
                match self { $( Model::$variant => $label, )* }
            }

            pub const fn category(self) -> Category {
                match self { $( Model::$variant => Category::$cat, )* }
            }

            pub fn from_name(name: &str) -> Option<Model> {
                match name { $( $name => Some(Model::$variant), )* _ => None }
            }

            pub fn from_scope_id(id: &str) -> Option<Model> {
                match id { $( $scope => Some(Model::$variant), )* _ => None }
            }
        }
    };
}

models! {
    Employees => "employees", "hris_employees", "/hris/employees", "Employees", Hris;
    Employments => "employments", "hris_employments", "/hris/employments", "Employments", Hris;
    Groups => "groups", "hris_groups", "/hris/groups", "Groups", Hris;
    Locations => "locations", "hris_locations", "/hris/locations", "Work locations", Hris;
    LegalEntities => "legal_entities", "hris_legal_entities", "/hris/legal-entities", "Legal entities", Hris;
    AbsenceTypes => "absence_types", "hris_absence_types", "/hris/absence-types", "Absence types", Hris;
    Absences => "absences", "hris_absences", "/hris/absences", "Absences", Hris;
    TimeOffBalances => "time_off_balances", "hris_time_off_balances", "/hris/time-off-balances", "Time-off balances", Hris;
    Jobs => "jobs", "ats_jobs", "/ats/jobs", "Jobs", Ats;
    Candidates => "candidates", "ats_candidates", "/ats/candidates", "Candidates", Ats;
    Applications => "applications", "ats_applications", "/ats/applications", "Applications", Ats;
    ApplicationStages => "application_stages", "ats_application_stages", "/ats/application-stages", "Application stages", Ats;
    Users => "users", "ats_users", "/ats/users", "Users", Ats;
    Tags => "tags", "ats_tags", "/ats/tags", "Tags", Ats;
    Interviews => "interviews", "ats_interviews", "/ats/interviews", "Interviews", Ats;
    Offers => "offers", "ats_offers", "/ats/offers", "Offers", Ats;
    RejectionReasons => "rejection_reasons", "ats_rejection_reasons", "/ats/rejection-reasons", "Rejection reasons", Ats;
}

impl Category {
    /// `HRIS` or `ATS`, as Kombo writes the category.
    pub fn label(self) -> &'static str {
        match self {
            Category::Hris => "HRIS",
            Category::Ats => "ATS",
        }
    }
}

impl std::fmt::Display for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for m in Model::ALL {
            assert_eq!(Model::from_name(m.as_str()), Some(*m));
            assert_eq!(Model::from_scope_id(m.scope_id()), Some(*m));
        }
    }
}
