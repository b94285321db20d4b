//! The Personio connector against Personio's own documented examples, not our simulator: a
//! server on loopback replays, for every request, the example response Personio's OpenAPI
//! files give for that operation (`docs/sources/specs/personio/`), whatever the query. What the
//! vendor shows is what a real account sends; a connector that cannot read it is wrong however
//! well it reads the simulator.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::http::{StatusCode, Uri};
use axum::response::IntoResponse;
use serde_json::Value;
use tributary_connectors::PersonioConnector;
use tributary_model::{IdGen, Model, SourceRecord};
use tributary_source::{ClientConfig, Connector, FetchMode, SourceClient};
use url::Url;

fn spec(file: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs/sources/specs/personio")
        .join(file);
    serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .expect("spec is JSON")
}

/// The first example of a response's JSON body (`example`, or the first of `examples`).
fn example_of(response: &Value) -> Option<Value> {
    let media = response.pointer("/content/application~1json")?;
    media.get("example").cloned().or_else(|| {
        let (_, first) = media.get("examples")?.as_object()?.iter().next()?;
        first.get("value").cloned()
    })
}

/// One documented answer per operation: the 200/201 example, else (an operation whose success
/// has no example) its documented 404 example.
struct Recordings {
    /// (method, path template without `/v1`) → (status, body)
    answers: Vec<(String, Vec<String>, u16, Value)>,
}

impl Recordings {
    fn load() -> Self {
        let mut answers = Vec::new();
        for file in ["personnel-data.json", "auth.json"] {
            let doc = spec(file);
            for (path, item) in doc["paths"].as_object().expect("paths") {
                for (method, op) in item.as_object().expect("path item") {
                    let Some(responses) = op.get("responses").and_then(Value::as_object) else {
                        continue;
                    };
                    let documented = ["200", "201", "404"]
                        .iter()
                        .find_map(|code| Some((code.parse().ok()?, example_of(responses.get(*code)?)?)));
                    if let Some((status, body)) = documented {
                        let segments = path.trim_matches('/').split('/').map(str::to_owned).collect();
                        answers.push((method.to_uppercase(), segments, status, body));
                    }
                }
            }
        }
        Self { answers }
    }

    /// The documented answer for a request, literal segments before templated ones (so
    /// `/company/employees/attributes` is not taken for `/company/employees/{employee_id}`).
    fn answer(&self, method: &str, path: &str) -> Option<(u16, Value)> {
        let path = path.strip_prefix("/v1").unwrap_or(path);
        let wanted: Vec<&str> = path.trim_matches('/').split('/').collect();
        self.answers
            .iter()
            .filter(|(m, segments, ..)| {
                m == method
                    && segments.len() == wanted.len()
                    && segments.iter().zip(&wanted).all(|(s, w)| s.starts_with('{') || s == w)
            })
            .min_by_key(|(_, segments, ..)| segments.iter().filter(|s| s.starts_with('{')).count())
            .map(|(_, _, status, body)| (*status, body.clone()))
    }
}

/// The documents show one page of each list. A list that echoes its `offset` (employees) is
/// answered past that page with the same envelope, the asked offset and no data: the end of
/// the list, since no later page is documented. (The example's metadata claims 3 pages of 2
/// employees while showing one employee; only an empty page ends it without inventing records.)
fn past_the_documented_page(mut body: Value, query: Option<&str>) -> Value {
    let asked: Option<u64> = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|kv| kv.strip_prefix("offset=")?.parse().ok());
    let documented = body.get("offset").and_then(Value::as_u64);
    if let (Some(asked), Some(documented)) = (asked, documented)
        && asked != documented
    {
        body["offset"] = asked.into();
        body["data"] = Value::Array(Vec::new());
    }
    body
}

async fn replay_server(log: Arc<Mutex<Vec<String>>>) -> Url {
    let recordings = Arc::new(Recordings::load());
    let app = axum::Router::new().fallback(move |method: axum::http::Method, uri: Uri| {
        let (recordings, log) = (recordings.clone(), log.clone());
        async move {
            log.lock().unwrap().push(format!("{method} {}", uri.path()));
            match recordings.answer(method.as_str(), uri.path()) {
                Some((status, body)) => (
                    StatusCode::from_u16(status).expect("status"),
                    axum::Json(past_the_documented_page(body, uri.query())),
                )
                    .into_response(),
                None => (StatusCode::NOT_FOUND, "no documented example").into_response(),
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    Url::parse(&format!("http://{addr}")).expect("url")
}

fn connector(base: Url) -> PersonioConnector {
    let client = SourceClient::new(ClientConfig {
        max_attempts: 1,
        requests_per_second: None,
        ..ClientConfig::default()
    })
    .expect("client");
    PersonioConnector::new(
        base,
        &serde_json::json!({"client_id": "documented", "client_secret": "example"}),
        IdGen::new("personio:examples"),
        client,
    )
    .expect("connector")
}

async fn fetch_stream(c: &PersonioConnector, name: &str) -> Vec<SourceRecord> {
    let stream = c.streams().into_iter().find(|s| s.name == name).expect("stream");
    let mut cursor = None;
    let mut records = Vec::new();
    for _ in 0..10 {
        let page = c
            .fetch_page(&stream, cursor.as_ref(), FetchMode::Full)
            .await
            .unwrap_or_else(|e| panic!("stream {name} on Personio's documented example: {e}"));
        records.extend(page.records);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return records,
        }
    }
    panic!("stream {name} keeps paging through one documented page");
}

fn by_model(records: &[SourceRecord]) -> BTreeMap<Model, Vec<&SourceRecord>> {
    let mut out: BTreeMap<Model, Vec<&SourceRecord>> = BTreeMap::new();
    for r in records {
        out.entry(r.model).or_default().push(r);
    }
    out
}

#[tokio::test]
async fn every_stream_reads_personios_documented_examples() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let c = connector(replay_server(log.clone()).await);

    // Employees: the documented employee (Alexander Bergmann, CTO, supervised by employee 2).
    let employees = fetch_stream(&c, "employees").await;
    let models = by_model(&employees);
    let people = &models[&Model::Employees];
    let alexander = people
        .iter()
        .find(|r| r.remote_id == "1")
        .expect("the documented employee 1");
    assert_eq!(alexander.data["first_name"], "Alexander", "{:?}", alexander.data);
    assert_eq!(alexander.data["last_name"], "Bergmann");
    assert_eq!(alexander.data["work_email"], "alexander.bergmann@demo.email");
    assert_eq!(alexander.data["job_title"], "CTO");
    assert!(
        alexander.data["manager_id"].is_string(),
        "the documented supervisor resolves: {:?}",
        alexander.data
    );
    assert!(models.contains_key(&Model::Employments), "{:?}", models.keys());

    // Time-offs: the documented period 27–29 Dec 2017, `+0100` offsets and all.
    let absences = fetch_stream(&c, "absences").await;
    let absence = absences
        .iter()
        .find(|r| r.model == Model::Absences && r.remote_id == "12345")
        .expect("the documented time-off 12345");
    assert_eq!(absence.data["start_date"], "2017-12-27", "{:?}", absence.data);
    assert_eq!(absence.data["end_date"], "2017-12-29");
    assert_eq!(absence.data["status"], "APPROVED");
    // Absence periods: the documented hour-based absence of Michael Miller (employee 2367).
    let period = absences
        .iter()
        .find(|r| r.model == Model::Absences && r.remote_id == "9bba303f-0fbc-4514-9958-0befa21923fb")
        .unwrap_or_else(|| panic!("the documented absence period: {absences:?}"));
    assert!(period.data["employee_id"].is_string(), "{:?}", period.data);

    // Types: both documented types, one in days and one in hours.
    let types = fetch_stream(&c, "absence_types").await;
    let names: Vec<&str> = types
        .iter()
        .filter(|r| r.model == Model::AbsenceTypes)
        .filter_map(|r| r.data["name"].as_str())
        .collect();
    assert_eq!(names, ["Paid vacation", "Home office"]);

    let requests = log.lock().unwrap().clone();
    assert!(requests.iter().any(|r| r == "POST /v1/auth"), "{requests:?}");
    assert!(
        requests.iter().any(|r| r == "GET /v1/company/employees/attributes"),
        "attribute definitions read from the documented example: {requests:?}"
    );
}
