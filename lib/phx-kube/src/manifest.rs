//! Upstream manifests (multi-document YAML) as dynamic objects, and small
//! edits to them before they are applied.

use kube::api::DynamicObject;
use phx_core::{Error, Result};
use serde::Deserialize;

/// Every non-empty document of `text`.
pub fn parse(what: &str, text: &str) -> Result<Vec<DynamicObject>> {
    let mut out = Vec::new();
    for (i, doc) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let value = serde_json::Value::deserialize(doc)
            .map_err(|e| Error::failed(format!("{what}: document {}: {e}", i + 1)))?;
        if value.is_null() {
            continue;
        }
        let obj: DynamicObject = serde_json::from_value(value).map_err(|e| {
            Error::failed(format!(
                "{what}: document {}: not a Kubernetes object: {e}",
                i + 1
            ))
        })?;
        out.push(obj);
    }
    Ok(out)
}

/// `apiVersion` and `kind` of an object.
pub fn gvk(o: &DynamicObject) -> (String, String) {
    o.types
        .as_ref()
        .map(|t| (t.api_version.clone(), t.kind.clone()))
        .unwrap_or_default()
}

pub fn kind(o: &DynamicObject) -> String {
    gvk(o).1
}

/// `Kind namespace/name` (or `Kind name`), for messages and plans.
pub fn describe(o: &DynamicObject) -> String {
    let name = o.metadata.name.clone().unwrap_or_default();
    match &o.metadata.namespace {
        Some(ns) => format!("{} {ns}/{name}", kind(o)),
        None => format!("{} {name}", kind(o)),
    }
}
