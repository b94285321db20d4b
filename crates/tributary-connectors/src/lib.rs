//! tributary-connectors
