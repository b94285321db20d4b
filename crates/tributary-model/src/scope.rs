use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Model;

/// Kombo's scope setting for a model or field. `OPTIONAL` data points are stored unless the
/// customer opted out of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum ScopeSetting {
    #[default]
    Enabled,
    Disabled,
    Optional,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct FieldScope {
    pub id: String,
    #[serde(default)]
    pub scope_config_setting: ScopeSetting,
    #[serde(default)]
    pub opted_out_by_customer: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ModelScope {
    /// Kombo's read-model id, e.g. `hris_employees`.
    pub id: String,
    #[serde(default)]
    pub scope_config_setting: ScopeSetting,
    #[serde(default)]
    pub opted_out_by_customer: bool,
    #[serde(default)]
    pub fields: Vec<FieldScope>,
}

/// An integration's scope config, in the shape of Kombo's `read_models` (invariant I6).
/// Anything not listed is enabled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ScopeConfig {
    #[serde(default)]
    pub read_models: Vec<ModelScope>,
}

fn is_off(setting: ScopeSetting, opted_out: bool) -> bool {
    match setting {
        ScopeSetting::Enabled => false,
        ScopeSetting::Disabled => true,
        ScopeSetting::Optional => opted_out,
    }
}

#[derive(Debug, thiserror::Error)]
#[error("scope config names unknown read model `{0}`")]
pub struct UnknownReadModel(pub String);

impl ScopeConfig {
    /// Rejects configs that name models we do not know, so a typo cannot silently leave a
    /// sensitive model enabled.
    pub fn validate(&self) -> Result<(), UnknownReadModel> {
        for m in &self.read_models {
            if Model::from_scope_id(&m.id).is_none() {
                return Err(UnknownReadModel(m.id.clone()));
            }
        }
        Ok(())
    }

    fn model(&self, model: Model) -> Option<&ModelScope> {
        self.read_models.iter().find(|m| m.id == model.scope_id())
    }

    pub fn model_enabled(&self, model: Model) -> bool {
        self.model(model)
            .map(|m| !is_off(m.scope_config_setting, m.opted_out_by_customer))
            .unwrap_or(true)
    }

    /// The unified field names of `model` that must never reach storage.
    pub fn disabled_fields(&self, model: Model) -> Vec<&str> {
        self.model(model)
            .map(|m| {
                m.fields
                    .iter()
                    .filter(|f| is_off(f.scope_config_setting, f.opted_out_by_customer))
                    .map(|f| f.id.as_str())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn field_setting(&self, model: Model, field: &str) -> Option<&FieldScope> {
        self.model(model)?.fields.iter().find(|f| f.id == field)
    }

    /// Enabled/disabled state of every model, for `read_models` in integration details.
    pub fn summary(&self) -> BTreeMap<Model, bool> {
        Model::ALL.iter().map(|m| (*m, self.model_enabled(*m))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn optional_fields_are_off_only_when_opted_out() {
        let cfg: ScopeConfig = serde_json::from_value(json!({"read_models": [
            {"id": "hris_employees", "fields": [
                {"id": "ssn", "scope_config_setting": "DISABLED"},
                {"id": "date_of_birth", "scope_config_setting": "OPTIONAL", "opted_out_by_customer": true},
                {"id": "nationality", "scope_config_setting": "OPTIONAL"}
            ]},
            {"id": "hris_absences", "scope_config_setting": "DISABLED"}
        ]}))
        .unwrap();
        assert_eq!(cfg.disabled_fields(Model::Employees), vec!["ssn", "date_of_birth"]);
        assert!(!cfg.model_enabled(Model::Absences));
        assert!(cfg.model_enabled(Model::Employees));
        assert!(cfg.validate().is_ok());
    }
}
