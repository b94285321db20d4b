//! Case 1: every list endpoint answers for the integration of its category, and a cursor walk
//! of small pages returns exactly the rows of one big read, each once, in id order.

use serde_json::Value;
use tributary_model::{Category, Model};

use crate::gateway::{Api, ids};
use crate::schema;
use crate::support::Backend;

async fn every_list_endpoint_serves_and_pages(b: Backend) {
    let Some(api) = Api::start(b).await else {
        return;
    };
    let doc: Value = api
        .http
        .get(api.url("/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut violations = Vec::new();
    for &model in Model::ALL {
        let integrations: Vec<&str> = match model.category() {
            Category::Hris => vec![&api.personio, &api.bamboohr],
            Category::Ats => vec![&api.greenhouse],
        };
        for integration in integrations {
            let reply = api.get(model.api_path(), integration, &[("page_size", "250")]).await;
            let first = reply.body["data"].clone();
            assert_eq!(reply.status, 200, "{model}: {:#}", reply.body);
            // The whole response, as the served contract describes it.
            let response_schema =
                &doc["paths"][model.api_path()]["get"]["responses"]["200"]["content"]["application/json"]["schema"];
            assert!(response_schema.is_object(), "{model}: no response schema");
            for v in schema::violations(&doc, &reply.body, response_schema)
                .into_iter()
                .take(5)
            {
                violations.push(format!("{model} of {integration}: {v}"));
            }
            let page: Vec<&str> = first["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_str().expect("every result has an id"))
                .collect();
            // The simulator's companies have data for every model (see `generate.rs`).
            assert!(!page.is_empty(), "{model} of {integration} is empty");

            let big = api.walk(model, integration, &[], "250").await;
            let big_ids: Vec<&str> = big.iter().map(|r| r["id"].as_str().unwrap()).collect();
            assert!(
                big_ids.windows(2).all(|w| w[0] < w[1]),
                "{model}: pages of 250 are not in id order"
            );
            assert_eq!(
                &big_ids[..page.len()],
                page.as_slice(),
                "{model}: the first page starts the walk"
            );
            if first["next"].is_null() {
                assert_eq!(big_ids.len(), page.len(), "{model}: next was null yet more rows exist");
            } else {
                assert_eq!(page.len(), 250, "{model}: a page with a next cursor is full");
            }

            let small = api.walk(model, integration, &[], "7").await;
            let small_ids: Vec<&str> = small.iter().map(|r| r["id"].as_str().unwrap()).collect();
            assert_eq!(
                small_ids, big_ids,
                "{model} of {integration}: walks of 7 and of 250 differ"
            );
            assert_eq!(ids(&small).len(), small.len(), "{model}: an id came twice");

            // And both are the mirror's live rows.
            let live: Vec<String> = api.h.live(integration, model).await.into_iter().map(|r| r.id).collect();
            assert_eq!(
                small_ids, live,
                "{model} of {integration}: the API and the mirror differ"
            );
        }
    }

    // A last page that is exactly full says there is no next one.
    let total = api.ids(Model::Employees, &api.personio, &[]).await.len();
    let exact = total.to_string();
    assert!(
        api.list(Model::Employees, &api.personio, &[("page_size", &exact)])
            .await["next"]
            .is_null()
    );
    let half = (total / 2).to_string();
    let first = api.list(Model::Employees, &api.personio, &[("page_size", &half)]).await;
    let next = first["next"].as_str().expect("a second page");
    let second = api
        .list(
            Model::Employees,
            &api.personio,
            &[("page_size", &half), ("cursor", next)],
        )
        .await;
    assert_eq!(second["results"].as_array().unwrap().len(), total - total / 2);
    assert!(second["next"].is_null(), "{second:#}");

    assert!(
        violations.is_empty(),
        "responses break the served schema:\n{}",
        violations.join("\n")
    );
}

crate::on_both_backends!(every_list_endpoint_serves_and_pages);
