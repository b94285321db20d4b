//! tributary-gateway
