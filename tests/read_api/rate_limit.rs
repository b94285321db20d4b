//! Case 9: the per-key rate limit through the real router.

use tributary_gateway::{GatewayOptions, generate_api_key, hash_api_key};

use crate::gateway::{Api, ENVIRONMENT, send};
use crate::support::Backend;

async fn each_key_is_limited_on_its_own(b: Backend) {
    let options = GatewayOptions {
        rate_limit_per_second: Some(1),
        rate_limit_burst: 2,
        ..GatewayOptions::default()
    };
    let Some(api) = Api::start_with(b, options, true).await else {
        return;
    };
    let other = generate_api_key();
    api.h
        .store
        .create_api_key(ENVIRONMENT, "second", &hash_api_key(&other))
        .await
        .unwrap();

    let call = |key: &str| {
        send(
            api.http
                .get(api.url("/v1/hris/employees"))
                .bearer_auth(key)
                .header("X-Integration-Id", &api.personio)
                .query(&[("page_size", "1")]),
        )
    };
    // Three at once, so a slow machine cannot stretch them over the one-second refill.
    let (a, b, c) = tokio::join!(call(&api.key), call(&api.key), call(&api.key));
    let mut replies = vec![a, b, c];
    replies.sort_by_key(|r| {
        (
            r.status.as_u16(),
            r.headers
                .get("x-ratelimit-remaining")
                .map(|v| v.to_str().unwrap().to_owned()),
        )
    });
    let third = replies.pop().unwrap();
    for ok in &replies {
        assert_eq!(ok.status, 200, "{:#}", ok.body);
        assert_eq!(ok.headers["x-ratelimit-limit"], "1");
    }
    let remaining: Vec<&str> = replies
        .iter()
        .map(|r| r.headers["x-ratelimit-remaining"].to_str().unwrap())
        .collect();
    assert_eq!(remaining, ["0", "1"]);
    third.assert_error(429, "PLATFORM.RATE_LIMIT_EXCEEDED");
    let retry: u64 = third.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "Retry-After {retry}");
    assert_eq!(third.headers["x-ratelimit-limit"], "1");
    assert_eq!(third.headers["x-ratelimit-remaining"], "0");
    assert!(
        third.headers["x-ratelimit-reset"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );

    // Another key is not affected.
    let fresh = call(&other).await;
    assert_eq!(fresh.status, 200, "{:#}", fresh.body);
    assert_eq!(fresh.headers["x-ratelimit-remaining"], "1");

    // And the first key gets a request again once the window allows it.
    tokio::time::sleep(std::time::Duration::from_secs(retry)).await;
    assert_eq!(call(&api.key).await.status, 200);
}

crate::on_both_backends!(each_key_is_limited_on_its_own);
