//! The deterministic company generator.
//!
//! Every random choice comes from `ChaCha8Rng`, whose output is specified by the ChaCha
//! algorithm itself (unlike `StdRng`, which may change between `rand` releases), so a seed
//! produces the same company on every machine and every build. HRIS and ATS data are drawn
//! from separate ChaCha streams and use disjoint id ranges, so generating only one half
//! (what each simulated tool needs) yields exactly the entities the full company would have.
//!
//! Timestamps are offsets from a fixed epoch (2026-01-01T00:00:00Z), never from the wall
//! clock, so the data is reproducible; only mutations (`crate::mutate`) stamp `Utc::now()`.
//!
//! The work is linear in the employee count and streams straight into the company's maps:
//! a million employees take a few seconds and memory proportional to the data itself.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Weekday};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::company::*;

/// The fixed "now" of generated data: 2026-01-01T00:00:00Z.
pub const EPOCH_SECS: i64 = 1_767_225_600;
/// HRIS entities are numbered from here (Personio and BambooHR ids are small integers).
pub const HRIS_FIRST_ID: Id = 1;
/// ATS entities are numbered from here, far above any HRIS id (a million employees use about
/// five million ids) and in the range real Greenhouse ids live in.
pub const ATS_FIRST_ID: Id = 4_000_000_000;

const HRIS_STREAM: u64 = 1;
const ATS_STREAM: u64 = 2;

/// The fixed epoch of generated data.
pub fn epoch() -> Ts {
    DateTime::from_timestamp(EPOCH_SECS, 0).unwrap_or_default()
}

fn epoch_date() -> NaiveDate {
    epoch().date_naive()
}

/// A company of `employees` people and a proportional ATS, the same for the same seed.
pub fn company(seed: u64, employees: usize) -> Company {
    let (hris, hris_next) = hris(seed, employees);
    let (ats, ats_next) = ats(seed, employees);
    Company {
        name: company_name(seed),
        next_id: hris_next.max(ats_next),
        hris,
        ats,
    }
}

/// Only the HRIS half (what Personio and BambooHR serve); `ats` stays empty.
pub fn hris_company(seed: u64, employees: usize) -> Company {
    let (hris, next_id) = hris(seed, employees);
    Company {
        name: company_name(seed),
        next_id,
        hris,
        ats: Ats::default(),
    }
}

/// Only the ATS half (what Greenhouse serves); `hris` stays empty.
pub fn ats_company(seed: u64, employees: usize) -> Company {
    let (ats, next_id) = ats(seed, employees);
    Company {
        name: company_name(seed),
        next_id,
        hris: Hris::default(),
        ats,
    }
}

fn rng_for(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

pub(crate) fn company_name(seed: u64) -> String {
    let mut rng = rng_for(seed, 0);
    format!("{} {}", pick(&mut rng, COMPANY_WORDS), pick(&mut rng, COMPANY_SUFFIXES))
}

/// The mail domain of a company: its first name word, lower-cased.
pub(crate) fn mail_domain(company_name: &str) -> String {
    let word: String = company_name
        .split_whitespace()
        .next()
        .unwrap_or("company")
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    format!("{}.example", word.to_ascii_lowercase())
}

// ---------------------------------------------------------------------------------------
// HRIS
// ---------------------------------------------------------------------------------------

fn hris(seed: u64, employees: usize) -> (Hris, Id) {
    let employees = employees.max(1);
    let mut rng = rng_for(seed, HRIS_STREAM);
    let mut ids = IdSeq(HRIS_FIRST_ID);
    let domain = mail_domain(&company_name(seed));
    let base = epoch();
    let mut hris = Hris::default();

    let legal_entity_count = rng.random_range(1..=3usize);
    let legal: Vec<(Id, &LegalEntityTemplate)> = LEGAL_ENTITIES[..legal_entity_count]
        .iter()
        .map(|t| (ids.next(), t))
        .collect();
    let company = company_name(seed);
    let company_word = company.split_whitespace().next().unwrap_or("Company");
    for (id, t) in &legal {
        let updated_at = base - secs(rng.random_range(30 * DAY..700 * DAY));
        hris.legal_entities.insert(
            *id,
            LegalEntity {
                id: *id,
                name: format!("{company_word} {}", t.suffix),
                country: t.country.into(),
                updated_at,
            },
        );
    }

    let office_count = (employees / 200).clamp(2, 200);
    let mut office_ids = Vec::with_capacity(office_count);
    for i in 0..office_count {
        let id = ids.next();
        let (city, country) = OFFICES[i % OFFICES.len()];
        let name = numbered(city, i, OFFICES.len());
        let updated_at = base - secs(rng.random_range(30 * DAY..700 * DAY));
        hris.offices.insert(
            id,
            Office {
                id,
                name,
                city: city.into(),
                country: country.into(),
                updated_at,
            },
        );
        office_ids.push(id);
    }

    let department_count = (employees / 15).max(3);
    let first_department = ids.0;
    for i in 0..department_count {
        let id = ids.next();
        let name = if i < DEPARTMENTS.len() {
            DEPARTMENTS[i].to_string()
        } else {
            format!(
                "{} Team {}",
                DEPARTMENTS[i % DEPARTMENTS.len()],
                i / DEPARTMENTS.len() + 1
            )
        };
        let updated_at = base - secs(rng.random_range(30 * DAY..700 * DAY));
        hris.departments.insert(id, Department { id, name, updated_at });
    }

    let type_count = rng.random_range(3..=5usize);
    let mut types = Vec::with_capacity(type_count);
    for t in &ABSENCE_TYPES[..type_count] {
        let id = ids.next();
        let updated_at = base - secs(rng.random_range(30 * DAY..700 * DAY));
        hris.absence_types.insert(
            id,
            AbsenceType {
                id,
                name: t.name.into(),
                unit: t.unit.into(),
                half_days_allowed: t.half_days,
                updated_at,
            },
        );
        types.push((id, t));
    }

    // Employees get a contiguous id block so the supervisor of index `i` (chosen among
    // lower indices) is known without a lookup table; their employments and absences
    // follow after the block.
    let first_employee = ids.0;
    ids.0 += employees as Id;

    // Collected in id order and bulk-built into the maps at the end: a B-tree built that
    // way has full nodes, where one-by-one appends leave every node about half empty.
    let mut employee_rows = Vec::with_capacity(employees);
    let mut absence_rows = Vec::with_capacity(employees + employees / 4);
    let mut balance_rows = Vec::with_capacity(employees * types.len());
    let mut email_counts: HashMap<(&'static str, usize), u32> = HashMap::new();
    for i in 0..employees {
        let id = first_employee + i as Id;
        let ctx = EmployeeContext {
            id,
            index: i,
            first_employee,
            domain: &domain,
            legal: &legal,
            office_ids: &office_ids,
            first_department,
            department_count,
        };
        let mut employee = employee(&mut rng, &ctx, &mut email_counts, &mut ids);
        let absences = absences_of(&mut rng, &employee, &types, &mut ids);
        for (type_id, template) in &types {
            let used: f64 = absences
                .iter()
                .filter(|a| a.absence_type_id == *type_id && a.status == "approved")
                .map(|a| a.days_count)
                .sum();
            let updated_at = absences
                .iter()
                .filter(|a| a.absence_type_id == *type_id)
                .map(|a| a.updated_at)
                .max()
                .unwrap_or(employee.created_at);
            balance_rows.push((
                (id, *type_id),
                Balance {
                    employee_id: id,
                    absence_type_id: *type_id,
                    balance: template.entitlement - used,
                    used,
                    updated_at,
                },
            ));
        }
        absence_rows.extend(absences.into_iter().map(|a| (a.id, a)));
        employee.employments.shrink_to_fit();
        employee_rows.push((id, employee));
    }
    hris.employees = BTreeMap::from_iter(employee_rows);
    hris.absences = BTreeMap::from_iter(absence_rows);
    hris.balances = BTreeMap::from_iter(balance_rows);
    (hris, ids.0)
}

struct EmployeeContext<'a> {
    id: Id,
    index: usize,
    first_employee: Id,
    domain: &'a str,
    legal: &'a [(Id, &'a LegalEntityTemplate)],
    office_ids: &'a [Id],
    first_department: Id,
    department_count: usize,
}

fn employee(
    rng: &mut ChaCha8Rng,
    ctx: &EmployeeContext<'_>,
    email_counts: &mut HashMap<(&'static str, usize), u32>,
    next_id: &mut IdSeq,
) -> Employee {
    let base = epoch();
    let today = epoch_date();
    let gender = match rng.random_range(0..100) {
        0..49 => "female",
        49..98 => "male",
        _ => "diverse",
    };
    let names = if gender == "male" || (gender == "diverse" && rng.random_bool(0.5)) {
        MALE_NAMES
    } else {
        FEMALE_NAMES
    };
    let first_index = rng.random_range(0..names.len());
    let last_index = rng.random_range(0..LAST_NAMES.len());
    let first_name = names[first_index];
    let last_name = LAST_NAMES[last_index];
    let count = email_counts.entry((first_name, last_index)).or_insert(0);
    *count += 1;
    let local = format!("{}.{}", ascii_lower(first_name), ascii_lower(last_name));
    let email = if *count == 1 {
        format!("{local}@{}", ctx.domain)
    } else {
        format!("{local}{count}@{}", ctx.domain)
    };

    let status = match rng.random_range(0..100) {
        0..80 => EmployeeStatus::Active,
        80..85 => EmployeeStatus::Onboarding,
        85..90 => EmployeeStatus::Leave,
        _ => EmployeeStatus::Inactive,
    };
    // Onboarding people start soon; the others started up to ten years ago, long enough
    // before the epoch that a terminated one can have worked a while.
    let hire_date = match status {
        EmployeeStatus::Onboarding => today + Duration::days(rng.random_range(1..60)),
        _ => today - Duration::days(rng.random_range(90..3650)),
    };
    let termination_date = (status == EmployeeStatus::Inactive).then(|| {
        let worked = (today - hire_date).num_days();
        hire_date + Duration::days(rng.random_range(30..worked))
    });
    // The tool was adopted two years before the epoch: people hired earlier were imported
    // then, later hires were entered a couple of weeks before they started.
    let adoption = base - Duration::days(730);
    let created_at = match status {
        EmployeeStatus::Onboarding => base - secs(rng.random_range(DAY..30 * DAY)),
        _ => {
            let entered = midnight(hire_date) - secs(rng.random_range(0..21 * DAY));
            if entered < adoption {
                adoption + secs(rng.random_range(0..30 * DAY))
            } else {
                entered
            }
        }
    };
    let updated_at = created_at + secs(rng.random_range(0..=(base - created_at).num_seconds()));

    let (employment_type, weekly_hours) = match rng.random_range(0..100) {
        0..75 => ("internal", 40.0),
        75..87 => ("part_time", [20.0, 24.0, 30.0][rng.random_range(0..3)]),
        87..95 => ("external", 40.0),
        _ => ("intern", [20.0, 40.0][rng.random_range(0..2)]),
    };
    let (legal_entity_id, legal) = ctx.legal[rng.random_range(0..ctx.legal.len())];
    let office_id = ctx.office_ids[rng.random_range(0..ctx.office_ids.len())];
    let department_id = ctx.first_department + rng.random_range(0..ctx.department_count) as Id;
    // A roughly five-wide tree: index i reports to someone in [(i-1)/6, (i-1)/4], always
    // a lower index, so the tree is acyclic and about log5(n) deep.
    let supervisor_id = (ctx.index > 0).then(|| {
        let below = ctx.index - 1;
        ctx.first_employee + rng.random_range(below / 6..=below / 4) as Id
    });

    let title = pick(rng, JOB_TITLES);
    let hired = Hire {
        employment_type,
        title,
        currency: legal.currency,
        hire_date,
        created_at,
        updated_at,
    };
    let employments = employments(rng, &hired, next_id);
    let position = employments
        .last()
        .map(|e| e.job_title.clone())
        .unwrap_or_else(|| title.into());

    let (city, country) = OFFICES[rng.random_range(0..OFFICES.len())];
    let mut custom = BTreeMap::new();
    let first_attr = rng.random_range(0..CUSTOM_ATTRIBUTES.len());
    let attrs = if rng.random_bool(0.5) { 1 } else { 2 };
    for k in 0..attrs {
        let (key, values) = CUSTOM_ATTRIBUTES[(first_attr + k) % CUSTOM_ATTRIBUTES.len()];
        custom.insert(key.to_string(), custom_value(rng, key, values));
    }

    Employee {
        id: ctx.id,
        employee_number: format!("E{:06}", ctx.index + 1),
        first_name: first_name.into(),
        last_name: last_name.into(),
        preferred_name: rng.random_bool(0.08).then(|| pick(rng, names).to_string()),
        email,
        personal_email: rng
            .random_bool(0.6)
            .then(|| format!("{local}{}@mail.example", rng.random_range(1..100))),
        mobile_phone: rng.random_bool(0.7).then(|| phone(rng)),
        gender: gender.into(),
        nationality: rng.random_bool(0.95).then(|| pick(rng, NATIONALITIES).to_string()),
        birthday: rng.random_bool(0.97).then(|| {
            NaiveDate::from_ymd_opt(
                rng.random_range(1960..2004),
                rng.random_range(1..=12),
                rng.random_range(1..=28),
            )
            .unwrap_or(today)
        }),
        ssn: rng.random_bool(0.9).then(|| {
            format!(
                "{:03}-{:02}-{:04}",
                rng.random_range(100..900),
                rng.random_range(10..100),
                rng.random_range(1000..10000)
            )
        }),
        status,
        employment_type: employment_type.into(),
        position,
        weekly_hours,
        department_id: rng.random_bool(0.98).then_some(department_id),
        office_id: rng.random_bool(0.98).then_some(office_id),
        legal_entity_id: Some(legal_entity_id),
        supervisor_id,
        hire_date,
        termination_date,
        street: Some(format!("{} {}", pick(rng, STREETS), rng.random_range(1..200))),
        city: Some(city.into()),
        zip: Some(format!("{:05}", rng.random_range(1000..99999))),
        country: Some(country.into()),
        iban: rng.random_bool(0.85).then(|| iban(rng, country)),
        custom,
        employments,
        created_at,
        updated_at,
    }
}

/// How an employee was hired, and the span of their record's timestamps, which every
/// employment's own `updated_at` stays within.
struct Hire<'a> {
    employment_type: &'a str,
    title: &'a str,
    currency: &'a str,
    hire_date: NaiveDate,
    created_at: Ts,
    updated_at: Ts,
}

/// The employee's employments from `hired` on: one, or up to three after a year (promotions,
/// raises).
fn employments(rng: &mut ChaCha8Rng, hired: &Hire<'_>, next_id: &mut IdSeq) -> Vec<Employment> {
    let Hire {
        employment_type,
        title,
        currency,
        hire_date,
        created_at,
        updated_at,
    } = *hired;
    let tenure = (epoch_date() - hire_date).num_days();
    let count = if tenure < 400 { 1 } else { rng.random_range(1..=3usize) };
    let (mut pay_rate, pay_period) = match employment_type {
        "intern" => (rng.random_range(1200..2000) as f64, "MONTH"),
        "external" => (rng.random_range(50..150) as f64, "HOUR"),
        _ => ((rng.random_range(40..140) * 1000) as f64, "YEAR"),
    };
    let mut out = Vec::with_capacity(count);
    let mut effective_date = hire_date;
    for k in 0..count {
        if k > 0 {
            let remaining = (epoch_date() - effective_date).num_days();
            let step = rng.random_range(remaining / 3..=(remaining * 2 / 3).max(remaining / 3));
            effective_date += Duration::days(step.max(1));
            pay_rate = (pay_rate * rng.random_range(1.03..1.15)).round();
        }
        let job_title = match (count - k, count) {
            (_, 1) => title.to_string(),
            (1, _) => format!("Senior {title}"),
            _ => title.to_string(),
        };
        let touched = midnight(effective_date).clamp(created_at, updated_at);
        out.push(Employment {
            id: next_id.next(),
            job_title,
            pay_rate,
            pay_period: pay_period.into(),
            currency: currency.into(),
            employment_type: employment_type.into(),
            effective_date,
            updated_at: touched,
        });
    }
    out
}

fn absences_of(
    rng: &mut ChaCha8Rng,
    employee: &Employee,
    types: &[(Id, &AbsenceTypeTemplate)],
    next_id: &mut IdSeq,
) -> Vec<Absence> {
    let base = epoch();
    let count = match rng.random_range(0..100) {
        0..30 => 0,
        30..75 => 1,
        75..95 => 2,
        _ => 3,
    };
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let (type_id, template) = types[rng.random_range(0..types.len())];
        let mut start_date = epoch_date() + Duration::days(rng.random_range(-330..60));
        while matches!(start_date.weekday(), Weekday::Sat | Weekday::Sun) {
            start_date += Duration::days(1);
        }
        let end_date = start_date + Duration::days(rng.random_range(0..10));
        let half_day_start = template.half_days && rng.random_bool(0.1);
        let half_day_end = template.half_days && end_date > start_date && rng.random_bool(0.1);
        let days_count = weekdays(start_date, end_date) as f64
            - if half_day_start { 0.5 } else { 0.0 }
            - if half_day_end { 0.5 } else { 0.0 };
        let status = match rng.random_range(0..100) {
            0..75 => "approved",
            75..90 => "pending",
            90..95 => "rejected",
            _ => "canceled",
        };
        let requested = midnight(start_date) - secs(rng.random_range(DAY..40 * DAY));
        let created_at = requested.clamp(employee.created_at, base);
        let updated_at = created_at + secs(rng.random_range(0..=(base - created_at).num_seconds()));
        out.push(Absence {
            id: next_id.next(),
            employee_id: employee.id,
            absence_type_id: type_id,
            status: status.into(),
            start_date,
            end_date,
            half_day_start,
            half_day_end,
            days_count,
            comment: rng.random_bool(0.2).then(|| pick(rng, ABSENCE_COMMENTS).to_string()),
            created_at,
            updated_at,
        });
    }
    out
}

// ---------------------------------------------------------------------------------------
// ATS
// ---------------------------------------------------------------------------------------

fn ats(seed: u64, employees: usize) -> (Ats, Id) {
    let employees = employees.max(1);
    let mut rng = rng_for(seed, ATS_STREAM);
    let mut ids = IdSeq(ATS_FIRST_ID);
    let base = epoch();
    let domain = mail_domain(&company_name(seed));
    let mut ats = Ats::default();

    let user_count = (employees / 20).max(3);
    let mut user_ids = Vec::with_capacity(user_count);
    for i in 0..user_count {
        let id = ids.next();
        let female = rng.random_bool(0.5);
        let first = pick(&mut rng, if female { FEMALE_NAMES } else { MALE_NAMES });
        let last = pick(&mut rng, LAST_NAMES);
        let created_at = base - secs(rng.random_range(60 * DAY..730 * DAY));
        let updated_at = created_at + secs(rng.random_range(0..=(base - created_at).num_seconds()));
        ats.users.insert(
            id,
            User {
                id,
                first_name: first.into(),
                last_name: last.into(),
                email: format!("{}.{}.{}@{domain}", ascii_lower(first), ascii_lower(last), i + 1),
                disabled: rng.random_bool(0.05),
                site_admin: i < 2,
                created_at,
                updated_at,
            },
        );
        user_ids.push(id);
    }

    let mut tag_ids = Vec::with_capacity(TAGS.len());
    for name in TAGS {
        let id = ids.next();
        let updated_at = base - secs(rng.random_range(30 * DAY..700 * DAY));
        ats.tags.insert(
            id,
            Tag {
                id,
                name: (*name).into(),
                updated_at,
            },
        );
        tag_ids.push(id);
    }

    let mut reason_ids = Vec::with_capacity(REJECTION_REASONS.len());
    for (name, reason_type) in REJECTION_REASONS {
        let id = ids.next();
        let updated_at = base - secs(rng.random_range(30 * DAY..700 * DAY));
        ats.rejection_reasons.insert(
            id,
            RejectionReason {
                id,
                name: (*name).into(),
                reason_type: (*reason_type).into(),
                updated_at,
            },
        );
        reason_ids.push(id);
    }

    let job_count = (employees / 10).max(3);
    let mut job_ids = Vec::with_capacity(job_count);
    for i in 0..job_count {
        let id = ids.next();
        // The first job is always open so a mutation that needs one always finds one.
        let status = match (i, rng.random_range(0..100)) {
            (0, _) | (_, 0..60) => "open",
            (_, 60..90) => "closed",
            _ => "draft",
        };
        let created_at = base - secs(rng.random_range(30 * DAY..730 * DAY));
        let opened_at = (status != "draft").then(|| created_at + secs(rng.random_range(0..7 * DAY)));
        let closed_at = (status == "closed").then(|| {
            let from = opened_at.unwrap_or(created_at);
            from + secs(rng.random_range(0..=(base - from).num_seconds()))
        });
        let updated_at =
            closed_at.unwrap_or_else(|| created_at + secs(rng.random_range(0..=(base - created_at).num_seconds())));
        let stages = job_stages(&mut rng, created_at, &mut ids);
        let (city, _) = OFFICES[rng.random_range(0..OFFICES.len())];
        ats.jobs.insert(
            id,
            Job {
                id,
                name: pick(&mut rng, JOB_TITLES).into(),
                requisition_id: format!("REQ-{:05}", i + 1),
                status: status.into(),
                confidential: rng.random_bool(0.05),
                department: Some(pick(&mut rng, DEPARTMENTS).into()),
                office: Some(city.into()),
                notes: rng.random_bool(0.3).then(|| "Backfill; budget approved.".into()),
                hiring_manager_ids: vec![user_ids[rng.random_range(0..user_ids.len())]],
                recruiter_ids: vec![user_ids[rng.random_range(0..user_ids.len())]],
                stages,
                opened_at,
                closed_at,
                created_at,
                updated_at,
            },
        );
        job_ids.push(id);
    }

    let candidate_count = employees.max(10);
    // Bulk-built at the end, like the HRIS maps.
    let mut candidate_rows = Vec::with_capacity(candidate_count);
    let mut application_rows = Vec::with_capacity(candidate_count * 5 / 4);
    let mut interview_rows = Vec::with_capacity(candidate_count / 2);
    let mut offer_rows = Vec::with_capacity(candidate_count / 4);
    for _ in 0..candidate_count {
        let candidate_id = ids.next();
        let female = rng.random_bool(0.5);
        let first = pick(&mut rng, if female { FEMALE_NAMES } else { MALE_NAMES });
        let last = pick(&mut rng, LAST_NAMES);
        let created_at = base - secs(rng.random_range(DAY..730 * DAY));
        let mut candidate = Candidate {
            id: candidate_id,
            first_name: first.into(),
            last_name: last.into(),
            company: rng.random_bool(0.7).then(|| pick(&mut rng, EMPLOYERS).into()),
            title: rng.random_bool(0.7).then(|| pick(&mut rng, JOB_TITLES).into()),
            emails: vec![format!(
                "{}.{}{}@mail.example",
                ascii_lower(first),
                ascii_lower(last),
                rng.random_range(1..1000)
            )],
            phone_numbers: if rng.random_bool(0.6) {
                vec![phone(&mut rng)]
            } else {
                Vec::new()
            },
            tag_ids: Vec::new(),
            recruiter_id: rng
                .random_bool(0.8)
                .then(|| user_ids[rng.random_range(0..user_ids.len())]),
            application_ids: Vec::new(),
            created_at,
            updated_at: created_at,
            last_activity: created_at,
        };
        let tag_count = rng.random_range(0..=2usize);
        for _ in 0..tag_count {
            let tag = tag_ids[rng.random_range(0..tag_ids.len())];
            if !candidate.tag_ids.contains(&tag) {
                candidate.tag_ids.push(tag);
            }
        }
        let application_count = if rng.random_bool(0.75) { 1 } else { 2 };
        let mut applied_jobs: Vec<Id> = Vec::with_capacity(2);
        for _ in 0..application_count {
            let job_id = job_ids[rng.random_range(0..job_ids.len())];
            if applied_jobs.contains(&job_id) {
                continue;
            }
            applied_jobs.push(job_id);
            let Some(job) = ats.jobs.get(&job_id) else { continue };
            let application = application(
                &mut rng,
                candidate_id,
                job,
                created_at,
                &reason_ids,
                &user_ids,
                &mut ids,
            );
            candidate.application_ids.push(application.application.id);
            candidate.last_activity = candidate.last_activity.max(application.application.last_activity_at);
            interview_rows.extend(application.interviews.into_iter().map(|i| (i.id, i)));
            offer_rows.extend(application.offer.map(|o| (o.id, o)));
            application_rows.push((application.application.id, application.application));
        }
        candidate.updated_at = created_at + (candidate.last_activity - created_at) / 2;
        candidate_rows.push((candidate_id, candidate));
    }
    ats.candidates = BTreeMap::from_iter(candidate_rows);
    ats.applications = BTreeMap::from_iter(application_rows);
    ats.interviews = BTreeMap::from_iter(interview_rows);
    ats.offers = BTreeMap::from_iter(offer_rows);
    (ats, ids.0)
}

fn job_stages(rng: &mut ChaCha8Rng, created_at: Ts, next_id: &mut IdSeq) -> Vec<Stage> {
    let count = rng.random_range(4..=6usize);
    let middle = count - 2;
    let first_middle = rng.random_range(0..=MIDDLE_STAGES.len() - middle);
    let names = std::iter::once("Application Review")
        .chain(MIDDLE_STAGES[first_middle..first_middle + middle].iter().copied())
        .chain(std::iter::once("Offer"));
    names
        .enumerate()
        .map(|(priority, name)| Stage {
            id: next_id.next(),
            name: name.into(),
            priority: priority as u32,
            updated_at: created_at,
        })
        .collect()
}

struct GeneratedApplication {
    application: Application,
    interviews: Vec<Interview>,
    offer: Option<Offer>,
}

fn application(
    rng: &mut ChaCha8Rng,
    candidate_id: Id,
    job: &Job,
    candidate_created: Ts,
    reason_ids: &[Id],
    user_ids: &[Id],
    next_id: &mut IdSeq,
) -> GeneratedApplication {
    let base = epoch();
    let id = next_id.next();
    let status = match (job.status.as_str(), rng.random_range(0..100)) {
        ("closed", 0..85) => "rejected",
        ("closed", _) => "hired",
        (_, 0..65) => "active",
        (_, 65..95) => "rejected",
        _ => "hired",
    };
    let last_stage = job.stages.len().saturating_sub(1);
    let stage_index = if status == "hired" {
        last_stage
    } else {
        rng.random_range(0..=last_stage)
    };
    let applied_at = (candidate_created + secs(rng.random_range(0..2 * DAY))).min(base);
    let last_activity_at = applied_at + secs(rng.random_range(0..=(base - applied_at).num_seconds()));
    let rejected = status == "rejected";
    let application = Application {
        id,
        candidate_id,
        job_id: job.id,
        status: status.into(),
        current_stage_id: job.stages.get(stage_index).map(|s| s.id),
        source: Some(pick(rng, SOURCES).into()),
        rejection_reason_id: rejected.then(|| reason_ids[rng.random_range(0..reason_ids.len())]),
        rejected_at: rejected.then_some(last_activity_at),
        applied_at,
        last_activity_at,
        updated_at: last_activity_at,
    };

    // Interviews happen in the stages between screening and the offer.
    let mut interviews = Vec::new();
    if stage_index >= 1 && stage_index < last_stage {
        let start = applied_at + (last_activity_at - applied_at) / 2;
        let start = if status == "active" && rng.random_bool(0.3) {
            base + secs(rng.random_range(DAY..14 * DAY))
        } else {
            start
        };
        let status = if start > base {
            "scheduled"
        } else if rng.random_bool(0.2) {
            "awaiting_feedback"
        } else {
            "complete"
        };
        let mut interviewer_ids = vec![user_ids[rng.random_range(0..user_ids.len())]];
        let second = user_ids[rng.random_range(0..user_ids.len())];
        if rng.random_bool(0.5) && !interviewer_ids.contains(&second) {
            interviewer_ids.push(second);
        }
        let created_at = applied_at.min(start);
        interviews.push(Interview {
            id: next_id.next(),
            application_id: id,
            stage_id: job.stages.get(stage_index).map(|s| s.id),
            title: job
                .stages
                .get(stage_index)
                .map_or_else(|| "Interview".into(), |s| s.name.clone()),
            start,
            end: start + Duration::minutes(if rng.random_bool(0.5) { 30 } else { 60 }),
            location: Some(if rng.random_bool(0.7) {
                "Video call".into()
            } else {
                "On site".into()
            }),
            status: status.into(),
            interviewer_ids,
            organizer_id: job.recruiter_ids.first().copied(),
            created_at,
            updated_at: created_at.max(last_activity_at.min(base)),
        });
    }

    let offer = (stage_index == last_stage && last_stage > 0).then(|| {
        let offer_status = match status {
            "hired" => "accepted",
            "rejected" => "rejected",
            _ => "unresolved",
        };
        let created_at = applied_at + (last_activity_at - applied_at) / 2;
        Offer {
            id: next_id.next(),
            application_id: id,
            candidate_id,
            job_id: job.id,
            status: offer_status.into(),
            version: 1,
            starts_at: Some(last_activity_at.date_naive() + Duration::days(rng.random_range(14..90))),
            sent_at: Some(created_at.date_naive()),
            resolved_at: (offer_status != "unresolved").then_some(last_activity_at),
            created_at,
            updated_at: last_activity_at,
        }
    });
    GeneratedApplication {
        application,
        interviews,
        offer,
    }
}

// ---------------------------------------------------------------------------------------
// Small helpers shared with `mutate`
// ---------------------------------------------------------------------------------------

const DAY: i64 = 86_400;

/// Hands out a company's ids in order.
struct IdSeq(Id);

impl IdSeq {
    fn next(&mut self) -> Id {
        let id = self.0;
        self.0 += 1;
        id
    }
}

fn secs(s: i64) -> Duration {
    Duration::seconds(s)
}

fn midnight(date: NaiveDate) -> Ts {
    date.and_hms_opt(0, 0, 0).map(|dt| dt.and_utc()).unwrap_or_else(epoch)
}

fn numbered(name: &str, index: usize, len: usize) -> String {
    if index < len {
        name.to_string()
    } else {
        format!("{name} {}", index / len + 1)
    }
}

pub(crate) fn pick<'a, R: Rng>(rng: &mut R, list: &[&'a str]) -> &'a str {
    list[rng.random_range(0..list.len())]
}

pub(crate) fn ascii_lower(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            'ä' => 'a',
            'ö' => 'o',
            'ü' => 'u',
            'é' | 'è' => 'e',
            c => c.to_ascii_lowercase(),
        })
        .filter(char::is_ascii_alphanumeric)
        .collect()
}

pub(crate) fn phone<R: Rng>(rng: &mut R) -> String {
    format!(
        "+49 15{} {:07}",
        rng.random_range(1..8),
        rng.random_range(0..10_000_000)
    )
}

fn iban<R: Rng>(rng: &mut R, country: &str) -> String {
    format!(
        "{country}{:02}{:010}{:010}",
        rng.random_range(10..100),
        rng.random_range(0..10_000_000_000u64),
        rng.random_range(0..10_000_000_000u64)
    )
}

fn custom_value<R: Rng>(rng: &mut R, key: &str, values: &[&str]) -> String {
    match key {
        "cost_center" => format!("CC-{}", rng.random_range(1000..10000)),
        "badge_number" => format!("B{:05}", rng.random_range(0..100_000)),
        _ => pick(rng, values).to_string(),
    }
}

/// Monday-to-Friday days in `[start, end]`.
fn weekdays(start: NaiveDate, end: NaiveDate) -> u32 {
    start
        .iter_days()
        .take_while(|d| *d <= end)
        .filter(|d| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun))
        .count() as u32
}

/// Weekday count helper for mutations, which need the same arithmetic as generation.
pub(crate) fn working_days(start: NaiveDate, end: NaiveDate) -> f64 {
    weekdays(start, end) as f64
}

pub(crate) struct LegalEntityTemplate {
    suffix: &'static str,
    country: &'static str,
    currency: &'static str,
}

pub(crate) struct AbsenceTypeTemplate {
    name: &'static str,
    unit: &'static str,
    half_days: bool,
    /// Yearly allowance; the balance is what is left of it.
    entitlement: f64,
}

const LEGAL_ENTITIES: &[LegalEntityTemplate] = &[
    LegalEntityTemplate {
        suffix: "GmbH",
        country: "DE",
        currency: "EUR",
    },
    LegalEntityTemplate {
        suffix: "Ltd",
        country: "GB",
        currency: "GBP",
    },
    LegalEntityTemplate {
        suffix: "Inc.",
        country: "US",
        currency: "USD",
    },
];

const ABSENCE_TYPES: &[AbsenceTypeTemplate] = &[
    AbsenceTypeTemplate {
        name: "Vacation",
        unit: "days",
        half_days: true,
        entitlement: 28.0,
    },
    AbsenceTypeTemplate {
        name: "Sick leave",
        unit: "hours",
        half_days: false,
        entitlement: 0.0,
    },
    AbsenceTypeTemplate {
        name: "Home office",
        unit: "days",
        half_days: true,
        entitlement: 0.0,
    },
    AbsenceTypeTemplate {
        name: "Parental leave",
        unit: "days",
        half_days: false,
        entitlement: 0.0,
    },
    AbsenceTypeTemplate {
        name: "Unpaid leave",
        unit: "days",
        half_days: false,
        entitlement: 0.0,
    },
];

const COMPANY_WORDS: &[&str] = &[
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Vandelay",
    "Stark",
    "Wayne",
    "Tyrell",
    "Cyberdyne",
    "Soylent",
    "Wonka",
    "Gringotts",
    "Oscorp",
    "Massive",
    "Nakatomi",
];
const COMPANY_SUFFIXES: &[&str] = &["Labs", "Group", "Systems", "Industries", "Works", "Digital"];

pub(crate) const FEMALE_NAMES: &[&str] = &[
    "Anna",
    "Emma",
    "Mia",
    "Sofia",
    "Hannah",
    "Lena",
    "Laura",
    "Julia",
    "Sarah",
    "Lea",
    "Marie",
    "Clara",
    "Amelie",
    "Charlotte",
    "Johanna",
    "Katharina",
    "Olivia",
    "Ava",
    "Isabella",
    "Grace",
    "Chloe",
    "Zoe",
    "Nora",
    "Ida",
    "Ella",
    "Paula",
    "Greta",
    "Fatma",
    "Aylin",
    "Priya",
    "Mei",
    "Yuki",
    "Ines",
    "Lucia",
    "Elena",
    "Chiara",
    "Maja",
    "Frieda",
    "Emily",
    "Ruth",
];
pub(crate) const MALE_NAMES: &[&str] = &[
    "Lukas",
    "Leon",
    "Finn",
    "Paul",
    "Jonas",
    "Felix",
    "Maximilian",
    "Elias",
    "Noah",
    "Ben",
    "Tim",
    "Jan",
    "David",
    "Moritz",
    "Niklas",
    "Simon",
    "Oliver",
    "Jack",
    "Harry",
    "George",
    "Liam",
    "Ethan",
    "Mason",
    "James",
    "Mehmet",
    "Emre",
    "Arjun",
    "Wei",
    "Hiroshi",
    "Mateo",
    "Luca",
    "Marco",
    "Pablo",
    "Tomasz",
    "Jakob",
    "Anton",
    "Oskar",
    "Henri",
    "Samuel",
    "Omar",
];
pub(crate) const LAST_NAMES: &[&str] = &[
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
    "Schäfer",
    "Koch",
    "Bauer",
    "Richter",
    "Klein",
    "Wolf",
    "Schröder",
    "Neumann",
    "Schwarz",
    "Zimmermann",
    "Braun",
    "Krüger",
    "Hofmann",
    "Hartmann",
    "Lange",
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Wilson",
    "Taylor",
    "Anderson",
    "Yilmaz",
    "Kaya",
    "Nowak",
    "Kowalski",
    "Rossi",
    "Russo",
    "Dubois",
    "Martin",
    "Sato",
    "Tanaka",
    "Wang",
    "Li",
    "Patel",
    "Singh",
    "Silva",
    "Santos",
    "Jensen",
    "Nielsen",
];
pub(crate) const DEPARTMENTS: &[&str] = &[
    "Engineering",
    "Sales",
    "Marketing",
    "Finance",
    "People",
    "Customer Success",
    "Product",
    "Design",
    "Legal",
    "Operations",
    "Data",
    "Security",
    "IT",
    "Procurement",
    "Support",
    "Partnerships",
    "Research",
    "Quality",
    "Facilities",
    "Communications",
];
const OFFICES: &[(&str, &str)] = &[
    ("Berlin", "DE"),
    ("Munich", "DE"),
    ("Hamburg", "DE"),
    ("London", "GB"),
    ("Manchester", "GB"),
    ("New York", "US"),
    ("Austin", "US"),
    ("San Francisco", "US"),
    ("Amsterdam", "NL"),
    ("Paris", "FR"),
    ("Madrid", "ES"),
    ("Vienna", "AT"),
    ("Zurich", "CH"),
    ("Warsaw", "PL"),
    ("Lisbon", "PT"),
    ("Dublin", "IE"),
];
const STREETS: &[&str] = &[
    "Hauptstraße",
    "Bahnhofstraße",
    "Gartenweg",
    "Schillerstraße",
    "High Street",
    "Main Street",
    "Station Road",
    "Church Lane",
    "Rue de la Paix",
    "Calle Mayor",
    "Kanalstraat",
    "Lindenallee",
];
const NATIONALITIES: &[&str] = &["DE", "DE", "DE", "GB", "US", "FR", "ES", "IT", "PL", "TR", "IN", "NL"];
pub(crate) const JOB_TITLES: &[&str] = &[
    "Software Engineer",
    "Account Executive",
    "Marketing Manager",
    "Financial Analyst",
    "HR Business Partner",
    "Customer Success Manager",
    "Product Manager",
    "Product Designer",
    "Legal Counsel",
    "Operations Manager",
    "Data Scientist",
    "Security Engineer",
    "IT Administrator",
    "Buyer",
    "Support Specialist",
    "Partner Manager",
    "Research Scientist",
    "QA Engineer",
    "Office Manager",
    "Communications Manager",
    "Sales Development Representative",
    "Backend Engineer",
    "Frontend Engineer",
    "Recruiter",
    "Controller",
    "Data Engineer",
];
const CUSTOM_ATTRIBUTES: &[(&str, &[&str])] = &[
    ("shirt_size", &["S", "M", "L", "XL"]),
    ("cost_center", &[]),
    ("remote_eligible", &["yes", "no"]),
    ("badge_number", &[]),
    (
        "dietary_preference",
        &["none", "vegetarian", "vegan", "halal", "kosher"],
    ),
];
const ABSENCE_COMMENTS: &[&str] = &[
    "Family trip",
    "Doctor's appointment",
    "Moving house",
    "Wedding",
    "Conference",
    "Recovery",
];
const TAGS: &[&str] = &[
    "Referral",
    "Silver medalist",
    "Remote",
    "Relocation needed",
    "Visa required",
    "Senior",
    "Diversity hire program",
    "Internal",
    "Agency",
    "Re-apply later",
];
const REJECTION_REASONS: &[(&str, &str)] = &[
    ("Lacking skill(s)/qualification(s)", "We rejected them"),
    ("Hired another candidate", "We rejected them"),
    ("Compensation expectations", "They rejected us"),
    ("Accepted another offer", "They rejected us"),
    ("Other", "None specified"),
];
const MIDDLE_STAGES: &[&str] = &[
    "Recruiter Screen",
    "Hiring Manager Interview",
    "Technical Interview",
    "Take Home Test",
    "Onsite Interview",
    "Reference Check",
];
const SOURCES: &[&str] = &[
    "LinkedIn",
    "Referral",
    "Company website",
    "Indeed",
    "Agency",
    "Career fair",
    "Other",
];
const EMPLOYERS: &[&str] = &[
    "Siemens",
    "SAP",
    "Zalando",
    "N26",
    "Delivery Hero",
    "Spotify",
    "Shopify",
    "Accenture",
    "Deloitte",
    "Freelance",
];

/// Job titles, first names and last names for mutations that invent people and jobs.
pub(crate) mod vocabulary {
    pub(crate) use super::{DEPARTMENTS, FEMALE_NAMES, JOB_TITLES, LAST_NAMES, MALE_NAMES};
}
