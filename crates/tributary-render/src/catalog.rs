//! Every list endpoint we serve, declared: the model it reads, what its results nest (see
//! [`Join`]) and the filters it takes beyond the common ones (`cursor`, `page_size`,
//! `updated_after`, `include_deleted`, `ignore_unsupported_filters`, `ids`, `remote_ids`).
//! The parameters and their meaning are Kombo's (`GET` operations of its OpenAPI document);
//! the field names are the mirror's (what the connectors store in `data`).

use tributary_model::Model;

use crate::assemble::{Join, Link};

/// One list endpoint.
#[derive(Debug)]
pub struct Endpoint {
    pub model: Model,
    pub joins: &'static [Join],
    pub filters: &'static [Filter],
    /// `(alias, of)`: a deprecated key that repeats another (an employee's `teams`).
    pub aliases: &'static [(&'static str, &'static str)],
}

/// A query parameter that filters results.
#[derive(Debug)]
pub struct Filter {
    pub param: &'static str,
    pub kind: FilterKind,
    /// The `data` field it reads.
    pub field: &'static str,
    /// The field whose scope setting decides whether the integration supports the filter.
    pub scope_field: &'static str,
}

#[derive(Debug, Clone, Copy)]
pub enum FilterKind {
    /// A comma-separated list of ids or values, any of which matches.
    AnyOf,
    /// A comma-separated list of enum values.
    Enum(&'static [&'static str]),
    /// Like [`FilterKind::Enum`]; the value `null` matches records without one.
    EnumOrNull(&'static [&'static str]),
    /// One value, matched exactly.
    Exact,
    /// A comma-separated list matched case-insensitively (e-mail addresses).
    AnyOfCaseInsensitive,
    /// One value matched case-insensitively.
    ExactCaseInsensitive,
    /// One value matched case-insensitively against `field[].<key>` of an array of objects.
    ArrayEntryCaseInsensitive(&'static str),
    /// A substring, case-insensitive.
    Contains,
    /// An array field containing any of the ids.
    ArrayContainsAny,
    /// Ids of the records a child of `model` references by `field`.
    ChildHas(Model),
    /// Ids that the record referenced by `via` holds in `field`.
    ReferenceHas(&'static str),
    /// Remote ids of `model`, matched against the unified id in `field`.
    RemoteIdsOf(Model),
    /// The record was created in the tool on or after this date-time.
    RemoteCreatedAfter,
    /// An absence that has not ended before this day (`date_from`); `field` is its end.
    DateFrom,
    /// An absence that starts on or before this day (`date_until`); `field` is its start.
    DateUntil,
    /// `{"key": value}` on `custom_fields`.
    CustomField,
}

const fn filter(param: &'static str, kind: FilterKind, field: &'static str, scope_field: &'static str) -> Filter {
    Filter {
        param,
        kind,
        field,
        scope_field,
    }
}

const fn join(field: &'static str, model: Model, link: Link, nested: &'static [Join]) -> Join {
    Join {
        field,
        model,
        link,
        nested,
    }
}

const NONE: &[Join] = &[];
const NO_FILTERS: &[Filter] = &[];

const EMPLOYMENT_STATUSES: &[&str] = &["ACTIVE", "PENDING", "INACTIVE", "LEAVE"];
const GROUP_TYPES: &[&str] = &["DEPARTMENT", "TEAM", "COST_CENTER"];
const JOB_STATUSES: &[&str] = &["OPEN", "CLOSED", "DRAFT", "ARCHIVED"];
const JOB_EMPLOYMENT_TYPES: &[&str] = &["FULL_TIME", "PART_TIME", "CONTRACT", "SEASONAL", "INTERNSHIP"];
const JOB_VISIBILITIES: &[&str] = &["PUBLIC", "INTERNAL", "UNLISTED", "CONFIDENTIAL"];
const OUTCOMES: &[&str] = &["PENDING", "HIRED", "DECLINED"];

const fn plain(model: Model) -> Endpoint {
    Endpoint {
        model,
        joins: NONE,
        filters: NO_FILTERS,
        aliases: &[],
    }
}

const NAME_CONTAINS: &[Filter] = &[filter("name_contains", FilterKind::Contains, "name", "name")];

const APPLICATION_SUMMARY: &[Join] = &[
    join("candidate", Model::Candidates, Link::One { by: "candidate_id" }, NONE),
    join("job", Model::Jobs, Link::One { by: "job_id" }, NONE),
];

pub static ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        model: Model::Employees,
        joins: &[
            join("employments", Model::Employments, Link::Children, NONE),
            join("time_off_balances", Model::TimeOffBalances, Link::Children, NONE),
            join("manager", Model::Employees, Link::One { by: "manager_id" }, NONE),
            join("groups", Model::Groups, Link::Many { by: "group_ids" }, NONE),
            join(
                "legal_entity",
                Model::LegalEntities,
                Link::One { by: "legal_entity_id" },
                NONE,
            ),
            join(
                "work_location",
                Model::Locations,
                Link::One { by: "work_location_id" },
                NONE,
            ),
        ],
        filters: &[
            // The deprecated singular form still works; given together, both must hold.
            filter(
                "employment_status",
                FilterKind::Enum(EMPLOYMENT_STATUSES),
                "employment_status",
                "employment_status",
            ),
            filter(
                "employment_statuses",
                FilterKind::Enum(EMPLOYMENT_STATUSES),
                "employment_status",
                "employment_status",
            ),
            filter("group_ids", FilterKind::ArrayContainsAny, "group_ids", "groups"),
            filter(
                "legal_entity_ids",
                FilterKind::AnyOf,
                "legal_entity_id",
                "legal_entity_id",
            ),
            filter(
                "work_location_ids",
                FilterKind::AnyOf,
                "work_location_id",
                "work_location_id",
            ),
            // "The format of the emails is case-insensitive."
            filter(
                "work_emails",
                FilterKind::AnyOfCaseInsensitive,
                "work_email",
                "work_email",
            ),
            filter(
                "personal_emails",
                FilterKind::AnyOfCaseInsensitive,
                "personal_email",
                "personal_email",
            ),
            filter(
                "custom_fields",
                FilterKind::CustomField,
                "custom_fields",
                "custom_fields",
            ),
        ],
        // The spec marks `teams` deprecated and says it "includes the same data" as `groups`.
        aliases: &[("teams", "groups")],
    },
    plain(Model::Employments),
    Endpoint {
        filters: &[
            filter("types", FilterKind::EnumOrNull(GROUP_TYPES), "type", "type"),
            filter("name_contains", FilterKind::Contains, "name", "name"),
        ],
        ..plain(Model::Groups)
    },
    Endpoint {
        filters: NAME_CONTAINS,
        ..plain(Model::Locations)
    },
    Endpoint {
        filters: NAME_CONTAINS,
        ..plain(Model::LegalEntities)
    },
    plain(Model::AbsenceTypes),
    Endpoint {
        joins: &[join("type", Model::AbsenceTypes, Link::One { by: "type_id" }, NONE)],
        filters: &[
            filter("date_from", FilterKind::DateFrom, "end_date", "end_date"),
            filter("date_until", FilterKind::DateUntil, "start_date", "start_date"),
            filter("type_ids", FilterKind::AnyOf, "type_id", "type_id"),
            filter("employee_id", FilterKind::Exact, "employee_id", "employee_id"),
            // Deprecated: read as the day of the given time, like `date_from`/`date_until`.
            filter("time_from", FilterKind::DateFrom, "end_date", "end_date"),
            filter("time_until", FilterKind::DateUntil, "start_date", "start_date"),
        ],
        ..plain(Model::Absences)
    },
    Endpoint {
        joins: &[join("type", Model::AbsenceTypes, Link::One { by: "type_id" }, NONE)],
        filters: &[filter("employee_id", FilterKind::Exact, "employee_id", "employee_id")],
        ..plain(Model::TimeOffBalances)
    },
    Endpoint {
        joins: &[
            join("stages", Model::ApplicationStages, Link::Children, NONE),
            join(
                "hiring_team",
                Model::Users,
                Link::Members {
                    list: "hiring_team_members",
                    key: "user_id",
                },
                NONE,
            ),
        ],
        filters: &[
            filter("job_codes", FilterKind::AnyOf, "job_code", "job_code"),
            filter("post_url", FilterKind::Exact, "post_url", "post_url"),
            filter("status", FilterKind::Enum(JOB_STATUSES), "status", "status"),
            filter("statuses", FilterKind::Enum(JOB_STATUSES), "status", "status"),
            filter(
                "employment_types",
                FilterKind::Enum(JOB_EMPLOYMENT_TYPES),
                "employment_type",
                "employment_type",
            ),
            filter(
                "visibilities",
                FilterKind::Enum(JOB_VISIBILITIES),
                "visibility",
                "visibility",
            ),
            filter(
                "remote_created_after",
                FilterKind::RemoteCreatedAfter,
                "remote_created_at",
                "remote_created_at",
            ),
            filter("name_contains", FilterKind::Contains, "name", "name"),
        ],
        ..plain(Model::Jobs)
    },
    Endpoint {
        joins: &[
            join(
                "applications",
                Model::Applications,
                Link::Children,
                &[
                    join(
                        "current_stage",
                        Model::ApplicationStages,
                        Link::One { by: "current_stage_id" },
                        NONE,
                    ),
                    join("job", Model::Jobs, Link::One { by: "job_id" }, NONE),
                ],
            ),
            join("tags", Model::Tags, Link::Many { by: "tag_ids" }, NONE),
        ],
        filters: &[
            filter(
                "email",
                FilterKind::ArrayEntryCaseInsensitive("email_address"),
                "email_addresses",
                "email_addresses",
            ),
            filter(
                "job_ids",
                FilterKind::ChildHas(Model::Applications),
                "job_id",
                "applications",
            ),
            filter(
                "first_name",
                FilterKind::ExactCaseInsensitive,
                "first_name",
                "first_name",
            ),
            filter("last_name", FilterKind::ExactCaseInsensitive, "last_name", "last_name"),
        ],
        ..plain(Model::Candidates)
    },
    Endpoint {
        joins: &[
            join(
                "candidate",
                Model::Candidates,
                Link::One { by: "candidate_id" },
                &[join("tags", Model::Tags, Link::Many { by: "tag_ids" }, NONE)],
            ),
            join(
                "current_stage",
                Model::ApplicationStages,
                Link::One { by: "current_stage_id" },
                NONE,
            ),
            join("job", Model::Jobs, Link::One { by: "job_id" }, NONE),
            join("interviews", Model::Interviews, Link::Children, NONE),
            join("offers", Model::Offers, Link::Children, NONE),
        ],
        filters: &[
            filter("outcome", FilterKind::Enum(OUTCOMES), "outcome", "outcome"),
            filter("outcomes", FilterKind::Enum(OUTCOMES), "outcome", "outcome"),
            filter("job_ids", FilterKind::AnyOf, "job_id", "job_id"),
            filter(
                "job_remote_ids",
                FilterKind::RemoteIdsOf(Model::Jobs),
                "job_id",
                "job_id",
            ),
            filter(
                "current_stage_ids",
                FilterKind::AnyOf,
                "current_stage_id",
                "current_stage_id",
            ),
            filter(
                "remote_created_after",
                FilterKind::RemoteCreatedAfter,
                "remote_created_at",
                "remote_created_at",
            ),
        ],
        ..plain(Model::Applications)
    },
    plain(Model::ApplicationStages),
    Endpoint {
        filters: &[filter("emails", FilterKind::AnyOfCaseInsensitive, "email", "email")],
        ..plain(Model::Users)
    },
    plain(Model::Tags),
    Endpoint {
        joins: &[
            join("users", Model::Users, Link::Many { by: "user_ids" }, NONE),
            join(
                "application",
                Model::Applications,
                Link::One { by: "application_id" },
                APPLICATION_SUMMARY,
            ),
        ],
        filters: &[filter(
            "job_ids",
            FilterKind::ReferenceHas("application_id"),
            "job_id",
            "application_id",
        )],
        ..plain(Model::Interviews)
    },
    Endpoint {
        joins: &[join(
            "application",
            Model::Applications,
            Link::One { by: "application_id" },
            APPLICATION_SUMMARY,
        )],
        ..plain(Model::Offers)
    },
    plain(Model::RejectionReasons),
];

/// The endpoint of `model`.
pub fn endpoint(model: Model) -> &'static Endpoint {
    ENDPOINTS
        .iter()
        .find(|e| e.model == model)
        .expect("every model has an endpoint")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every nested key we fill is a nested object (or list of them) of the response schema,
    /// at every level.
    #[test]
    fn joins_fill_nested_objects_of_the_schema() {
        fn check(at: &str, shape: &crate::schema::Shape, joins: &[Join]) {
            for join in joins {
                let path = format!("{at}.{}", join.field);
                match shape.field(join.field).map(|f| &f.nested) {
                    Some(crate::schema::Nested::Object(inner) | crate::schema::Nested::ArrayOf(inner)) => {
                        check(&path, inner, join.nested)
                    }
                    other => panic!("{path}: {other:?}"),
                }
            }
        }
        for &model in Model::ALL {
            check(model.as_str(), crate::schema::shape(model), endpoint(model).joins);
        }
    }
}
