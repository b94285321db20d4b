//! Responses are compressed by `Accept-Encoding` (gzip, br, zstd): each decodes to the same
//! JSON as the plain response; without the header, or for a body under the threshold, the
//! response is plain.

use std::io::Read;

use serde_json::Value;
use tributary_gateway::compression::MIN_COMPRESSED_BYTES;

use crate::gateway::Api;
use crate::support::Backend;

fn decode(encoding: &str, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match encoding {
        "gzip" => flate2::read::GzDecoder::new(body).read_to_end(&mut out).unwrap(),
        "br" => brotli::Decompressor::new(body, 4096).read_to_end(&mut out).unwrap(),
        "zstd" => zstd::stream::read::Decoder::new(body)
            .unwrap()
            .read_to_end(&mut out)
            .unwrap(),
        other => panic!("unexpected encoding {other}"),
    };
    out
}

async fn each_encoding_decodes_to_the_same_json(b: Backend) {
    let Some(api) = Api::start(b).await else {
        return;
    };
    let page = |accept: Option<&'static str>| {
        let mut request = api.get_request("/hris/employees", &api.personio, &[("page_size", "50")]);
        if let Some(accept) = accept {
            request = request.header("accept-encoding", accept);
        }
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200);
            let headers = response.headers().clone();
            (headers, response.bytes().await.unwrap().to_vec())
        }
    };

    let (headers, plain) = page(None).await;
    assert!(headers.get("content-encoding").is_none(), "{headers:?}");
    assert!(
        plain.len() > usize::from(MIN_COMPRESSED_BYTES),
        "a page of 50 employees is {} bytes",
        plain.len()
    );
    let expected: Value = serde_json::from_slice(&plain).unwrap();
    assert_eq!(expected["data"]["results"].as_array().map(Vec::len), Some(50));

    for encoding in ["gzip", "br", "zstd"] {
        let (headers, body) = page(Some(encoding)).await;
        assert_eq!(headers["content-encoding"], encoding, "{headers:?}");
        assert!(
            headers["vary"]
                .to_str()
                .unwrap()
                .to_ascii_lowercase()
                .contains("accept-encoding"),
            "{headers:?}"
        );
        assert!(
            body.len() < plain.len() / 2,
            "{encoding}: {} of {} bytes",
            body.len(),
            plain.len()
        );
        let decoded: Value = serde_json::from_slice(&decode(encoding, &body)).unwrap();
        assert_eq!(decoded, expected, "{encoding}");
    }
    // The client's preference among several wins.
    let (headers, _) = page(Some("gzip;q=0.5, zstd;q=1.0")).await;
    assert_eq!(headers["content-encoding"], "zstd");
    // An encoding we do not offer leaves the body plain.
    let (headers, body) = page(Some("compress")).await;
    assert!(headers.get("content-encoding").is_none(), "{headers:?}");
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap(), expected);

    // Under the threshold the body stays plain, whatever the client accepts.
    let small = api
        .http
        .get(api.url("/v1/check-api-key"))
        .bearer_auth(&api.key)
        .header("accept-encoding", "gzip, br, zstd")
        .send()
        .await
        .unwrap();
    assert_eq!(small.status(), 200);
    assert!(small.headers().get("content-encoding").is_none());
    let body = small.bytes().await.unwrap();
    assert!(body.len() < usize::from(MIN_COMPRESSED_BYTES));
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap()["status"], "success");

    // The published document and the docs renderer are compressed too.
    let doc = api
        .http
        .get(api.url("/v1/openapi.json"))
        .header("accept-encoding", "br")
        .send()
        .await
        .unwrap();
    assert_eq!(doc.headers()["content-encoding"], "br");
    let doc: Value = serde_json::from_slice(&decode("br", &doc.bytes().await.unwrap())).unwrap();
    assert!(doc["paths"].is_object());
}

crate::on_both_backends!(each_encoding_decodes_to_the_same_json);
