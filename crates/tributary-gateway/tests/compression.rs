//! The compression layer every API of the process runs under: a large JSON body is
//! compressed, a server-sent event stream never is (each event must reach the client when it
//! is sent, which an encoder's buffering would delay).

use std::time::Duration;

use axum::Router;
use axum::response::sse::{Event, Sse};
use axum::routing::get;
use futures::StreamExt;

const PAYLOAD_BYTES: usize = 4 * 1024;

async fn serve() -> String {
    let big = "x".repeat(PAYLOAD_BYTES);
    let event_data = big.clone();
    let app = Router::new()
        .route(
            "/big",
            get(move || async move { axum::Json(serde_json::json!({ "data": big })) }),
        )
        .route(
            "/events",
            get(move || async move {
                // One event now, then the stream stays open, as a live feed does.
                let first = futures::stream::once(async move {
                    Ok::<_, std::convert::Infallible>(Event::default().data(event_data))
                });
                Sse::new(first.chain(futures::stream::pending()))
            }),
        )
        .layer(tributary_gateway::compression::layer());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

#[tokio::test]
async fn json_is_compressed_and_event_streams_are_not() {
    let base = serve().await;
    let http = reqwest::Client::new();

    let big = http
        .get(format!("{base}/big"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(big.headers()["content-encoding"], "gzip");
    assert!(big.bytes().await.unwrap().len() < PAYLOAD_BYTES / 4);

    let mut events = http
        .get(format!("{base}/events"))
        .header("accept-encoding", "gzip, br, zstd")
        .send()
        .await
        .unwrap();
    assert_eq!(events.headers()["content-type"], "text/event-stream");
    assert!(
        events.headers().get("content-encoding").is_none(),
        "{:?}",
        events.headers()
    );
    // The first event arrives, in the clear, while the stream is still open.
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !seen.ends_with(b"\n\n") {
        let chunk = tokio::time::timeout_at(deadline, events.chunk())
            .await
            .expect("the first event within the deadline")
            .unwrap()
            .expect("the stream stays open");
        seen.extend_from_slice(&chunk);
    }
    let text = String::from_utf8(seen).unwrap();
    assert!(
        text.starts_with("data: xxxx") && text.len() > PAYLOAD_BYTES,
        "{}",
        &text[..40]
    );
}
