//! A mirror filled by real syncs from the simulator, and the gateway serving it on a real
//! socket, called with reqwest.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;
use tributary_gateway::{GatewayOptions, GatewayState, generate_api_key, hash_api_key, router_with_options};
use tributary_model::{Model, RunState, SyncType, ToolKind};
use tributary_operator::FleetTrigger;
use tributary_queue::{EmbeddedCoordinator, MemoryQueue};
use tributary_store::{MirrorStore, NewIntegration};

use crate::support::{Backend, Harness};

pub const ENVIRONMENT: &str = "test";
/// Employees of the simulated company: enough for the ATS half to have candidates,
/// applications, interviews and offers, few enough that a sync takes a moment.
pub const EMPLOYEES: usize = 80;
const CURSOR_KEY: &[u8] = b"read api tests: a 32 byte key!!!";

/// A gateway over a synced mirror.
pub struct Api {
    pub h: Harness,
    pub base: String,
    pub http: reqwest::Client,
    /// A key of [`ENVIRONMENT`].
    pub key: String,
    pub personio: String,
    pub greenhouse: String,
    pub bamboohr: String,
    /// The gateway's state, for what it counts.
    pub state: GatewayState,
    /// A second gateway on the same mirror that renders every item live (no stored
    /// renderings). Every successful list request is also sent to it, and the two answers
    /// must be the same bytes: the stored renderings' equivalence test.
    pub live: String,
}

/// A response: status, headers and the JSON body.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    /// The body as received.
    pub raw: String,
}

impl Reply {
    /// Asserts Kombo's error envelope with `code` and the HTTP `status`.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "{:#}", self.body);
        assert_envelope(&self.body);
        assert_eq!(self.body["error"]["code"], code, "{:#}", self.body);
    }
}

/// `{"status":"error","error":{"code","title","message","log_url"}}`, nothing else.
#[track_caller]
pub fn assert_envelope(body: &Value) {
    assert_eq!(body["status"], "error", "{body:#}");
    let error = body["error"]
        .as_object()
        .unwrap_or_else(|| panic!("no error object: {body:#}"));
    let mut keys: Vec<&str> = error.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["code", "log_url", "message", "title"], "{body:#}");
    assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "{body:#}");
    assert_eq!(body.as_object().unwrap().len(), 2, "{body:#}");
}

impl Api {
    /// Personio, Greenhouse and BambooHR, each synced once in full, behind a gateway with
    /// default options.
    pub async fn start(backend: Backend) -> Option<Api> {
        Self::start_with(backend, GatewayOptions::default(), true).await
    }

    pub async fn start_with(backend: Backend, options: GatewayOptions, with_trigger: bool) -> Option<Api> {
        let h = Harness::start(
            backend,
            &[ToolKind::Personio, ToolKind::Greenhouse, ToolKind::Bamboohr],
            EMPLOYEES,
        )
        .await?;
        let personio = h.connect(ToolKind::Personio).await;
        let greenhouse = h.connect(ToolKind::Greenhouse).await;
        let bamboohr = h.connect(ToolKind::Bamboohr).await;
        for (id, sync_type) in [
            (&personio, SyncType::Full),
            (&greenhouse, SyncType::Full),
            (&bamboohr, SyncType::Full),
        ] {
            let run = h.sync(id, sync_type).await;
            assert_eq!(run.state, RunState::Succeeded, "{run:?}");
        }
        let key = generate_api_key();
        h.store
            .create_api_key(ENVIRONMENT, "read api tests", &hash_api_key(&key))
            .await
            .unwrap();
        let (base, live, state) = serve_pair(h.store.clone(), options, with_trigger).await;
        Some(Api {
            state,
            h,
            base,
            live,
            http: reqwest::Client::new(),
            key,
            personio,
            greenhouse,
            bamboohr,
        })
    }

    /// The integration of `model`'s category that has data for it: Personio or Greenhouse.
    pub fn integration_for(&self, model: Model) -> &str {
        match model.category() {
            tributary_model::Category::Hris => &self.personio,
            tributary_model::Category::Ats => &self.greenhouse,
        }
    }

    /// Creates an integration of `tool` in `environment` pointing at the simulator.
    pub async fn create_integration(
        &self,
        id: &str,
        tool: ToolKind,
        environment: &str,
        scope_config: tributary_model::ScopeConfig,
    ) {
        self.h
            .store
            .create_integration(NewIntegration {
                id: id.into(),
                tool,
                environment: environment.into(),
                base_url: self.h.sim.base_url(tool),
                credentials: self.h.sim.integration_credentials(tool),
                scope_config,
            })
            .await
            .expect("integration created");
    }

    /// The served contract, `GET /v1/openapi.json`.
    pub async fn contract(&self) -> Value {
        self.http
            .get(self.url("/v1/openapi.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `GET /v1<path>` for `integration` with the test key. A successful list page is also
    /// asked of the live-rendering twin ([`Api::live`]) and must be the same bytes.
    pub async fn get(&self, path: &str, integration: &str, query: &[(&str, &str)]) -> Reply {
        let reply = send(self.get_request(path, integration, query)).await;
        if reply.status == StatusCode::OK && (path.starts_with("/hris/") || path.starts_with("/ats/")) {
            self.assert_same_as_live(path, integration, query, &reply).await;
        }
        reply
    }

    pub fn get_request(&self, path: &str, integration: &str, query: &[(&str, &str)]) -> reqwest::RequestBuilder {
        self.request_to(&self.base, path, integration, query)
    }

    fn request_to(&self, base: &str, path: &str, integration: &str, query: &[(&str, &str)]) -> reqwest::RequestBuilder {
        self.http
            .get(format!("{base}/v1{path}"))
            .bearer_auth(&self.key)
            .header("X-Integration-Id", integration)
            .query(query)
    }

    /// The live twin's answer to the same request is byte for byte `reply`'s. A sync writing
    /// between the two reads can make them differ; then both are asked again, and only a
    /// difference that persists fails.
    async fn assert_same_as_live(&self, path: &str, integration: &str, query: &[(&str, &str)], reply: &Reply) {
        let mut stored = reply.raw.clone();
        for attempt in 0..5 {
            let (live, shown) = send_unchecked(self.request_to(&self.live, path, integration, query)).await;
            assert_eq!(live.status, StatusCode::OK, "{shown}: the live twin: {}", live.raw);
            if live.raw == stored {
                return;
            }
            if attempt == 4 {
                let at = stored
                    .bytes()
                    .zip(live.raw.bytes())
                    .position(|(a, b)| a != b)
                    .unwrap_or(stored.len().min(live.raw.len()));
                let from = at.saturating_sub(200);
                panic!(
                    "{shown}: the stored page and the live rendering differ at byte {at}:\n stored: …{}…\n   live: …{}…",
                    &stored[from..(at + 200).min(stored.len())],
                    &live.raw[from..(at + 200).min(live.raw.len())]
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            let (again, _) = send_unchecked(self.get_request(path, integration, query)).await;
            if again.status != StatusCode::OK {
                // Rate-limited or the like: this request has nothing more to compare.
                return;
            }
            stored = again.raw;
        }
    }

    /// `GET /v1<model path>`, asserting success; the body's `data`. A 429 is waited out for
    /// its `Retry-After` and the request sent again, as a consumer (and the Kombo SDK) does: a
    /// test that polls in a tight loop would otherwise meet the per-key rate limit, which
    /// `rate_limit.rs` tests on its own.
    pub async fn list(&self, model: Model, integration: &str, query: &[(&str, &str)]) -> Value {
        let mut reply = self.get(model.api_path(), integration, query).await;
        for _ in 0..30 {
            if reply.status != StatusCode::TOO_MANY_REQUESTS {
                break;
            }
            let wait = reply
                .headers
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .expect("a 429 says when to come back");
            tokio::time::sleep(Duration::from_secs(wait)).await;
            reply = self.get(model.api_path(), integration, query).await;
        }
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "{} {query:?}: {:#}",
            model.api_path(),
            reply.body
        );
        assert_eq!(reply.body["status"], "success");
        assert!(reply.body["data"]["next"].is_null() || reply.body["data"]["next"].is_string());
        reply.body["data"].clone()
    }

    /// Every result of `model` for `query`, walking all pages of `page_size`.
    pub async fn all(&self, model: Model, integration: &str, query: &[(&str, &str)]) -> Vec<Value> {
        self.walk(model, integration, query, "250").await
    }

    pub async fn walk(&self, model: Model, integration: &str, query: &[(&str, &str)], page_size: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut q: Vec<(&str, &str)> = query.to_vec();
            q.push(("page_size", page_size));
            if let Some(c) = &cursor {
                q.push(("cursor", c));
            }
            let data = self.list(model, integration, &q).await;
            out.extend(data["results"].as_array().unwrap().iter().cloned());
            match data["next"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return out,
            }
        }
    }

    /// The ids of every result of `model` for `query`.
    pub async fn ids(&self, model: Model, integration: &str, query: &[(&str, &str)]) -> BTreeSet<String> {
        ids(&self.all(model, integration, query).await)
    }

    /// Every result of `model` by id (deleted ones too when `query` asks for them).
    pub async fn by_id(&self, model: Model, integration: &str, query: &[(&str, &str)]) -> BTreeMap<String, Value> {
        self.all(model, integration, query)
            .await
            .into_iter()
            .map(|r| (r["id"].as_str().unwrap().to_owned(), r))
            .collect()
    }
}

/// The gateway over `store` on a fresh port; its base URL.
pub async fn serve(store: Arc<dyn MirrorStore>, options: GatewayOptions, with_trigger: bool) -> String {
    serve_with_state(store, options, with_trigger).await.0
}

/// [`serve_with_state`], and a twin that renders every item live, unlimited (it is asked
/// whatever the tests ask the first): `(base, live twin's base, state)`.
pub async fn serve_pair(
    store: Arc<dyn MirrorStore>,
    options: GatewayOptions,
    with_trigger: bool,
) -> (String, String, GatewayState) {
    let live_options = GatewayOptions {
        stored_pages: false,
        rate_limit_per_second: None,
        ..options.clone()
    };
    let (live, _) = serve_with_state(store.clone(), live_options, false).await;
    let (base, state) = serve_with_state(store, options, with_trigger).await;
    (base, live, state)
}

/// [`serve`], with the gateway's state.
pub async fn serve_with_state(
    store: Arc<dyn MirrorStore>,
    options: GatewayOptions,
    with_trigger: bool,
) -> (String, GatewayState) {
    let mut state = GatewayState::new(store.clone(), CURSOR_KEY.to_vec());
    if with_trigger {
        state = state.with_sync_trigger(Arc::new(FleetTrigger {
            store: store.clone(),
            queue: Arc::new(MemoryQueue::new()),
            coordinator: Arc::new(EmbeddedCoordinator::new(store)),
        }));
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = router_with_options(state.clone(), options);
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, state)
}

pub async fn send(request: reqwest::RequestBuilder) -> Reply {
    let (reply, shown) = send_unchecked(request).await;
    assert!(
        !reply.body.is_string(),
        "{shown}: {}: not JSON: {}",
        reply.status,
        reply.body
    );
    // Kombo's 5xx mean "our fault"; only a missing sync trigger (503) is expected here.
    assert!(
        !reply.status.is_server_error() || reply.status == StatusCode::SERVICE_UNAVAILABLE,
        "{shown}: {}: {}",
        reply.status,
        reply.body
    );
    reply
}

/// The reply, whatever its status, and the request as text (for messages).
pub async fn send_unchecked(request: reqwest::RequestBuilder) -> (Reply, String) {
    let (client, request) = request.build_split();
    let request = request.expect("a valid request");
    let (method, url) = (request.method().clone(), request.url().clone());
    let response = client.execute(request).await.expect("the gateway answers");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let shown: String = url.as_str().chars().take(300).collect();
    // A body that is not JSON comes back as a JSON string, for the caller to judge.
    let body = serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text.clone()));
    (
        Reply {
            status,
            headers,
            body,
            raw: text,
        },
        format!("{method} {shown}"),
    )
}

pub fn ids(results: &[Value]) -> BTreeSet<String> {
    results.iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect()
}

/// The string at `value[key]`.
pub fn text<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}
