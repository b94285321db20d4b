//! How listing commands (`runs`, `integration list`) print: aligned columns for a person, or
//! one JSON document (`--output json`) for jq and scripts.

use serde::Serialize;
use tributary_store::{Integration, SyncRun};

/// The whole listing as one pretty JSON document on stdout (an empty listing is `[]`).
pub fn print_json<T: Serialize>(items: &[T]) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(items)?);
    Ok(())
}

/// Columns padded to their widest cell; the last column is not padded. A header alone says
/// the listing is empty.
pub fn print_table(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> anyhow::Result<()> {
    let rows: Vec<Vec<String>> = rows.collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut out = String::new();
        for (i, (cell, width)) in cells.zip(&widths).enumerate() {
            if i + 1 == widths.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<width$}  "));
            }
        }
        out.trim_end().to_owned()
    };
    println!("{}", line(&mut header.iter().copied()));
    for row in &rows {
        println!("{}", line(&mut row.iter().map(String::as_str)));
    }
    Ok(())
}

pub fn run_row(run: &SyncRun) -> Vec<String> {
    let took = match (run.started_at, run.ended_at) {
        (Some(start), Some(end)) => format!("{:.1}s", (end - start).num_milliseconds() as f64 / 1000.0),
        _ => "-".to_owned(),
    };
    let c = run.counts;
    vec![
        run.id.clone(),
        run.sync_type.as_str().to_owned(),
        run.state.as_str().to_owned(),
        run.started_at
            .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_else(|| "-".to_owned()),
        took,
        c.pages_fetched.to_string(),
        c.created.to_string(),
        c.updated.to_string(),
        c.deleted.to_string(),
        run.error.clone().unwrap_or_default(),
    ]
}

/// An integration as `integration list --output json` shows it: never its credentials.
#[derive(Serialize)]
pub struct IntegrationJson<'a> {
    id: &'a str,
    tool: &'a str,
    environment: &'a str,
    base_url: &'a str,
    scope_version: i64,
    created_at: String,
}

pub fn integration_json(i: &Integration) -> IntegrationJson<'_> {
    IntegrationJson {
        id: &i.id,
        tool: i.tool.as_str(),
        environment: &i.environment,
        base_url: &i.base_url,
        scope_version: i.scope_version,
        created_at: i.created_at.to_rfc3339(),
    }
}

pub fn integration_row(i: &Integration) -> Vec<String> {
    vec![
        i.id.clone(),
        i.tool.as_str().to_owned(),
        i.environment.clone(),
        i.base_url.clone(),
        i.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
    ]
}
