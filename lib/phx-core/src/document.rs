//! The cluster document: the one JSON value every tool reads and writes.
//!
//! A tool parses it into typed views (metadata, spec with defaults, the
//! status parts it reads) but keeps the original JSON object and edits only
//! that: its own `status.<tool>` key and `.error`. Everything else, fields
//! this version of phx does not know included, leaves exactly as it came.

use crate::error::{Error, Result};
use crate::spec::Spec;
use crate::status::{Key, StageError, Status};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub const API_VERSION: &str = "phx/v1";
pub const KIND: &str = "Cluster";
/// The API group; a document of another group or major version is refused.
const GROUP: &str = "phx";
const MAJOR: &str = "v1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Metadata {
    /// The cluster name: lowercase letters, digits and `-`, starting with a
    /// letter, at most 32 characters (it prefixes AWS names and tags).
    pub name: String,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub labels: Map<String, Value>,
}

/// The typed shape of the whole document, used for the JSON Schema and by
/// tests that pin the schema; tools use [`Document`].
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(title = "phx cluster document")]
pub struct ClusterDocument {
    /// `phx/v1`.
    pub api_version: String,
    /// `Cluster`.
    pub kind: String,
    pub metadata: Metadata,
    #[serde(default)]
    pub spec: Spec,
    #[serde(default)]
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<StageError>,
}

/// A parsed, validated cluster document that remembers its exact JSON.
#[derive(Debug, Clone)]
pub struct Document {
    raw: Map<String, Value>,
    metadata: Metadata,
    spec: Spec,
}

impl Document {
    /// A new document with the given name and spec.
    pub fn new(name: &str, spec: &Spec) -> Result<Document> {
        validate_name(name).map_err(Error::usage)?;
        let mut raw = Map::new();
        raw.insert("apiVersion".into(), API_VERSION.into());
        raw.insert("kind".into(), KIND.into());
        raw.insert("metadata".into(), serde_json::json!({ "name": name }));
        raw.insert("spec".into(), to_value(spec));
        raw.insert("status".into(), Value::Object(Map::new()));
        Document::from_value(Value::Object(raw))
    }

    /// Parse and validate bytes as a cluster document (errors exit 65).
    pub fn from_slice(bytes: &[u8]) -> Result<Document> {
        let value: Value = serde_json::from_slice(bytes).map_err(|e| {
            let what = if e.is_eof() { "truncated JSON" } else { "not JSON" };
            Error::invalid(format!("{what}: {e}"))
        })?;
        Document::from_value(value)
    }

    /// Validate a JSON value as a cluster document (errors exit 65).
    pub fn from_value(value: Value) -> Result<Document> {
        let Value::Object(mut raw) = value else {
            return Err(Error::invalid("the document must be a JSON object"));
        };
        check_api_version(raw.get("apiVersion"))?;
        match raw.get("kind") {
            Some(Value::String(k)) if k == KIND => {}
            Some(other) => return Err(Error::invalid(format!("kind: expected \"{KIND}\", got {other}"))),
            None => return Err(Error::invalid(format!("kind: missing (expected \"{KIND}\")"))),
        }
        let metadata: Metadata = match raw.get("metadata") {
            None => return Err(Error::invalid("metadata.name: missing")),
            Some(m) if !m.is_object() => {
                return Err(Error::invalid(format!(
                    "metadata: must be an object, got {}",
                    kind_of(m)
                )))
            }
            Some(m) if m.get("name").is_none() => return Err(Error::invalid("metadata.name: missing")),
            Some(m) => typed("metadata", m)?,
        };
        validate_name(&metadata.name).map_err(|e| Error::invalid(format!("metadata.name: {e}")))?;
        let spec = match raw.get("spec") {
            None | Some(Value::Null) => Spec::default(),
            Some(s) => {
                shaped_like("spec", s, &to_value(&Spec::default()))?;
                typed("spec", s)?
            }
        };
        spec.validate()?;
        match raw.get_mut("status") {
            None | Some(Value::Null) => {}
            Some(Value::Object(status)) => upgrade_status(status),
            Some(_) => return Err(Error::invalid("status: must be an object")),
        }
        if let Some(e) = raw.get("error").filter(|e| !e.is_null()) {
            typed::<StageError>("error", e)?;
        }
        Ok(Document { raw, metadata, spec })
    }

    pub fn name(&self) -> &str {
        &self.metadata.name
    }

    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// The spec with every default filled in.
    pub fn spec(&self) -> &Spec {
        &self.spec
    }

    /// Edit the spec as JSON and re-read the typed view. Only `phx-state
    /// init` and `migrate` do this, to record where they put the state.
    pub fn edit_spec(&mut self, edit: impl FnOnce(&mut Map<String, Value>)) -> Result<()> {
        let slot = self
            .raw
            .entry("spec")
            .or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        if let Value::Object(m) = slot {
            edit(m);
        }
        self.spec = typed("spec", slot)?;
        Ok(())
    }

    /// `status.<key>` parsed as `T`; `Ok(None)` when absent or null.
    pub fn status<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        match self.status_value(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => typed(&format!("status.{key}"), v).map(Some),
        }
    }

    /// `status.<K>` as its type; any tool may read any key.
    pub fn get<K: Key>(&self) -> Result<Option<K::Value>> {
        self.status(K::NAME)
    }

    pub fn status_value(&self, key: &str) -> Option<&Value> {
        self.raw.get("status")?.get(key)
    }

    /// Writing goes through [`crate::stage::Mine`], the owner's handle.
    pub(crate) fn set_status<T: Serialize>(&mut self, key: &str, value: &T) {
        self.status_object().insert(key.to_string(), to_value(value));
    }

    pub(crate) fn remove_status(&mut self, key: &str) -> Option<Value> {
        self.status_object().remove(key)
    }

    pub(crate) fn status_object(&mut self) -> &mut Map<String, Value> {
        let slot = self
            .raw
            .entry("status")
            .or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        match slot {
            Value::Object(m) => m,
            _ => unreachable!("just made an object"),
        }
    }

    /// `.error`, set by the stage that failed.
    pub fn error(&self) -> Option<StageError> {
        let e = self.raw.get("error").filter(|e| !e.is_null())?;
        serde_json::from_value(e.clone()).ok()
    }

    pub fn set_error(&mut self, error: &StageError) {
        self.raw.insert("error".into(), to_value(error));
    }

    /// The exact JSON object, as it will be written.
    pub fn as_json(&self) -> &Map<String, Value> {
        &self.raw
    }

    pub fn into_json(self) -> Value {
        Value::Object(self.raw)
    }

    pub fn to_bytes(&self, pretty: bool) -> Vec<u8> {
        let mut out = if pretty {
            serde_json::to_vec_pretty(&self.raw)
        } else {
            serde_json::to_vec(&self.raw)
        }
        .expect("a JSON map always serializes");
        out.push(b'\n');
        out
    }

    /// A document made of this one's apiVersion, kind, metadata, spec and any
    /// unknown top-level fields, without `status` or `.error`: the user's
    /// desired state.
    pub fn desired(&self) -> Document {
        let mut raw = self.raw.clone();
        raw.remove("status");
        raw.remove("error");
        Document {
            raw,
            metadata: self.metadata.clone(),
            spec: self.spec.clone(),
        }
    }
}

/// The JSON Schema of the document, generated from the Rust types.
pub fn json_schema() -> Value {
    serde_json::to_value(schemars::schema_for!(ClusterDocument)).expect("schema serializes")
}

/// Status shapes an earlier phx stored, rewritten to today's, so every
/// reader (and the next push) sees one shape. The one exception to "what a
/// tool does not own leaves as it came": each rewrite keeps every value.
/// - `status.nodes` was the bare list of instances; it is now
///   `{instances, plan}`.
fn upgrade_status(status: &mut Map<String, Value>) {
    if let Some(nodes) = status.get_mut(crate::status::keys::NODES) {
        if nodes.is_array() {
            *nodes = serde_json::json!({ "instances": nodes.take() });
        }
    }
}

fn check_api_version(v: Option<&Value>) -> Result<()> {
    let Some(v) = v else {
        return Err(Error::invalid(format!(
            "apiVersion: missing (expected \"{API_VERSION}\")"
        )));
    };
    let Some(s) = v.as_str() else {
        return Err(Error::invalid(format!("apiVersion: expected a string, got {v}")));
    };
    let (group, version) = s.split_once('/').unwrap_or(("", s));
    // A minor evolution (phx/v1beta1 -> phx/v1) stays readable; another major does not.
    let major_ok = version == MAJOR
        || version
            .strip_prefix(MAJOR)
            .is_some_and(|rest| rest.starts_with("alpha") || rest.starts_with("beta"));
    if group != GROUP || !major_ok {
        return Err(Error::invalid(format!(
            "apiVersion: \"{s}\" is not supported by this phx (it reads \"{API_VERSION}\")"
        )));
    }
    Ok(())
}

fn validate_name(name: &str) -> std::result::Result<(), String> {
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    let starts = name.chars().next().is_some_and(|c| c.is_ascii_lowercase());
    if name.is_empty() || name.len() > 32 || !ok_chars || !starts || name.ends_with('-') {
        return Err(format!(
            "\"{name}\" is not a valid cluster name (1-32 of a-z, 0-9 and -, starting with a letter)"
        ));
    }
    Ok(())
}

/// Objects where the schema has objects. serde reads a struct from a JSON
/// array too (field by position), so `"spec": []` would pass as an empty
/// spec with every default: a typo'd document silently becoming the
/// reference cluster. `reference` is the default spec as JSON, which has
/// an object wherever the schema does.
fn shaped_like(at: &str, value: &Value, reference: &Value) -> Result<()> {
    let Value::Object(want) = reference else {
        return Ok(());
    };
    let Value::Object(got) = value else {
        return Err(Error::invalid(format!(
            "{at}: must be an object, got {}",
            kind_of(value)
        )));
    };
    for (k, v) in got {
        if let Some(r) = want.get(k).filter(|r| r.is_object()) {
            if !v.is_null() {
                shaped_like(&format!("{at}.{k}"), v, r)?;
            }
        }
    }
    Ok(())
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Deserialize a part of the document, naming the path of what is wrong.
fn typed<T: DeserializeOwned>(at: &str, value: &Value) -> Result<T> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let at = if path == "." {
            at.to_string()
        } else {
            format!("{at}.{path}")
        };
        Error::invalid(format!("{at}: {}", e.into_inner()))
    })
}

fn to_value<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).expect("phx status and spec types always serialize")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<Document> {
        Document::from_value(v)
    }

    #[test]
    fn unknown_fields_pass_through_untouched() {
        let v = json!({"apiVersion":"phx/v1","kind":"Cluster","metadata":{"name":"a","x":1},
            "spec":{"future":{"knob":true},"network":{"vpcCidr":"10.1.0.0/16","later":[1]}},
            "status":{"other":{"k":"v"}},"extra":"kept"});
        let mut d = parse(v.clone()).unwrap();
        d.set_status("mine", &json!({"id": 7}));
        let out = d.into_json();
        assert_eq!(out["spec"], v["spec"]);
        assert_eq!(out["metadata"], v["metadata"]);
        assert_eq!(out["extra"], "kept");
        assert_eq!(out["status"]["other"], v["status"]["other"]);
        assert_eq!(out["status"]["mine"]["id"], 7);
    }

    #[test]
    fn spec_defaults_fill_what_is_missing() {
        let d = parse(
            json!({"apiVersion":"phx/v1","kind":"Cluster","metadata":{"name":"a"},
            "spec":{"nodes":{"workers":{"count":5,"instanceType":"m5.large","diskGiB":80}}}}),
        )
        .unwrap();
        assert_eq!(d.spec().nodes.workers.count, 5);
        assert_eq!(d.spec().nodes.control_plane.instance_type, "t3.large");
        assert_eq!(d.spec().network.vpc_cidr, "10.0.0.0/16");
    }

    #[test]
    fn other_major_version_is_refused_but_a_beta_of_v1_is_read() {
        let doc = |v: &str| json!({"apiVersion":v,"kind":"Cluster","metadata":{"name":"a"}});
        assert!(parse(doc("phx/v1beta1")).is_ok());
        let e = parse(doc("phx/v2")).unwrap_err();
        assert_eq!(e.kind().code(), 65);
        assert!(e.to_string().contains("phx/v2"), "{e}");
        assert!(parse(doc("other/v1")).is_err());
    }

    #[test]
    fn wrong_types_name_their_path() {
        let e = parse(
            json!({"apiVersion":"phx/v1","kind":"Cluster","metadata":{"name":"a"},
            "spec":{"nodes":{"workers":{"count":"three","instanceType":"t3.large","diskGiB":50}}}}),
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("spec.nodes.workers.count: invalid type"),
            "{e}"
        );
    }

    #[test]
    fn names_are_checked() {
        for bad in ["", "Upper", "1abc", "a_b", "a-", &"a".repeat(33)] {
            let e = parse(json!({"apiVersion":"phx/v1","kind":"Cluster","metadata":{"name":bad}}));
            assert!(e.is_err(), "{bad:?} accepted");
        }
        let e = parse(json!({"apiVersion":"phx/v1","kind":"Cluster","metadata":{}})).unwrap_err();
        assert_eq!(e.to_string(), "metadata.name: missing");
    }

    #[test]
    fn objects_must_be_objects_and_regions_look_like_aws_regions() {
        let base = json!({"apiVersion":"phx/v1","kind":"Cluster","metadata":{"name":"a"}});
        let with = |path: &str, v: Value| {
            let mut d = base.clone();
            let mut at = &mut d;
            let parts: Vec<&str> = path.split('.').collect();
            for p in &parts[..parts.len() - 1] {
                at = &mut at[*p];
            }
            at[parts[parts.len() - 1]] = v;
            parse(d)
        };
        for (path, v, says) in [
            ("spec", json!([]), "spec: must be an object, got an array"),
            ("metadata", json!("a"), "metadata: must be an object"),
            ("spec.network", json!([]), "spec.network: must be an object"),
            (
                "spec.nodes.workers",
                json!([3]),
                "spec.nodes.workers: must be an object",
            ),
            ("spec.region", json!(""), "spec.region: \"\" is not an AWS region"),
            ("spec.region", json!("mars-north-9x"), "spec.region"),
            ("spec.region", json!("us-east-1; rm -rf /"), "spec.region"),
            ("spec.state.region", json!("EU"), "spec.state.region"),
        ] {
            let e = with(path, v).unwrap_err();
            assert_eq!(e.kind().code(), 65);
            assert!(e.to_string().starts_with(says), "{path}: {e}");
        }
        for ok in [
            "us-east-1",
            "eu-central-2",
            "ap-southeast-4",
            "us-gov-west-1",
            "il-central-1",
        ] {
            assert!(with("spec.region", json!(ok)).is_ok(), "{ok}");
        }
    }

    #[test]
    fn truncated_and_garbage_are_told_apart() {
        let e = Document::from_slice(br#"{"apiVersion":"phx/v1","kind"#).unwrap_err();
        assert!(e.to_string().starts_with("truncated JSON"), "{e}");
        let e = Document::from_slice(b"\x00\x01garbage").unwrap_err();
        assert!(e.to_string().starts_with("not JSON"), "{e}");
    }

    #[test]
    fn desired_drops_status_and_error_only() {
        let d = parse(
            json!({"apiVersion":"phx/v1","kind":"Cluster","metadata":{"name":"a"},
            "spec":{},"status":{"x":1},"error":{"tool":"phx-net","message":"boom"},"extra":2}),
        )
        .unwrap();
        assert_eq!(d.error().unwrap().tool, "phx-net");
        let out = d.desired().into_json();
        assert!(out.get("status").is_none() && out.get("error").is_none());
        assert_eq!(out["extra"], 2);
    }

    #[test]
    fn a_stored_bare_node_list_reads_as_instances() {
        let node = json!({"name":"a-worker-1","role":"worker","ssh":{"host":"h","user":"ubuntu"}});
        let old = json!({"apiVersion":"phx/v1","kind":"Cluster","metadata":{"name":"a"},
            "status":{"nodes":[node.clone()],"net":{"k":1}}});
        let d = parse(old).unwrap();
        let nodes = d.get::<crate::status::key::Nodes>().unwrap().unwrap();
        assert_eq!(nodes.instances.len(), 1);
        assert_eq!(nodes.instances[0].name, "a-worker-1");
        assert_eq!(d.as_json()["status"]["nodes"], json!({"instances":[node]}));
        assert_eq!(d.as_json()["status"]["net"], json!({"k":1}));
        // Today's shape is left as it is.
        let new = json!({"apiVersion":"phx/v1","kind":"Cluster","metadata":{"name":"a"},
            "status":{"nodes":{"instances":[],"plan":[]}}});
        assert_eq!(parse(new.clone()).unwrap().into_json(), new);
    }
}
