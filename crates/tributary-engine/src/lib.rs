//! tributary-engine
