//! What a scope config may name: the read models of the integration's tool, and the fields
//! their read API responses show. A name outside them (`dateOfBirth`, `"ssn "`,
//! `home_address.city`) disables nothing, so it is refused rather than stored: a typo must
//! not leave data enabled that its author meant to switch off.

use tributary_model::{Model, ScopeConfig, ToolKind};

use crate::schema::shape;

/// Keys every record carries for bookkeeping: not data points a scope config switches.
pub(crate) const NOT_DATA_POINTS: &[&str] = &["id", "remote_id", "changed_at", "remote_deleted_at", "remote_data"];

/// The field ids a scope config may name for `model`: the top-level keys of its read API
/// response, bookkeeping keys aside.
pub fn scope_fields(model: Model) -> Vec<&'static str> {
    shape(model)
        .fields
        .iter()
        .map(|f| f.name.as_str())
        .filter(|name| !NOT_DATA_POINTS.contains(name))
        .collect()
}

/// The read models of `tool`, as scope configs name them.
pub fn scope_models(tool: ToolKind) -> Vec<&'static str> {
    Model::ALL
        .iter()
        .filter(|m| m.category() == tool.category())
        .map(|m| m.scope_id())
        .collect()
}

/// Names in a scope config that `tool` does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct UnknownScopeNames {
    pub tool: ToolKind,
    /// Read-model ids that are not models of the tool.
    pub models: Vec<String>,
    /// `(read model id, field id)` pairs whose field the model does not have.
    pub fields: Vec<(String, String)>,
}

impl UnknownScopeNames {
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.models.is_empty() {
            let names: Vec<String> = self.models.iter().map(|m| format!("{m:?}")).collect();
            parts.push(format!(
                "{} has no read model {} (its read models: {})",
                self.tool.as_str(),
                names.join(", "),
                scope_models(self.tool).join(", ")
            ));
        }
        let mut models: Vec<&str> = self.fields.iter().map(|(m, _)| m.as_str()).collect();
        models.dedup();
        for model in models {
            let names: Vec<String> = self
                .fields
                .iter()
                .filter(|(m, _)| m == model)
                .map(|(_, f)| format!("{f:?}"))
                .collect();
            let known = Model::from_scope_id(model).map(scope_fields).unwrap_or_default();
            parts.push(format!(
                "`{model}` has no field {} (its fields: {})",
                names.join(", "),
                known.join(", ")
            ));
        }
        parts.join("; ")
    }
}

/// Checks every model and field `scope` names against `tool`'s read models and their fields.
pub fn check_scope_names(tool: ToolKind, scope: &ScopeConfig) -> Result<(), UnknownScopeNames> {
    let mut unknown = UnknownScopeNames {
        tool,
        models: Vec::new(),
        fields: Vec::new(),
    };
    for entry in &scope.read_models {
        let Some(model) = Model::from_scope_id(&entry.id).filter(|m| m.category() == tool.category()) else {
            unknown.models.push(entry.id.clone());
            continue;
        };
        let known = scope_fields(model);
        unknown.fields.extend(
            entry
                .fields
                .iter()
                .filter(|f| !known.contains(&f.id.as_str()))
                .map(|f| (entry.id.clone(), f.id.clone())),
        );
    }
    if unknown.models.is_empty() && unknown.fields.is_empty() {
        Ok(())
    } else {
        Err(unknown)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn scope(value: serde_json::Value) -> ScopeConfig {
        serde_json::from_value(value).expect("scope shape")
    }

    #[test]
    fn names_outside_the_tool_are_named() {
        let bad = scope(json!({"read_models": [
            {"id": "hris_employees", "fields": [
                {"id": "dateOfBirth", "scope_config_setting": "DISABLED"},
                {"id": "ssn ", "scope_config_setting": "DISABLED"},
                {"id": "home_address.city", "scope_config_setting": "DISABLED"},
                {"id": "date_of_birth", "scope_config_setting": "DISABLED"}
            ]},
            {"id": "ats_jobs", "scope_config_setting": "DISABLED"}
        ]}));
        let err = check_scope_names(ToolKind::Personio, &bad).unwrap_err();
        assert_eq!(err.models, vec!["ats_jobs"]);
        let fields: Vec<&str> = err.fields.iter().map(|(_, f)| f.as_str()).collect();
        assert_eq!(fields, vec!["dateOfBirth", "ssn ", "home_address.city"]);
        let message = err.to_string();
        for name in [
            "\"dateOfBirth\"",
            "\"ssn \"",
            "\"home_address.city\"",
            "\"ats_jobs\"",
            "date_of_birth",
        ] {
            assert!(message.contains(name), "{name} in {message}");
        }

        let good = scope(json!({"read_models": [{"id": "hris_employees", "fields": [
            {"id": "date_of_birth", "scope_config_setting": "DISABLED"},
            {"id": "custom_fields", "scope_config_setting": "DISABLED"},
            {"id": "home_address", "scope_config_setting": "DISABLED"}
        ]}]}));
        assert_eq!(check_scope_names(ToolKind::Personio, &good), Ok(()));
        assert!(
            check_scope_names(ToolKind::Greenhouse, &good).is_err(),
            "an HRIS model of an ATS"
        );
    }

    #[test]
    fn every_model_has_fields_to_switch() {
        for &model in Model::ALL {
            let fields = scope_fields(model);
            assert!(!fields.is_empty(), "{model}");
            assert!(fields.iter().all(|f| !NOT_DATA_POINTS.contains(f)));
        }
    }
}
