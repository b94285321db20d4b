//! Gauges computed at scrape from the database and Redis (queue depths, open runs,
//! staleness), and their rendering.
//!
//! They are rendered here, not set on the recorder: a gauge set on the recorder stays until
//! the process ends, so an integration that left the N stalest would keep its last value
//! forever. Rendered per scrape, a scrape shows exactly the current set.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use async_trait::async_trait;

use crate::catalogue;

/// Computes a set of gauges at each scrape. Bounded by the exposition's timeout; an error or
/// a timeout is reported as `tributary_collector_up{collector="<name>"} 0`.
#[async_trait]
pub trait Collector: Send + Sync + 'static {
    /// The `collector` label of its status gauges.
    fn name(&self) -> &'static str;
    async fn collect(&self) -> Result<Families, String>;
}

/// A sample's labels, in the order given.
#[derive(Debug, Clone, Default)]
pub struct Labels(Vec<(&'static str, String)>);

impl Labels {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.0.push((name, value.into()));
        self
    }
}

/// Gauge families by metric name, each with its samples.
#[derive(Debug, Default)]
pub struct Families(BTreeMap<&'static str, Vec<(Labels, f64)>>);

impl Families {
    /// Adds a sample of the gauge `name` (a name of the catalogue).
    pub fn gauge(&mut self, name: &'static str, labels: Labels, value: f64) {
        self.0.entry(name).or_default().push((labels, value));
    }

    /// Samples of `name`, for tests of collectors.
    pub fn samples(&self, name: &str) -> &[(Labels, f64)] {
        self.0.get(name).map_or(&[], Vec::as_slice)
    }

    pub(crate) fn render_into(&self, out: &mut String) {
        for (name, samples) in &self.0 {
            let _ = writeln!(out, "# HELP {name} {}", catalogue::fleet_help(name));
            let _ = writeln!(out, "# TYPE {name} gauge");
            for (labels, value) in samples {
                out.push_str(name);
                if !labels.0.is_empty() {
                    out.push('{');
                    for (i, (label, v)) in labels.0.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        let _ = write!(out, "{label}=\"{}\"", escape(v));
                    }
                    out.push('}');
                }
                let _ = writeln!(out, " {value}");
            }
        }
    }
}

/// Label values escaped as the text format requires (integration ids are user-chosen).
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_escaped_labels_and_one_header_per_family() {
        let mut f = Families::default();
        f.gauge(catalogue::QUEUE_JOBS, Labels::new().with("queue", "a\"b\\c\nd"), 3.0);
        f.gauge(catalogue::QUEUE_JOBS, Labels::new().with("queue", "x"), 0.5);
        let mut out = String::new();
        f.render_into(&mut out);
        assert_eq!(
            out,
            "# HELP tributary_queue_jobs Jobs in each queue, by state.\n# TYPE tributary_queue_jobs gauge\n\
             tributary_queue_jobs{queue=\"a\\\"b\\\\c\\nd\"} 3\ntributary_queue_jobs{queue=\"x\"} 0.5\n"
        );
    }
}
