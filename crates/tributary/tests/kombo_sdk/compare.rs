//! The stored renderings' equivalence test on the SDK suites: a proxy in front of
//! `tributary serve` that forwards every request the SDK makes and answers with the server's
//! response, and asks each successful list page also of a gateway rendering every item live
//! (`tributary gateway --render-live`) on the same mirror. The two must be the same bytes.
//!
//! The suites change the simulated tools and force syncs while they read, so a sync can commit
//! between the two reads; a difference is asked again of both, and only one that persists is
//! reported. `Accept-Encoding` is not forwarded: the bodies compared are the JSON itself
//! (compression has tests of its own).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, StatusCode, header};
use axum::response::Response;

/// What the proxy compared.
#[derive(Debug, Default, Clone)]
pub struct Report {
    /// List pages answered 200 and compared with the live rendering.
    pub compared: usize,
    /// Those whose bytes differed every time they were asked: the request and where.
    pub differences: Vec<String>,
}

#[derive(Clone)]
struct Proxy {
    http: reqwest::Client,
    stored: String,
    live: String,
    report: Arc<Mutex<Report>>,
}

/// The proxy on a free loopback port: `(its base URL, its report)`.
pub async fn start(stored: String, live: String) -> (String, Arc<Mutex<Report>>) {
    let report = Arc::new(Mutex::new(Report::default()));
    let proxy = Proxy {
        http: reqwest::Client::new(),
        stored,
        live,
        report: report.clone(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("proxy port");
    let url = format!("http://{}", listener.local_addr().expect("proxy address"));
    let app = Router::new().fallback(forward).with_state(proxy);
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, report)
}

/// One answer, as received.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Proxy {
    async fn send(
        &self,
        base: &str,
        method: &axum::http::Method,
        target: &str,
        headers: &HeaderMap,
        body: &Bytes,
    ) -> Answer {
        let mut request = self.http.request(method.clone(), format!("{base}{target}"));
        for (name, value) in headers {
            if ![
                header::HOST,
                header::CONTENT_LENGTH,
                header::ACCEPT_ENCODING,
                header::CONNECTION,
            ]
            .contains(name)
            {
                request = request.header(name, value);
            }
        }
        let response = request
            .body(body.clone())
            .send()
            .await
            .expect("the gateway answers the proxy");
        Answer {
            status: response.status(),
            headers: response.headers().clone(),
            body: response.bytes().await.expect("the gateway's body"),
        }
    }

    /// Compares a stored page with the live rendering of the same request.
    async fn compare(
        &self,
        method: &axum::http::Method,
        target: &str,
        headers: &HeaderMap,
        body: &Bytes,
        first: &Answer,
    ) {
        let mut stored = first.body.clone();
        for attempt in 0..5 {
            let live = self.send(&self.live, method, target, headers, body).await;
            if live.status == StatusCode::OK && live.body == stored {
                self.report.lock().unwrap().compared += 1;
                return;
            }
            if attempt == 4 {
                let (a, b) = (String::from_utf8_lossy(&stored), String::from_utf8_lossy(&live.body));
                let at = a
                    .bytes()
                    .zip(b.bytes())
                    .position(|(x, y)| x != y)
                    .unwrap_or(a.len().min(b.len()));
                let excerpt = |s: &str| {
                    s.get(at.saturating_sub(120)..(at + 120).min(s.len()))
                        .unwrap_or("")
                        .to_owned()
                };
                let mut report = self.report.lock().unwrap();
                report.compared += 1;
                report.differences.push(format!(
                    "{method} {target}: live {} differs at byte {at}:\n stored: …{}…\n   live: …{}…",
                    live.status,
                    excerpt(&a),
                    excerpt(&b)
                ));
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            let again = self.send(&self.stored, method, target, headers, body).await;
            if again.status != StatusCode::OK {
                // Rate-limited or the like: nothing left to compare for this request.
                return;
            }
            stored = again.body;
        }
    }
}

async fn forward(State(proxy): State<Proxy>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = to_bytes(body, 16 * 1024 * 1024).await.expect("a request body");
    let target = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let answer = proxy
        .send(&proxy.stored, &parts.method, &target, &parts.headers, &body)
        .await;
    let is_list = target.starts_with("/v1/hris/") || target.starts_with("/v1/ats/");
    if parts.method == axum::http::Method::GET && is_list && answer.status == StatusCode::OK {
        proxy
            .compare(&parts.method, &target, &parts.headers, &body, &answer)
            .await;
    }
    let mut response = Response::builder().status(answer.status);
    for (name, value) in &answer.headers {
        let hop: [HeaderName; 3] = [header::CONTENT_LENGTH, header::TRANSFER_ENCODING, header::CONNECTION];
        if !hop.contains(name) {
            response = response.header(name, value);
        }
    }
    response.body(Body::from(answer.body)).expect("a response")
}
