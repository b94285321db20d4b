//! Changes that real life makes to a company while a mirror of it is running: hires,
//! promotions, terminations, new absences, candidates moving through a pipeline.
//!
//! Every mutation stamps `updated_at = now` (millisecond precision) on each entity it
//! touches, exactly like the real tools do, so "changed since" filters see it; and it
//! reports what it created, updated and deleted so a test can check the mirror against it.
//! Deletions remove entities outright: the real tools do not announce them either.
//!
//! Parameters a caller leaves out are filled with plausible values drawn from a generator
//! seeded by the company's `next_id` and the target, so replaying the same mutations on the
//! same company gives the same result.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tributary_model::ToolKind;

use crate::company::*;
use crate::generate::{self, ascii_lower, mail_domain, phone, pick, vocabulary};

/// Which half of the company a tool serves, and so which mutations make sense for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Hris,
    Ats,
}

impl Category {
    pub fn of(tool: ToolKind) -> Category {
        match tool {
            ToolKind::Personio | ToolKind::Bamboohr => Category::Hris,
            ToolKind::Greenhouse => Category::Ats,
        }
    }
}

impl std::fmt::Display for Category {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Category::Hris => "HRIS",
            Category::Ats => "ATS",
        })
    }
}

/// One change to a company. Serialized with its `kind` beside its parameters, which is also
/// the body `POST /_control/mutate` takes (plus `tool`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Mutation {
    /// A new employee with one employment and a balance per absence type. A `hire_date`
    /// after today makes the employee `onboarding`.
    Hire {
        first_name: Option<String>,
        last_name: Option<String>,
        department_id: Option<Id>,
        supervisor_id: Option<Id>,
        hire_date: Option<NaiveDate>,
    },
    /// Sets one field of an employee (`value` absent: a plausible new value).
    EditEmployee {
        employee_id: Id,
        field: EmployeeField,
        value: Option<String>,
    },
    /// A new pay rate on the current employment (default: a 5% raise).
    ChangeEmployment {
        employee_id: Id,
        pay_rate: Option<f64>,
    },
    /// A new current employment (a promotion), effective today.
    AddEmployment {
        employee_id: Id,
        job_title: Option<String>,
        pay_rate: Option<f64>,
    },
    /// Status `inactive` with a termination date (default today); fails for an employee
    /// who is inactive already.
    Terminate {
        employee_id: Id,
        termination_date: Option<NaiveDate>,
    },
    /// Removes the employee with its absences and balances; their reports move up to the
    /// deleted employee's supervisor.
    DeleteEmployee {
        employee_id: Id,
    },
    /// Changes an absence's status and/or comment; with neither given, extends it by a day.
    EditAbsence {
        absence_id: Id,
        status: Option<String>,
        comment: Option<String>,
    },
    /// A new absence (default: approved, next week, 1–5 days, a random type).
    NewAbsence {
        employee_id: Id,
        absence_type_id: Option<Id>,
        start_date: Option<NaiveDate>,
        days: Option<u32>,
        status: Option<String>,
    },
    DeleteAbsence {
        absence_id: Id,
    },
    /// Renames an absence type (default: its name with " (new policy)" appended). Only the
    /// type changes; absences and balances show its name, so they read differently from now on.
    RenameAbsenceType {
        absence_type_id: Id,
        name: Option<String>,
    },
    /// A new candidate applying to `job_id` (default: a random open job).
    NewCandidate {
        job_id: Option<Id>,
        first_name: Option<String>,
        last_name: Option<String>,
    },
    /// Moves an active application to the next stage of its job's interview plan. Entering
    /// an interview stage schedules an interview; entering the last stage makes an offer.
    AdvanceApplication {
        application_id: Id,
    },
    RejectApplication {
        application_id: Id,
        rejection_reason_id: Option<Id>,
    },
    EditCandidate {
        candidate_id: Id,
        field: CandidateField,
        value: Option<String>,
    },
    /// Removes the candidate with its applications, interviews and offers.
    DeleteCandidate {
        candidate_id: Id,
    },
    /// A new open job with a 4–6 stage interview plan.
    NewJob {
        name: Option<String>,
    },
    CloseJob {
        job_id: Id,
    },
    /// Renames a stage of a job's interview plan (default: its name with " (revised)"
    /// appended). Only the stage's `updated_at` moves: applications at that stage show the new
    /// name in `current_stage`, but their activity does not change.
    RenameStage {
        stage_id: Id,
        name: Option<String>,
    },
    /// Moves a scheduled interview to `start` (default: a day later), keeping its length.
    /// Only the interview changes, not its application, so a test can tell the bumps of
    /// nested-change edges from the application's own changes.
    RescheduleInterview {
        interview_id: Id,
        start: Option<Ts>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmployeeField {
    FirstName,
    LastName,
    PreferredName,
    Email,
    MobilePhone,
    Position,
    DepartmentId,
    OfficeId,
    SupervisorId,
    /// `active` | `onboarding` | `leave` | `inactive`
    Status,
    WeeklyHours,
    City,
    Iban,
    /// `value` is `key=value`.
    Custom,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CandidateField {
    FirstName,
    LastName,
    Company,
    Title,
    /// Replaces the primary email.
    Email,
    /// Adds a phone number.
    Phone,
    /// Adds a tag (`value` is the tag id).
    Tag,
}

impl Mutation {
    pub fn kind(&self) -> &'static str {
        match self {
            Mutation::Hire { .. } => "hire",
            Mutation::EditEmployee { .. } => "edit_employee",
            Mutation::ChangeEmployment { .. } => "change_employment",
            Mutation::AddEmployment { .. } => "add_employment",
            Mutation::Terminate { .. } => "terminate",
            Mutation::DeleteEmployee { .. } => "delete_employee",
            Mutation::EditAbsence { .. } => "edit_absence",
            Mutation::NewAbsence { .. } => "new_absence",
            Mutation::DeleteAbsence { .. } => "delete_absence",
            Mutation::RenameAbsenceType { .. } => "rename_absence_type",
            Mutation::NewCandidate { .. } => "new_candidate",
            Mutation::AdvanceApplication { .. } => "advance_application",
            Mutation::RejectApplication { .. } => "reject_application",
            Mutation::EditCandidate { .. } => "edit_candidate",
            Mutation::DeleteCandidate { .. } => "delete_candidate",
            Mutation::NewJob { .. } => "new_job",
            Mutation::CloseJob { .. } => "close_job",
            Mutation::RenameStage { .. } => "rename_stage",
            Mutation::RescheduleInterview { .. } => "reschedule_interview",
        }
    }

    pub fn category(&self) -> Category {
        match self {
            Mutation::Hire { .. }
            | Mutation::EditEmployee { .. }
            | Mutation::ChangeEmployment { .. }
            | Mutation::AddEmployment { .. }
            | Mutation::Terminate { .. }
            | Mutation::DeleteEmployee { .. }
            | Mutation::EditAbsence { .. }
            | Mutation::NewAbsence { .. }
            | Mutation::DeleteAbsence { .. }
            | Mutation::RenameAbsenceType { .. } => Category::Hris,
            _ => Category::Ats,
        }
    }
}

/// An entity a mutation touched, by the remote id the tool shows for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "entity", rename_all = "snake_case")]
pub enum EntityRef {
    Employee {
        id: Id,
    },
    Employment {
        id: Id,
        employee_id: Id,
    },
    Absence {
        id: Id,
    },
    AbsenceType {
        id: Id,
    },
    /// Balances have no id of their own in the tools: one per (employee, absence type).
    Balance {
        employee_id: Id,
        absence_type_id: Id,
    },
    Candidate {
        id: Id,
    },
    Application {
        id: Id,
    },
    Interview {
        id: Id,
    },
    Offer {
        id: Id,
    },
    Job {
        id: Id,
    },
    Stage {
        id: Id,
        job_id: Id,
    },
}

impl EntityRef {
    pub fn entity(&self) -> &'static str {
        match self {
            EntityRef::Employee { .. } => "employee",
            EntityRef::Employment { .. } => "employment",
            EntityRef::Absence { .. } => "absence",
            EntityRef::AbsenceType { .. } => "absence_type",
            EntityRef::Balance { .. } => "balance",
            EntityRef::Candidate { .. } => "candidate",
            EntityRef::Application { .. } => "application",
            EntityRef::Interview { .. } => "interview",
            EntityRef::Offer { .. } => "offer",
            EntityRef::Job { .. } => "job",
            EntityRef::Stage { .. } => "stage",
        }
    }

    /// The entity's own id (balances have none).
    pub fn id(&self) -> Option<Id> {
        match *self {
            EntityRef::Employee { id }
            | EntityRef::Employment { id, .. }
            | EntityRef::Absence { id }
            | EntityRef::AbsenceType { id }
            | EntityRef::Candidate { id }
            | EntityRef::Application { id }
            | EntityRef::Interview { id }
            | EntityRef::Offer { id }
            | EntityRef::Job { id }
            | EntityRef::Stage { id, .. } => Some(id),
            EntityRef::Balance { .. } => None,
        }
    }
}

/// What one mutation did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MutationOutcome {
    pub kind: String,
    pub at: Ts,
    pub created: Vec<EntityRef>,
    pub updated: Vec<EntityRef>,
    pub deleted: Vec<EntityRef>,
}

impl MutationOutcome {
    fn new(kind: &str, at: Ts) -> Self {
        Self {
            kind: kind.into(),
            at,
            created: Vec::new(),
            updated: Vec::new(),
            deleted: Vec::new(),
        }
    }

    /// Ids of the created entities of one kind (`"employee"`, `"application"`, ...).
    pub fn created_ids(&self, entity: &str) -> Vec<Id> {
        ids_of(&self.created, entity)
    }

    pub fn updated_ids(&self, entity: &str) -> Vec<Id> {
        ids_of(&self.updated, entity)
    }

    pub fn deleted_ids(&self, entity: &str) -> Vec<Id> {
        ids_of(&self.deleted, entity)
    }
}

fn ids_of(refs: &[EntityRef], entity: &str) -> Vec<Id> {
    refs.iter()
        .filter(|r| r.entity() == entity)
        .filter_map(EntityRef::id)
        .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum MutationError {
    #[error("{entity} {id} does not exist")]
    NotFound { entity: &'static str, id: Id },
    #[error("`{kind}` is an {kind_category} mutation, but {tool} serves {tool_category} data")]
    WrongCategory {
        kind: &'static str,
        kind_category: Category,
        tool: ToolKind,
        tool_category: Category,
    },
    #[error("invalid mutation: {0}")]
    Invalid(String),
}

/// Applies `mutation` to `company`. Nothing changes when it fails.
pub fn apply(company: &mut Company, mutation: &Mutation) -> Result<MutationOutcome, MutationError> {
    let now = now_ms();
    let mut ctx = Ctx {
        company,
        now,
        out: MutationOutcome::new(mutation.kind(), now),
    };
    ctx.apply(mutation)?;
    Ok(ctx.out)
}

/// Applies `mutation` for `tool`, refusing mutations of the other category.
pub fn apply_for(company: &mut Company, tool: ToolKind, mutation: &Mutation) -> Result<MutationOutcome, MutationError> {
    let tool_category = Category::of(tool);
    if mutation.category() != tool_category {
        return Err(MutationError::WrongCategory {
            kind: mutation.kind(),
            kind_category: mutation.category(),
            tool,
            tool_category,
        });
    }
    apply(company, mutation)
}

/// Applies `count` random mutations suited to `category`, the same ones for the same seed
/// and company. Returns what each did.
pub fn random(company: &mut Company, category: Category, count: usize, seed: u64) -> Vec<MutationOutcome> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut done = Vec::with_capacity(count);
    for _ in 0..count {
        // A drawn mutation can be impossible (an application already at its last stage, a
        // job already closed); draw again a few times rather than report a non-change.
        for _attempt in 0..8 {
            let Some(mutation) = draw(company, category, &mut rng) else {
                break;
            };
            if let Ok(outcome) = apply(company, &mutation) {
                done.push(outcome);
                break;
            }
        }
    }
    done
}

fn draw(company: &Company, category: Category, rng: &mut ChaCha8Rng) -> Option<Mutation> {
    match category {
        Category::Hris => draw_hris(company, rng),
        Category::Ats => draw_ats(company, rng),
    }
}

fn draw_hris(company: &Company, rng: &mut ChaCha8Rng) -> Option<Mutation> {
    let h = &company.hris;
    let hire = Mutation::Hire {
        first_name: None,
        last_name: None,
        department_id: None,
        supervisor_id: None,
        hire_date: None,
    };
    let Some(employee_id) = random_key(&h.employees, rng) else {
        return Some(hire);
    };
    const FIELDS: &[EmployeeField] = &[
        EmployeeField::LastName,
        EmployeeField::PreferredName,
        EmployeeField::MobilePhone,
        EmployeeField::Position,
        EmployeeField::DepartmentId,
        EmployeeField::OfficeId,
        EmployeeField::City,
        EmployeeField::Custom,
        EmployeeField::WeeklyHours,
    ];
    Some(match rng.random_range(0..100) {
        0..30 => Mutation::EditEmployee {
            employee_id,
            field: FIELDS[rng.random_range(0..FIELDS.len())],
            value: None,
        },
        30..40 => Mutation::ChangeEmployment {
            employee_id,
            pay_rate: None,
        },
        40..45 => Mutation::AddEmployment {
            employee_id,
            job_title: None,
            pay_rate: None,
        },
        45..60 => Mutation::NewAbsence {
            employee_id,
            absence_type_id: None,
            start_date: None,
            days: None,
            status: None,
        },
        60..70 => match random_key(&h.absences, rng) {
            Some(absence_id) => Mutation::EditAbsence {
                absence_id,
                status: None,
                comment: None,
            },
            None => hire,
        },
        70..75 => match random_key(&h.absences, rng) {
            Some(absence_id) => Mutation::DeleteAbsence { absence_id },
            None => hire,
        },
        75..88 => hire,
        88..98 => Mutation::Terminate {
            employee_id,
            termination_date: None,
        },
        _ => Mutation::DeleteEmployee { employee_id },
    })
}

fn draw_ats(company: &Company, rng: &mut ChaCha8Rng) -> Option<Mutation> {
    let a = &company.ats;
    let new_candidate = Mutation::NewCandidate {
        job_id: None,
        first_name: None,
        last_name: None,
    };
    let new_job = Mutation::NewJob { name: None };
    if a.jobs.is_empty() {
        return Some(new_job);
    }
    let candidate = random_key(&a.candidates, rng);
    let application = random_key(&a.applications, rng);
    Some(match (rng.random_range(0..100), candidate, application) {
        (0..25, _, _) => new_candidate,
        (25..50, _, Some(application_id)) => Mutation::AdvanceApplication { application_id },
        (50..62, _, Some(application_id)) => Mutation::RejectApplication {
            application_id,
            rejection_reason_id: None,
        },
        (62..88, Some(candidate_id), _) => {
            const FIELDS: &[CandidateField] = &[
                CandidateField::LastName,
                CandidateField::Company,
                CandidateField::Title,
                CandidateField::Email,
                CandidateField::Phone,
                CandidateField::Tag,
            ];
            Mutation::EditCandidate {
                candidate_id,
                field: FIELDS[rng.random_range(0..FIELDS.len())],
                value: None,
            }
        }
        (88..91, Some(candidate_id), _) => Mutation::DeleteCandidate { candidate_id },
        (91..96, _, _) => new_job,
        (96.., _, _) => match random_key(&a.jobs, rng) {
            Some(job_id) => Mutation::CloseJob { job_id },
            None => new_job,
        },
        _ => new_candidate,
    })
}

/// A roughly uniform key of a map in O(log n): the first key at or after a uniform point
/// of the key range (ids are dense, so the bias from gaps is small).
fn random_key<V>(map: &BTreeMap<Id, V>, rng: &mut impl Rng) -> Option<Id> {
    let first = *map.keys().next()?;
    let last = *map.keys().next_back()?;
    let point = rng.random_range(first..=last);
    map.range(point..).next().map(|(k, _)| *k)
}

fn now_ms() -> Ts {
    DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap_or_else(Utc::now)
}

struct Ctx<'a> {
    company: &'a mut Company,
    now: Ts,
    out: MutationOutcome,
}

impl Ctx<'_> {
    fn next_id(&mut self) -> Id {
        let id = self.company.next_id;
        self.company.next_id += 1;
        id
    }

    /// Fills in parameters the caller left out, deterministically for this company state.
    fn rng(&self, salt: Id) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(self.company.next_id.rotate_left(32) ^ salt)
    }

    fn today(&self) -> NaiveDate {
        self.now.date_naive()
    }

    fn apply(&mut self, mutation: &Mutation) -> Result<(), MutationError> {
        match mutation {
            Mutation::Hire {
                first_name,
                last_name,
                department_id,
                supervisor_id,
                hire_date,
            } => self.hire(
                first_name.clone(),
                last_name.clone(),
                *department_id,
                *supervisor_id,
                *hire_date,
            ),
            Mutation::EditEmployee {
                employee_id,
                field,
                value,
            } => self.edit_employee(*employee_id, *field, value.as_deref()),
            Mutation::ChangeEmployment { employee_id, pay_rate } => self.change_employment(*employee_id, *pay_rate),
            Mutation::AddEmployment {
                employee_id,
                job_title,
                pay_rate,
            } => self.add_employment(*employee_id, job_title.clone(), *pay_rate),
            Mutation::Terminate {
                employee_id,
                termination_date,
            } => self.terminate(*employee_id, *termination_date),
            Mutation::DeleteEmployee { employee_id } => self.delete_employee(*employee_id),
            Mutation::EditAbsence {
                absence_id,
                status,
                comment,
            } => self.edit_absence(*absence_id, status.as_deref(), comment.clone()),
            Mutation::NewAbsence {
                employee_id,
                absence_type_id,
                start_date,
                days,
                status,
            } => self.new_absence(*employee_id, *absence_type_id, *start_date, *days, status.as_deref()),
            Mutation::DeleteAbsence { absence_id } => self.delete_absence(*absence_id),
            Mutation::RenameAbsenceType { absence_type_id, name } => {
                self.rename_absence_type(*absence_type_id, name.as_deref())
            }
            Mutation::NewCandidate {
                job_id,
                first_name,
                last_name,
            } => self.new_candidate(*job_id, first_name.clone(), last_name.clone()),
            Mutation::AdvanceApplication { application_id } => self.advance_application(*application_id),
            Mutation::RejectApplication {
                application_id,
                rejection_reason_id,
            } => self.reject_application(*application_id, *rejection_reason_id),
            Mutation::EditCandidate {
                candidate_id,
                field,
                value,
            } => self.edit_candidate(*candidate_id, *field, value.as_deref()),
            Mutation::DeleteCandidate { candidate_id } => self.delete_candidate(*candidate_id),
            Mutation::NewJob { name } => self.new_job(name.clone()),
            Mutation::CloseJob { job_id } => self.close_job(*job_id),
            Mutation::RenameStage { stage_id, name } => self.rename_stage(*stage_id, name.as_deref()),
            Mutation::RescheduleInterview { interview_id, start } => self.reschedule_interview(*interview_id, *start),
        }
    }

    // --- HRIS ----------------------------------------------------------------------------

    fn hire(
        &mut self,
        first_name: Option<String>,
        last_name: Option<String>,
        department_id: Option<Id>,
        supervisor_id: Option<Id>,
        hire_date: Option<NaiveDate>,
    ) -> Result<(), MutationError> {
        let h = &self.company.hris;
        if let Some(d) = department_id
            && !h.departments.contains_key(&d)
        {
            return Err(MutationError::NotFound {
                entity: "department",
                id: d,
            });
        }
        if let Some(s) = supervisor_id
            && !h.employees.contains_key(&s)
        {
            return Err(MutationError::NotFound {
                entity: "employee",
                id: s,
            });
        }
        let id = self.next_id();
        let employment_id = self.next_id();
        let mut rng = self.rng(id);
        let h = &self.company.hris;
        let female = rng.random_bool(0.5);
        let first_name = first_name.unwrap_or_else(|| {
            pick(
                &mut rng,
                if female {
                    vocabulary::FEMALE_NAMES
                } else {
                    vocabulary::MALE_NAMES
                },
            )
            .into()
        });
        let last_name = last_name.unwrap_or_else(|| pick(&mut rng, vocabulary::LAST_NAMES).into());
        let department_id = department_id.or_else(|| random_key(&h.departments, &mut rng));
        let supervisor_id = supervisor_id.or_else(|| random_key(&h.employees, &mut rng));
        let office_id = random_key(&h.offices, &mut rng);
        let legal_entity_id = random_key(&h.legal_entities, &mut rng);
        let (office_city, office_country) = office_id
            .and_then(|o| h.offices.get(&o))
            .map(|o| (o.city.clone(), o.country.clone()))
            .unwrap_or_else(|| ("Berlin".into(), "DE".into()));
        let currency = match legal_entity_id
            .and_then(|l| h.legal_entities.get(&l))
            .map(|l| l.country.as_str())
        {
            Some("GB") => "GBP",
            Some("US") => "USD",
            _ => "EUR",
        };
        let hire_date = hire_date.unwrap_or_else(|| self.today());
        let title = pick(&mut rng, vocabulary::JOB_TITLES).to_string();
        let domain = mail_domain(&self.company.name);
        let employee = Employee {
            id,
            employee_number: format!("E{id:06}"),
            email: format!("{}.{}.{id}@{domain}", ascii_lower(&first_name), ascii_lower(&last_name)),
            first_name,
            last_name,
            preferred_name: None,
            personal_email: None,
            mobile_phone: Some(phone(&mut rng)),
            gender: if female { "female".into() } else { "male".into() },
            nationality: Some(office_country.clone()),
            birthday: NaiveDate::from_ymd_opt(
                rng.random_range(1965..2003),
                rng.random_range(1..=12),
                rng.random_range(1..=28),
            ),
            ssn: None,
            status: if hire_date > self.today() {
                EmployeeStatus::Onboarding
            } else {
                EmployeeStatus::Active
            },
            employment_type: "internal".into(),
            position: title.clone(),
            weekly_hours: 40.0,
            department_id,
            office_id,
            legal_entity_id,
            supervisor_id,
            hire_date,
            termination_date: None,
            street: None,
            city: Some(office_city),
            zip: None,
            country: Some(office_country),
            iban: None,
            custom: BTreeMap::new(),
            employments: vec![Employment {
                id: employment_id,
                job_title: title,
                pay_rate: (rng.random_range(45..120) * 1000) as f64,
                pay_period: "YEAR".into(),
                currency: currency.into(),
                employment_type: "internal".into(),
                effective_date: hire_date,
                updated_at: self.now,
            }],
            created_at: self.now,
            updated_at: self.now,
        };
        let type_ids: Vec<Id> = self.company.hris.absence_types.keys().copied().collect();
        for absence_type_id in type_ids {
            let entitlement = match self.company.hris.absence_types.get(&absence_type_id) {
                Some(t) if t.name == "Vacation" => 28.0,
                _ => 0.0,
            };
            self.company.hris.balances.insert(
                (id, absence_type_id),
                Balance {
                    employee_id: id,
                    absence_type_id,
                    balance: entitlement,
                    used: 0.0,
                    updated_at: self.now,
                },
            );
            self.out.created.push(EntityRef::Balance {
                employee_id: id,
                absence_type_id,
            });
        }
        self.company.hris.employees.insert(id, employee);
        self.out.created.insert(
            0,
            EntityRef::Employment {
                id: employment_id,
                employee_id: id,
            },
        );
        self.out.created.insert(0, EntityRef::Employee { id });
        Ok(())
    }

    fn employee_mut(&mut self, id: Id) -> Result<&mut Employee, MutationError> {
        self.company
            .hris
            .employees
            .get_mut(&id)
            .ok_or(MutationError::NotFound { entity: "employee", id })
    }

    fn edit_employee(&mut self, id: Id, field: EmployeeField, value: Option<&str>) -> Result<(), MutationError> {
        let mut rng = self.rng(id);
        let h = &self.company.hris;
        let Some(current) = h.employees.get(&id) else {
            return Err(MutationError::NotFound { entity: "employee", id });
        };
        let reference = |map_has: bool, entity: &'static str, raw: &str| -> Result<Id, MutationError> {
            let ref_id: Id = raw
                .parse()
                .map_err(|_| MutationError::Invalid(format!("{entity} id `{raw}` is not a number")))?;
            if map_has {
                Ok(ref_id)
            } else {
                Err(MutationError::NotFound { entity, id: ref_id })
            }
        };
        // Resolve the new value first (reading the company), then write it.
        enum Change {
            Text(Option<String>),
            Ref(Option<Id>),
            Status(EmployeeStatus),
            Hours(f64),
            Custom(String, String),
        }
        let change = match field {
            EmployeeField::FirstName | EmployeeField::LastName | EmployeeField::Position | EmployeeField::City => {
                Change::Text(Some(match value {
                    Some(v) => v.to_string(),
                    None => match field {
                        EmployeeField::FirstName => pick(&mut rng, vocabulary::FEMALE_NAMES).into(),
                        EmployeeField::LastName => pick(&mut rng, vocabulary::LAST_NAMES).into(),
                        EmployeeField::Position => pick(&mut rng, vocabulary::JOB_TITLES).into(),
                        _ => pick(&mut rng, &["Berlin", "Hamburg", "Leipzig", "Cologne", "London"]).into(),
                    },
                }))
            }
            EmployeeField::PreferredName => Change::Text(match value {
                Some("") => None,
                Some(v) => Some(v.to_string()),
                None => match current.preferred_name {
                    Some(_) => None,
                    None => Some(pick(&mut rng, vocabulary::MALE_NAMES).into()),
                },
            }),
            EmployeeField::Email => Change::Text(Some(match value {
                Some(v) => v.to_string(),
                None => format!(
                    "{}.{}.{}@{}",
                    ascii_lower(&current.first_name),
                    ascii_lower(&current.last_name),
                    rng.random_range(100..1000),
                    mail_domain(&self.company.name)
                ),
            })),
            EmployeeField::MobilePhone => Change::Text(match value {
                Some("") => None,
                Some(v) => Some(v.to_string()),
                None => Some(phone(&mut rng)),
            }),
            EmployeeField::Iban => Change::Text(match value {
                Some("") => None,
                Some(v) => Some(v.to_string()),
                None => Some(format!("DE{:020}", rng.random_range(0..u64::MAX / 2))),
            }),
            EmployeeField::DepartmentId => Change::Ref(match value {
                Some("") => None,
                Some(v) => Some(reference(
                    v.parse().is_ok_and(|d| h.departments.contains_key(&d)),
                    "department",
                    v,
                )?),
                None => random_key(&h.departments, &mut rng),
            }),
            EmployeeField::OfficeId => Change::Ref(match value {
                Some("") => None,
                Some(v) => Some(reference(
                    v.parse().is_ok_and(|d| h.offices.contains_key(&d)),
                    "office",
                    v,
                )?),
                None => random_key(&h.offices, &mut rng),
            }),
            EmployeeField::SupervisorId => Change::Ref(match value {
                Some("") => None,
                Some(v) => {
                    let s = reference(v.parse().is_ok_and(|d| h.employees.contains_key(&d)), "employee", v)?;
                    if s == id {
                        return Err(MutationError::Invalid("an employee cannot supervise themself".into()));
                    }
                    Some(s)
                }
                // A lower id keeps the supervisor tree acyclic.
                None => h.employees.range(..id).next_back().map(|(k, _)| *k),
            }),
            EmployeeField::Status => Change::Status(match value {
                Some("active") => EmployeeStatus::Active,
                Some("onboarding") => EmployeeStatus::Onboarding,
                Some("leave") => EmployeeStatus::Leave,
                Some("inactive") => EmployeeStatus::Inactive,
                Some(other) => {
                    return Err(MutationError::Invalid(format!(
                        "status `{other}` is not one of active, onboarding, leave, inactive"
                    )));
                }
                None => match current.status {
                    EmployeeStatus::Leave => EmployeeStatus::Active,
                    _ => EmployeeStatus::Leave,
                },
            }),
            EmployeeField::WeeklyHours => Change::Hours(match value {
                Some(v) => v
                    .parse()
                    .ok()
                    .filter(|h: &f64| (0.0..=80.0).contains(h))
                    .ok_or_else(|| MutationError::Invalid(format!("weekly_hours `{v}` is not a number of hours")))?,
                None => {
                    if current.weekly_hours >= 40.0 {
                        32.0
                    } else {
                        40.0
                    }
                }
            }),
            EmployeeField::Custom => match value {
                Some(v) => {
                    let (key, val) = v
                        .split_once('=')
                        .ok_or_else(|| MutationError::Invalid(format!("custom value `{v}` is not `key=value`")))?;
                    Change::Custom(key.to_string(), val.to_string())
                }
                None => {
                    let sizes = ["S", "M", "L", "XL"];
                    let now = current.custom.get("shirt_size").map(String::as_str);
                    let next = sizes.iter().find(|s| Some(**s) != now).copied().unwrap_or("M");
                    Change::Custom("shirt_size".into(), next.into())
                }
            },
        };
        let now = self.now;
        let employee = self.employee_mut(id)?;
        match change {
            Change::Text(v) => match field {
                EmployeeField::FirstName => employee.first_name = v.unwrap_or_default(),
                EmployeeField::LastName => employee.last_name = v.unwrap_or_default(),
                EmployeeField::Position => employee.position = v.unwrap_or_default(),
                EmployeeField::Email => employee.email = v.unwrap_or_default(),
                EmployeeField::PreferredName => employee.preferred_name = v,
                EmployeeField::MobilePhone => employee.mobile_phone = v,
                EmployeeField::Iban => employee.iban = v,
                _ => employee.city = v,
            },
            Change::Ref(v) => match field {
                EmployeeField::DepartmentId => employee.department_id = v,
                EmployeeField::OfficeId => employee.office_id = v,
                _ => employee.supervisor_id = v,
            },
            Change::Status(s) => {
                employee.status = s;
                if s != EmployeeStatus::Inactive {
                    employee.termination_date = None;
                }
            }
            Change::Hours(h) => employee.weekly_hours = h,
            Change::Custom(k, v) => {
                employee.custom.insert(k, v);
            }
        }
        employee.updated_at = now;
        self.out.updated.push(EntityRef::Employee { id });
        Ok(())
    }

    fn change_employment(&mut self, id: Id, pay_rate: Option<f64>) -> Result<(), MutationError> {
        if pay_rate.is_some_and(|p| !(p.is_finite() && p > 0.0)) {
            return Err(MutationError::Invalid("pay_rate must be a positive number".into()));
        }
        let now = self.now;
        let employee = self.employee_mut(id)?;
        let Some(current) = employee.employments.last_mut() else {
            return Err(MutationError::Invalid(format!("employee {id} has no employment")));
        };
        current.pay_rate = pay_rate.unwrap_or_else(|| (current.pay_rate * 1.05).round());
        current.updated_at = now;
        let employment_id = current.id;
        // The pay rate is one of the employee's own attributes in the tools, so the
        // employee changes with it.
        employee.updated_at = now;
        self.out.updated.push(EntityRef::Employee { id });
        self.out.updated.push(EntityRef::Employment {
            id: employment_id,
            employee_id: id,
        });
        Ok(())
    }

    fn add_employment(
        &mut self,
        id: Id,
        job_title: Option<String>,
        pay_rate: Option<f64>,
    ) -> Result<(), MutationError> {
        if pay_rate.is_some_and(|p| !(p.is_finite() && p > 0.0)) {
            return Err(MutationError::Invalid("pay_rate must be a positive number".into()));
        }
        if !self.company.hris.employees.contains_key(&id) {
            return Err(MutationError::NotFound { entity: "employee", id });
        }
        let employment_id = self.next_id();
        let (now, today) = (self.now, self.today());
        let employee = self.employee_mut(id)?;
        let previous = employee.employments.last().cloned();
        let job_title = job_title.unwrap_or_else(|| {
            if employee.position.starts_with("Senior ") {
                format!("Lead {}", employee.position.trim_start_matches("Senior "))
            } else {
                format!("Senior {}", employee.position)
            }
        });
        let employment = Employment {
            id: employment_id,
            job_title: job_title.clone(),
            pay_rate: pay_rate.unwrap_or_else(|| previous.as_ref().map_or(60_000.0, |p| (p.pay_rate * 1.1).round())),
            pay_period: previous
                .as_ref()
                .map_or_else(|| "YEAR".into(), |p| p.pay_period.clone()),
            currency: previous.as_ref().map_or_else(|| "EUR".into(), |p| p.currency.clone()),
            employment_type: employee.employment_type.clone(),
            effective_date: today,
            updated_at: now,
        };
        employee.employments.push(employment);
        employee.position = job_title;
        employee.updated_at = now;
        self.out.created.push(EntityRef::Employment {
            id: employment_id,
            employee_id: id,
        });
        self.out.updated.push(EntityRef::Employee { id });
        Ok(())
    }

    fn terminate(&mut self, id: Id, termination_date: Option<NaiveDate>) -> Result<(), MutationError> {
        let (now, today) = (self.now, self.today());
        let employee = self.employee_mut(id)?;
        if employee.status == EmployeeStatus::Inactive {
            return Err(MutationError::Invalid(format!("employee {id} is already inactive")));
        }
        let date = termination_date.unwrap_or(today);
        if date < employee.hire_date {
            return Err(MutationError::Invalid(format!(
                "termination date {date} is before the hire date {}",
                employee.hire_date
            )));
        }
        employee.status = EmployeeStatus::Inactive;
        employee.termination_date = Some(date);
        employee.updated_at = now;
        self.out.updated.push(EntityRef::Employee { id });
        Ok(())
    }

    fn delete_employee(&mut self, id: Id) -> Result<(), MutationError> {
        let h = &mut self.company.hris;
        let Some(employee) = h.employees.remove(&id) else {
            return Err(MutationError::NotFound { entity: "employee", id });
        };
        self.out.deleted.push(EntityRef::Employee { id });
        for e in &employee.employments {
            self.out.deleted.push(EntityRef::Employment {
                id: e.id,
                employee_id: id,
            });
        }
        let absence_ids: Vec<Id> = h
            .absences
            .iter()
            .filter(|(_, a)| a.employee_id == id)
            .map(|(k, _)| *k)
            .collect();
        for absence_id in absence_ids {
            h.absences.remove(&absence_id);
            self.out.deleted.push(EntityRef::Absence { id: absence_id });
        }
        let balance_keys: Vec<(Id, Id)> = h.balances.range((id, 0)..=(id, Id::MAX)).map(|(k, _)| *k).collect();
        for key in balance_keys {
            h.balances.remove(&key);
            self.out.deleted.push(EntityRef::Balance {
                employee_id: key.0,
                absence_type_id: key.1,
            });
        }
        for report in h.employees.values_mut().filter(|e| e.supervisor_id == Some(id)) {
            report.supervisor_id = employee.supervisor_id;
            report.updated_at = self.now;
            self.out.updated.push(EntityRef::Employee { id: report.id });
        }
        Ok(())
    }

    /// Moves `days` (signed) of approved absence into or out of a balance.
    fn adjust_balance(&mut self, employee_id: Id, absence_type_id: Id, days: f64) {
        if let Some(b) = self.company.hris.balances.get_mut(&(employee_id, absence_type_id)) {
            b.used += days;
            b.balance -= days;
            b.updated_at = self.now;
            self.out.updated.push(EntityRef::Balance {
                employee_id,
                absence_type_id,
            });
        }
    }

    fn edit_absence(&mut self, id: Id, status: Option<&str>, comment: Option<String>) -> Result<(), MutationError> {
        if let Some(s) = status {
            check_absence_status(s)?;
        }
        let now = self.now;
        let Some(absence) = self.company.hris.absences.get_mut(&id) else {
            return Err(MutationError::NotFound { entity: "absence", id });
        };
        let before = approved_days(absence);
        if status.is_none() && comment.is_none() {
            absence.end_date = next_weekday(absence.end_date);
            absence.half_day_end = false;
            absence.days_count = generate::working_days(absence.start_date, absence.end_date)
                - if absence.half_day_start { 0.5 } else { 0.0 };
        }
        if let Some(s) = status {
            absence.status = s.into();
        }
        if comment.is_some() {
            absence.comment = comment;
        }
        absence.updated_at = now;
        let after = approved_days(absence);
        let (employee_id, type_id) = (absence.employee_id, absence.absence_type_id);
        self.out.updated.push(EntityRef::Absence { id });
        if after != before {
            self.adjust_balance(employee_id, type_id, after - before);
        }
        Ok(())
    }

    fn new_absence(
        &mut self,
        employee_id: Id,
        absence_type_id: Option<Id>,
        start_date: Option<NaiveDate>,
        days: Option<u32>,
        status: Option<&str>,
    ) -> Result<(), MutationError> {
        let status = status.unwrap_or("approved");
        check_absence_status(status)?;
        if !self.company.hris.employees.contains_key(&employee_id) {
            return Err(MutationError::NotFound {
                entity: "employee",
                id: employee_id,
            });
        }
        if days == Some(0) {
            return Err(MutationError::Invalid("days must be at least 1".into()));
        }
        let mut rng = self.rng(employee_id);
        let type_id = match absence_type_id {
            Some(t) if self.company.hris.absence_types.contains_key(&t) => t,
            Some(t) => {
                return Err(MutationError::NotFound {
                    entity: "absence type",
                    id: t,
                });
            }
            None => random_key(&self.company.hris.absence_types, &mut rng)
                .ok_or_else(|| MutationError::Invalid("the company has no absence types".into()))?,
        };
        let mut start = start_date.unwrap_or_else(|| self.today() + Duration::days(7));
        while matches!(start.weekday(), Weekday::Sat | Weekday::Sun) {
            start += Duration::days(1);
        }
        let days = days.unwrap_or_else(|| rng.random_range(1..=5));
        let mut end = start;
        for _ in 1..days {
            end = next_weekday(end);
        }
        let id = self.next_id();
        let absence = Absence {
            id,
            employee_id,
            absence_type_id: type_id,
            status: status.into(),
            start_date: start,
            end_date: end,
            half_day_start: false,
            half_day_end: false,
            days_count: generate::working_days(start, end),
            comment: None,
            created_at: self.now,
            updated_at: self.now,
        };
        let approved = (status == "approved").then_some(absence.days_count);
        self.company.hris.absences.insert(id, absence);
        self.out.created.push(EntityRef::Absence { id });
        if let Some(days) = approved {
            self.adjust_balance(employee_id, type_id, days);
        }
        Ok(())
    }

    fn delete_absence(&mut self, id: Id) -> Result<(), MutationError> {
        let Some(absence) = self.company.hris.absences.remove(&id) else {
            return Err(MutationError::NotFound { entity: "absence", id });
        };
        self.out.deleted.push(EntityRef::Absence { id });
        if absence.status == "approved" {
            self.adjust_balance(absence.employee_id, absence.absence_type_id, -absence.days_count);
        }
        Ok(())
    }

    fn rename_absence_type(&mut self, id: Id, name: Option<&str>) -> Result<(), MutationError> {
        let now = self.now;
        let Some(t) = self.company.hris.absence_types.get_mut(&id) else {
            return Err(MutationError::NotFound {
                entity: "absence type",
                id,
            });
        };
        t.name = new_name(name, &t.name, "new policy")?;
        t.updated_at = now;
        self.out.updated.push(EntityRef::AbsenceType { id });
        Ok(())
    }

    // --- ATS -----------------------------------------------------------------------------

    fn new_candidate(
        &mut self,
        job_id: Option<Id>,
        first_name: Option<String>,
        last_name: Option<String>,
    ) -> Result<(), MutationError> {
        let mut rng = self.rng(job_id.unwrap_or(0));
        let a = &self.company.ats;
        let job_id = match job_id {
            Some(j) if a.jobs.contains_key(&j) => j,
            Some(j) => return Err(MutationError::NotFound { entity: "job", id: j }),
            None => {
                let start = random_key(&a.jobs, &mut rng).unwrap_or(0);
                a.jobs
                    .range(start..)
                    .chain(a.jobs.range(..start))
                    .find(|(_, j)| j.status == "open")
                    .map(|(k, _)| *k)
                    .ok_or_else(|| MutationError::Invalid("the company has no open job".into()))?
            }
        };
        let Some(first_stage) = a.jobs.get(&job_id).and_then(|j| j.stages.first()).map(|s| s.id) else {
            return Err(MutationError::Invalid(format!("job {job_id} has no interview plan")));
        };
        let recruiter_id = a.jobs.get(&job_id).and_then(|j| j.recruiter_ids.first().copied());
        let candidate_id = self.next_id();
        let application_id = self.next_id();
        let female = rng.random_bool(0.5);
        let first_name = first_name.unwrap_or_else(|| {
            pick(
                &mut rng,
                if female {
                    vocabulary::FEMALE_NAMES
                } else {
                    vocabulary::MALE_NAMES
                },
            )
            .into()
        });
        let last_name = last_name.unwrap_or_else(|| pick(&mut rng, vocabulary::LAST_NAMES).into());
        let email = format!(
            "{}.{}.{candidate_id}@mail.example",
            ascii_lower(&first_name),
            ascii_lower(&last_name)
        );
        let now = self.now;
        let a = &mut self.company.ats;
        a.candidates.insert(
            candidate_id,
            Candidate {
                id: candidate_id,
                first_name,
                last_name,
                company: None,
                title: None,
                emails: vec![email],
                phone_numbers: Vec::new(),
                tag_ids: Vec::new(),
                recruiter_id,
                application_ids: vec![application_id],
                created_at: now,
                updated_at: now,
                last_activity: now,
            },
        );
        a.applications.insert(
            application_id,
            Application {
                id: application_id,
                candidate_id,
                job_id,
                status: "active".into(),
                current_stage_id: Some(first_stage),
                source: Some("Company website".into()),
                rejection_reason_id: None,
                rejected_at: None,
                applied_at: now,
                last_activity_at: now,
                updated_at: now,
            },
        );
        self.out.created.push(EntityRef::Candidate { id: candidate_id });
        self.out.created.push(EntityRef::Application { id: application_id });
        Ok(())
    }

    fn active_application(&self, id: Id) -> Result<&Application, MutationError> {
        let application = self.company.ats.applications.get(&id).ok_or(MutationError::NotFound {
            entity: "application",
            id,
        })?;
        if application.status != "active" {
            return Err(MutationError::Invalid(format!(
                "application {id} is {}, not active",
                application.status
            )));
        }
        Ok(application)
    }

    /// Application activity shows on the candidate's `last_activity`, as in Greenhouse.
    fn touch_candidate_activity(&mut self, candidate_id: Id) {
        if let Some(c) = self.company.ats.candidates.get_mut(&candidate_id) {
            c.last_activity = self.now;
        }
    }

    fn advance_application(&mut self, id: Id) -> Result<(), MutationError> {
        let application = self.active_application(id)?;
        let (candidate_id, job_id) = (application.candidate_id, application.job_id);
        let job = self.company.ats.jobs.get(&job_id).ok_or(MutationError::NotFound {
            entity: "job",
            id: job_id,
        })?;
        let position = application
            .current_stage_id
            .and_then(|s| job.stages.iter().position(|st| st.id == s))
            .map_or(0, |p| p + 1);
        let Some(stage) = job.stages.get(position) else {
            return Err(MutationError::Invalid(format!(
                "application {id} is already at the last stage"
            )));
        };
        let (stage_id, stage_name) = (stage.id, stage.name.clone());
        let is_last = position + 1 == job.stages.len();
        let organizer = job.recruiter_ids.first().copied();
        let interviewers = job.hiring_manager_ids.clone();
        let now = self.now;
        if let Some(a) = self.company.ats.applications.get_mut(&id) {
            a.current_stage_id = Some(stage_id);
            a.last_activity_at = now;
            a.updated_at = now;
        }
        self.out.updated.push(EntityRef::Application { id });
        self.touch_candidate_activity(candidate_id);
        if is_last {
            let offer_id = self.next_id();
            self.company.ats.offers.insert(
                offer_id,
                Offer {
                    id: offer_id,
                    application_id: id,
                    candidate_id,
                    job_id,
                    status: "unresolved".into(),
                    version: 1,
                    starts_at: Some(self.today() + Duration::days(30)),
                    sent_at: Some(self.today()),
                    resolved_at: None,
                    created_at: now,
                    updated_at: now,
                },
            );
            self.out.created.push(EntityRef::Offer { id: offer_id });
        } else if position > 0 {
            let interview_id = self.next_id();
            let start = now + Duration::days(3);
            self.company.ats.interviews.insert(
                interview_id,
                Interview {
                    id: interview_id,
                    application_id: id,
                    stage_id: Some(stage_id),
                    title: stage_name,
                    start,
                    end: start + Duration::hours(1),
                    location: Some("Video call".into()),
                    status: "scheduled".into(),
                    interviewer_ids: interviewers,
                    organizer_id: organizer,
                    created_at: now,
                    updated_at: now,
                },
            );
            self.out.created.push(EntityRef::Interview { id: interview_id });
        }
        Ok(())
    }

    fn reject_application(&mut self, id: Id, reason: Option<Id>) -> Result<(), MutationError> {
        let candidate_id = self.active_application(id)?.candidate_id;
        let mut rng = self.rng(id);
        let reasons = &self.company.ats.rejection_reasons;
        let reason = match reason {
            Some(r) if reasons.contains_key(&r) => Some(r),
            Some(r) => {
                return Err(MutationError::NotFound {
                    entity: "rejection reason",
                    id: r,
                });
            }
            None => random_key(reasons, &mut rng),
        };
        let now = self.now;
        if let Some(a) = self.company.ats.applications.get_mut(&id) {
            a.status = "rejected".into();
            a.rejection_reason_id = reason;
            a.rejected_at = Some(now);
            a.last_activity_at = now;
            a.updated_at = now;
        }
        self.out.updated.push(EntityRef::Application { id });
        self.touch_candidate_activity(candidate_id);
        Ok(())
    }

    fn edit_candidate(&mut self, id: Id, field: CandidateField, value: Option<&str>) -> Result<(), MutationError> {
        let mut rng = self.rng(id);
        let a = &self.company.ats;
        let Some(candidate) = a.candidates.get(&id) else {
            return Err(MutationError::NotFound {
                entity: "candidate",
                id,
            });
        };
        let tag = match (field, value) {
            (CandidateField::Tag, Some(v)) => {
                let tag: Id = v
                    .parse()
                    .map_err(|_| MutationError::Invalid(format!("tag id `{v}` is not a number")))?;
                if !a.tags.contains_key(&tag) {
                    return Err(MutationError::NotFound { entity: "tag", id: tag });
                }
                Some(tag)
            }
            (CandidateField::Tag, None) => {
                let start = random_key(&a.tags, &mut rng).unwrap_or(0);
                let tag = a
                    .tags
                    .range(start..)
                    .chain(a.tags.range(..start))
                    .map(|(k, _)| *k)
                    .find(|t| !candidate.tag_ids.contains(t));
                Some(tag.ok_or_else(|| MutationError::Invalid(format!("candidate {id} already has every tag")))?)
            }
            _ => None,
        };
        let text = value.map(str::to_string);
        let now = self.now;
        let Some(c) = self.company.ats.candidates.get_mut(&id) else {
            return Err(MutationError::NotFound {
                entity: "candidate",
                id,
            });
        };
        match field {
            CandidateField::FirstName => {
                c.first_name = text.unwrap_or_else(|| pick(&mut rng, vocabulary::FEMALE_NAMES).into())
            }
            CandidateField::LastName => {
                c.last_name = text.unwrap_or_else(|| pick(&mut rng, vocabulary::LAST_NAMES).into())
            }
            CandidateField::Company => {
                c.company = Some(text.unwrap_or_else(|| format!("{} GmbH", pick(&mut rng, vocabulary::LAST_NAMES))))
            }
            CandidateField::Title => {
                c.title = Some(text.unwrap_or_else(|| pick(&mut rng, vocabulary::JOB_TITLES).into()))
            }
            CandidateField::Email => {
                let email = text.unwrap_or_else(|| {
                    format!(
                        "{}.{}.{}@mail.example",
                        ascii_lower(&c.first_name),
                        ascii_lower(&c.last_name),
                        rng.random_range(1000..10000)
                    )
                });
                match c.emails.first_mut() {
                    Some(first) => *first = email,
                    None => c.emails.push(email),
                }
            }
            CandidateField::Phone => c.phone_numbers.push(text.unwrap_or_else(|| phone(&mut rng))),
            CandidateField::Tag => {
                if let Some(tag) = tag.filter(|t| !c.tag_ids.contains(t)) {
                    c.tag_ids.push(tag);
                }
            }
        }
        c.updated_at = now;
        c.last_activity = now;
        self.out.updated.push(EntityRef::Candidate { id });
        Ok(())
    }

    fn delete_candidate(&mut self, id: Id) -> Result<(), MutationError> {
        let a = &mut self.company.ats;
        let Some(candidate) = a.candidates.remove(&id) else {
            return Err(MutationError::NotFound {
                entity: "candidate",
                id,
            });
        };
        self.out.deleted.push(EntityRef::Candidate { id });
        for application_id in &candidate.application_ids {
            if a.applications.remove(application_id).is_some() {
                self.out.deleted.push(EntityRef::Application { id: *application_id });
            }
        }
        let gone = |application_id: &Id| candidate.application_ids.contains(application_id);
        let interviews: Vec<Id> = a
            .interviews
            .values()
            .filter(|i| gone(&i.application_id))
            .map(|i| i.id)
            .collect();
        for interview_id in interviews {
            a.interviews.remove(&interview_id);
            self.out.deleted.push(EntityRef::Interview { id: interview_id });
        }
        let offers: Vec<Id> = a
            .offers
            .values()
            .filter(|o| gone(&o.application_id))
            .map(|o| o.id)
            .collect();
        for offer_id in offers {
            a.offers.remove(&offer_id);
            self.out.deleted.push(EntityRef::Offer { id: offer_id });
        }
        Ok(())
    }

    fn new_job(&mut self, name: Option<String>) -> Result<(), MutationError> {
        let id = self.next_id();
        let mut rng = self.rng(id);
        let a = &self.company.ats;
        let manager = random_key(&a.users, &mut rng);
        let recruiter = random_key(&a.users, &mut rng);
        let name = name.unwrap_or_else(|| pick(&mut rng, vocabulary::JOB_TITLES).into());
        let department = Some(pick(&mut rng, vocabulary::DEPARTMENTS).to_string());
        let requisition_id = format!("REQ-{id}");
        const MIDDLE: &[&str] = &[
            "Recruiter Screen",
            "Hiring Manager Interview",
            "Technical Interview",
            "Onsite Interview",
        ];
        let middle = rng.random_range(2..=MIDDLE.len());
        let names: Vec<&str> = std::iter::once("Application Review")
            .chain(MIDDLE[..middle].iter().copied())
            .chain(std::iter::once("Offer"))
            .collect();
        let now = self.now;
        let mut stages = Vec::with_capacity(names.len());
        for (priority, stage_name) in names.into_iter().enumerate() {
            let stage_id = self.next_id();
            stages.push(Stage {
                id: stage_id,
                name: stage_name.into(),
                priority: priority as u32,
                updated_at: now,
            });
            self.out.created.push(EntityRef::Stage {
                id: stage_id,
                job_id: id,
            });
        }
        self.company.ats.jobs.insert(
            id,
            Job {
                id,
                name,
                requisition_id,
                status: "open".into(),
                confidential: false,
                department,
                office: None,
                notes: None,
                hiring_manager_ids: manager.into_iter().collect(),
                recruiter_ids: recruiter.into_iter().collect(),
                stages,
                opened_at: Some(now),
                closed_at: None,
                created_at: now,
                updated_at: now,
            },
        );
        self.out.created.insert(0, EntityRef::Job { id });
        Ok(())
    }

    fn close_job(&mut self, id: Id) -> Result<(), MutationError> {
        let now = self.now;
        let Some(job) = self.company.ats.jobs.get_mut(&id) else {
            return Err(MutationError::NotFound { entity: "job", id });
        };
        if job.status == "closed" {
            return Err(MutationError::Invalid(format!("job {id} is already closed")));
        }
        job.status = "closed".into();
        job.closed_at = Some(now);
        job.updated_at = now;
        self.out.updated.push(EntityRef::Job { id });
        Ok(())
    }

    fn rename_stage(&mut self, id: Id, name: Option<&str>) -> Result<(), MutationError> {
        let now = self.now;
        let found = self
            .company
            .ats
            .jobs
            .values_mut()
            .find_map(|j| Some((j.id, j.stages.iter_mut().find(|s| s.id == id)?)));
        let Some((job_id, stage)) = found else {
            return Err(MutationError::NotFound { entity: "stage", id });
        };
        stage.name = new_name(name, &stage.name, "revised")?;
        stage.updated_at = now;
        self.out.updated.push(EntityRef::Stage { id, job_id });
        Ok(())
    }

    fn reschedule_interview(&mut self, id: Id, start: Option<Ts>) -> Result<(), MutationError> {
        let now = self.now;
        let Some(interview) = self.company.ats.interviews.get_mut(&id) else {
            return Err(MutationError::NotFound {
                entity: "interview",
                id,
            });
        };
        let length = interview.end - interview.start;
        let start = start.unwrap_or(interview.start + Duration::days(1));
        if start == interview.start {
            return Err(MutationError::Invalid(format!(
                "interview {id} already starts at {start}"
            )));
        }
        interview.start = start;
        interview.end = start + length;
        interview.updated_at = now;
        self.out.updated.push(EntityRef::Interview { id });
        Ok(())
    }
}

/// The new name of a rename: `given`, or `current` with `(<suffix>)` appended.
fn new_name(given: Option<&str>, current: &str, suffix: &str) -> Result<String, MutationError> {
    match given.map(str::trim) {
        Some("") => Err(MutationError::Invalid("a name cannot be empty".into())),
        Some(name) => Ok(name.to_owned()),
        None => Ok(format!("{current} ({suffix})")),
    }
}

fn check_absence_status(status: &str) -> Result<(), MutationError> {
    match status {
        "approved" | "pending" | "rejected" | "canceled" => Ok(()),
        other => Err(MutationError::Invalid(format!(
            "absence status `{other}` is not one of approved, pending, rejected, canceled"
        ))),
    }
}

/// The days an absence takes from its balance: only approved absences count.
fn approved_days(absence: &Absence) -> f64 {
    if absence.status == "approved" {
        absence.days_count
    } else {
        0.0
    }
}

fn next_weekday(date: NaiveDate) -> NaiveDate {
    let mut d = date + Duration::days(1);
    while matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
        d += Duration::days(1);
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renames_touch_only_the_renamed_entity() {
        let mut c = generate::company(7, 20);
        let (type_id, old_type) = c
            .hris
            .absence_types
            .iter()
            .map(|(k, t)| (*k, t.clone()))
            .next()
            .unwrap();
        let absences_before = c.hris.absences.clone();
        let out = apply(
            &mut c,
            &Mutation::RenameAbsenceType {
                absence_type_id: type_id,
                name: None,
            },
        )
        .unwrap();
        assert_eq!(out.updated, vec![EntityRef::AbsenceType { id: type_id }]);
        let renamed = &c.hris.absence_types[&type_id];
        assert_eq!(renamed.name, format!("{} (new policy)", old_type.name));
        assert!(renamed.updated_at > old_type.updated_at);
        assert!(
            c.hris
                .absences
                .iter()
                .all(|(k, a)| a.updated_at == absences_before[k].updated_at),
            "absences keep their updated_at"
        );
        assert!(
            apply(
                &mut c,
                &Mutation::RenameAbsenceType {
                    absence_type_id: type_id,
                    name: Some(" ".into())
                }
            )
            .is_err()
        );

        let (job_id, stage_id) = c.ats.jobs.values().map(|j| (j.id, j.stages[1].id)).next().unwrap();
        let job_before = c.ats.jobs[&job_id].updated_at;
        let out = apply(
            &mut c,
            &Mutation::RenameStage {
                stage_id,
                name: Some("Culture Chat".into()),
            },
        )
        .unwrap();
        assert_eq!(out.updated, vec![EntityRef::Stage { id: stage_id, job_id }]);
        let job = &c.ats.jobs[&job_id];
        assert_eq!(job.stages[1].name, "Culture Chat");
        assert_eq!(job.updated_at, job_before, "the job itself is unchanged");
        assert!(matches!(
            apply(
                &mut c,
                &Mutation::RenameStage {
                    stage_id: 1,
                    name: None
                }
            ),
            Err(MutationError::NotFound { entity: "stage", .. })
        ));
    }

    #[test]
    fn rescheduling_moves_only_the_interview() {
        let mut c = generate::company(7, 20);
        let interview = c.ats.interviews.values().next().unwrap().clone();
        let application_before = c.ats.applications[&interview.application_id].clone();
        let out = apply(
            &mut c,
            &Mutation::RescheduleInterview {
                interview_id: interview.id,
                start: None,
            },
        )
        .unwrap();
        assert_eq!(out.updated, vec![EntityRef::Interview { id: interview.id }]);
        let moved = &c.ats.interviews[&interview.id];
        assert_eq!(moved.start, interview.start + Duration::days(1));
        assert_eq!(moved.end - moved.start, interview.end - interview.start);
        assert!(moved.updated_at > interview.updated_at);
        let application = &c.ats.applications[&interview.application_id];
        assert_eq!(
            (application.updated_at, application.last_activity_at),
            (application_before.updated_at, application_before.last_activity_at)
        );
        let same = Mutation::RescheduleInterview {
            interview_id: interview.id,
            start: Some(moved.start),
        };
        assert!(apply(&mut c, &same).is_err(), "a non-move is refused");
        // The control API's body form.
        let parsed: Mutation =
            serde_json::from_value(serde_json::json!({"kind": "reschedule_interview", "interview_id": 5})).unwrap();
        assert_eq!(parsed.kind(), "reschedule_interview");
        assert_eq!(parsed.category(), Category::Ats);
        let parsed: Mutation =
            serde_json::from_value(serde_json::json!({"kind": "rename_absence_type", "absence_type_id": 5})).unwrap();
        assert_eq!(parsed.category(), Category::Hris);
    }
}
