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

/// Issue 12, item 4: `bearer  KEY`, `BEARER KEY` ... each got a fresh bucket, so 600 requests
/// went through where 210 should have. Every spelling authentication accepts is one key, with
/// one budget.
async fn spellings_of_one_key_share_its_budget(b: Backend) {
    let options = GatewayOptions {
        rate_limit_per_second: Some(1),
        rate_limit_burst: 3,
        ..GatewayOptions::default()
    };
    let Some(api) = Api::start_with(b, options, true).await else {
        return;
    };
    let key = api.key.as_str();
    let spellings = [
        format!("Bearer {key}"),
        format!("bearer {key}"),
        format!("BEARER {key}"),
        format!("bEaReR {key}"),
        format!("Bearer  {key}"),
        format!("Bearer {key} "),
        format!("Bearer \t{key}"),
        format!("bearer   {key}  "),
    ];
    let call = |authorization: String| {
        send(
            api.http
                .get(api.url("/v1/hris/employees"))
                .header("Authorization", authorization)
                .header("X-Integration-Id", &api.personio)
                .query(&[("page_size", "1")]),
        )
    };
    // Three rounds of every spelling at once: 24 requests within well under a second.
    let mut replies = Vec::new();
    for _ in 0..3 {
        replies.extend(futures::future::join_all(spellings.iter().cloned().map(call)).await);
    }
    let allowed = replies.iter().filter(|r| r.status == 200).count();
    for refused in replies.iter().filter(|r| r.status != 200) {
        refused.assert_error(429, "PLATFORM.RATE_LIMIT_EXCEEDED");
        let retry: u64 = refused.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!(retry >= 1, "Retry-After {retry}");
    }
    // The burst of 3, plus at most one refill per second the rounds took on a slow machine.
    assert!(
        (3..=5).contains(&allowed),
        "{allowed} of {} requests went through; the budget is 3 (+1/s)",
        replies.len()
    );

    // A key no live key matches shares its budget across spellings too (it is refused with
    // 401 while it has budget, and 429 after).
    let unknown = "trb_not_a_key";
    let mut unknown_replies = Vec::new();
    for spelling in [
        format!("Bearer {unknown}"),
        format!("BEARER {unknown}"),
        format!("bearer  {unknown}"),
        format!("Bearer {unknown} "),
        format!("bearer {unknown}"),
        format!("BeArEr {unknown}"),
    ] {
        unknown_replies.push(call(spelling).await);
    }
    let unauthenticated = unknown_replies.iter().filter(|r| r.status == 401).count();
    assert!(
        (3..=5).contains(&unauthenticated),
        "{unauthenticated} of 6 reached authentication"
    );
    for reply in &unknown_replies {
        match reply.status.as_u16() {
            401 => reply.assert_error(401, "PLATFORM.AUTHENTICATION_INVALID"),
            _ => reply.assert_error(429, "PLATFORM.RATE_LIMIT_EXCEEDED"),
        }
    }
}

crate::on_both_backends!(each_key_is_limited_on_its_own, spellings_of_one_key_share_its_budget);
