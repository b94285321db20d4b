//! HRIS shapes, from `GetHrisEmployeesPositiveResponse` (`data.results.items`) of Kombo's
//! OpenAPI document. Nested objects the schema repeats (addresses, groups/teams) share one
//! constant because their definitions are identical there.

use super::{Field, Missing, Nested, field};

pub const ADDRESS: &[Field] = &[
    field("city", Missing::Omit, Nested::Scalar),
    field("country", Missing::Omit, Nested::Scalar),
    field("raw", Missing::Omit, Nested::Scalar),
    field("state", Missing::Omit, Nested::Scalar),
    field("street_1", Missing::Omit, Nested::Scalar),
    field("street_2", Missing::Omit, Nested::Scalar),
    field("zip_code", Missing::Omit, Nested::Scalar),
];

pub const DOMESTIC_BANK_ROUTING: &[Field] = &[
    field("number", Missing::Null, Nested::Scalar),
    field("type", Missing::Null, Nested::Scalar),
];

pub const BANK_ACCOUNT: &[Field] = &[
    field("iban", Missing::Omit, Nested::Scalar),
    field("bic", Missing::Omit, Nested::Scalar),
    field("account_number", Missing::Omit, Nested::Scalar),
    field("holder_name", Missing::Omit, Nested::Scalar),
    field("bank_name", Missing::Omit, Nested::Scalar),
    field(
        "domestic_bank_routing",
        Missing::Omit,
        Nested::Object(DOMESTIC_BANK_ROUTING),
    ),
];

pub const INTEGRATION_FIELD: &[Field] = &[
    field("id", Missing::Null, Nested::Scalar),
    field("key", Missing::Null, Nested::Scalar),
    field("type", Missing::Null, Nested::Scalar),
    field("value", Missing::Omit, Nested::Scalar),
    field("label", Missing::Null, Nested::Scalar),
];

pub const EMPLOYMENT: &[Field] = &[
    field("id", Missing::Null, Nested::Scalar),
    field("remote_id", Missing::Null, Nested::Scalar),
    field("employee_id", Missing::Null, Nested::Scalar),
    field("job_title", Missing::Null, Nested::Scalar),
    field("pay_rate", Missing::Null, Nested::Scalar),
    field("pay_period", Missing::Omit, Nested::Scalar),
    field("pay_frequency", Missing::Omit, Nested::Scalar),
    field("employment_type", Missing::Omit, Nested::Scalar),
    field("pay_currency", Missing::Null, Nested::Scalar),
    field("effective_date", Missing::Null, Nested::Scalar),
    field("changed_at", Missing::Null, Nested::Scalar),
    field("remote_deleted_at", Missing::Null, Nested::Scalar),
    field("remote_data", Missing::Null, Nested::Scalar),
    field("custom_fields", Missing::Null, Nested::Scalar),
    field(
        "integration_fields",
        Missing::EmptyArray,
        Nested::ArrayOf(INTEGRATION_FIELD),
    ),
];

pub const TIME_OFF_BALANCE: &[Field] = &[
    field("id", Missing::Null, Nested::Scalar),
    field("remote_id", Missing::Null, Nested::Scalar),
    field("employee_id", Missing::Null, Nested::Scalar),
    field("type_id", Missing::Null, Nested::Scalar),
    field("balance", Missing::Null, Nested::Scalar),
    field("balance_unit", Missing::Null, Nested::Scalar),
    field("changed_at", Missing::Null, Nested::Scalar),
    field("remote_deleted_at", Missing::Null, Nested::Scalar),
    field("used", Missing::Null, Nested::Scalar),
    field("used_unit", Missing::Null, Nested::Scalar),
    field("remote_data", Missing::Null, Nested::Scalar),
];

/// The employee's `manager`: a summary of the manager's own employee record.
pub const MANAGER: &[Field] = &[
    field("first_name", Missing::Null, Nested::Scalar),
    field("last_name", Missing::Null, Nested::Scalar),
    field("display_full_name", Missing::Null, Nested::Scalar),
    field("id", Missing::Null, Nested::Scalar),
    field("employee_number", Missing::Null, Nested::Scalar),
    field("work_email", Missing::Omit, Nested::Scalar),
    field("remote_id", Missing::Null, Nested::Scalar),
    field("employment_status", Missing::Omit, Nested::Scalar),
    field("termination_date", Missing::Null, Nested::Scalar),
];

/// An item of `groups` and of the deprecated `teams`.
pub const GROUP: &[Field] = &[
    field("id", Missing::Null, Nested::Scalar),
    field("remote_id", Missing::Null, Nested::Scalar),
    field("name", Missing::Null, Nested::Scalar),
    field("type", Missing::Null, Nested::Scalar),
];

pub const LEGAL_ENTITY: &[Field] = &[
    field("id", Missing::Null, Nested::Scalar),
    field("remote_id", Missing::Null, Nested::Scalar),
    field("name", Missing::Null, Nested::Scalar),
    field("address", Missing::Omit, Nested::Object(ADDRESS)),
];

pub const WORK_LOCATION: &[Field] = &[
    field("id", Missing::Null, Nested::Scalar),
    field("remote_id", Missing::Null, Nested::Scalar),
    field("name", Missing::Null, Nested::Scalar),
    field("address", Missing::Omit, Nested::Object(ADDRESS)),
    field("type", Missing::Null, Nested::Scalar),
    field("changed_at", Missing::Null, Nested::Scalar),
    field("remote_deleted_at", Missing::Null, Nested::Scalar),
    field("remote_data", Missing::Null, Nested::Scalar),
];

pub const EMPLOYEE: &[Field] = &[
    field("id", Missing::Null, Nested::Scalar),
    field("remote_id", Missing::Null, Nested::Scalar),
    field("employee_number", Missing::Null, Nested::Scalar),
    field("first_name", Missing::Null, Nested::Scalar),
    field("last_name", Missing::Null, Nested::Scalar),
    field("nationality", Missing::Null, Nested::Scalar),
    field("display_full_name", Missing::Null, Nested::Scalar),
    field("job_title", Missing::Null, Nested::Scalar),
    field("work_email", Missing::Omit, Nested::Scalar),
    field("personal_email", Missing::Omit, Nested::Scalar),
    field("mobile_phone_number", Missing::Null, Nested::Scalar),
    field("ssn", Missing::Null, Nested::Scalar),
    field("tax_id", Missing::Null, Nested::Scalar),
    field("gender", Missing::Omit, Nested::Scalar),
    field("ethnicity", Missing::Omit, Nested::Scalar),
    field("marital_status", Missing::Omit, Nested::Scalar),
    field("employment_status", Missing::Omit, Nested::Scalar),
    field("employment_type", Missing::Omit, Nested::Scalar),
    field("weekly_hours", Missing::Null, Nested::Scalar),
    field("avatar", Missing::Null, Nested::Scalar),
    field("work_location_id", Missing::Null, Nested::Scalar),
    field("legal_entity_id", Missing::Null, Nested::Scalar),
    field("manager_id", Missing::Null, Nested::Scalar),
    field("home_address", Missing::Omit, Nested::Object(ADDRESS)),
    field("bank_accounts", Missing::Omit, Nested::ArrayOf(BANK_ACCOUNT)),
    field("date_of_birth", Missing::Null, Nested::Scalar),
    field("start_date", Missing::Null, Nested::Scalar),
    field("termination_date", Missing::Null, Nested::Scalar),
    field("remote_created_at", Missing::Null, Nested::Scalar),
    field("changed_at", Missing::Null, Nested::Scalar),
    field("remote_deleted_at", Missing::Null, Nested::Scalar),
    field("custom_fields", Missing::Null, Nested::Scalar),
    field(
        "integration_fields",
        Missing::EmptyArray,
        Nested::ArrayOf(INTEGRATION_FIELD),
    ),
    field("remote_data", Missing::Null, Nested::Scalar),
    field("employments", Missing::EmptyArray, Nested::ArrayOf(EMPLOYMENT)),
    field(
        "time_off_balances",
        Missing::EmptyArray,
        Nested::ArrayOf(TIME_OFF_BALANCE),
    ),
    field("manager", Missing::Null, Nested::Object(MANAGER)),
    field("groups", Missing::EmptyArray, Nested::ArrayOf(GROUP)),
    field("legal_entity", Missing::Null, Nested::Object(LEGAL_ENTITY)),
    field("teams", Missing::EmptyArray, Nested::ArrayOf(GROUP)),
    field("work_location", Missing::Null, Nested::Object(WORK_LOCATION)),
];
