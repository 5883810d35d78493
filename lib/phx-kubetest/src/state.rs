//! The stand-in's state and request handling, independent of HTTP: a
//! request is (method, path, query, body) and the answer (status, JSON).

use crate::readiness;
use crate::resources::{self, ResourceDef};
use crate::store::{self, Key, Stored};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

#[derive(Debug)]
pub struct State {
    pub resources: Vec<ResourceDef>,
    pub objects: BTreeMap<Key, Stored>,
    rv: u64,
    uid: u64,
    /// GETs of one object so far (readiness after N of them).
    pub polls: HashMap<Key, u32>,
    /// Workloads, nodes and Applications turn ready after this many GETs;
    /// `None`: never.
    pub ready_after: Option<u32>,
    /// Names of objects that never turn ready, whatever `ready_after` says
    /// (one stuck Application among ready ones).
    pub stuck: Vec<String>,
    /// Every request as `METHOD path?query`, in order.
    pub log: Vec<String>,
    /// Faults: each entry loses the answer to the next request whose log
    /// line starts with it (`"PATCH"`, `"GET /api/v1/nodes"`): the request
    /// is handled, then the connection closes without a reply, as when
    /// the load balancer drops a control plane's sessions.
    pub lose_answers: Vec<String>,
}

pub type Answer = (u16, Value);

impl State {
    pub fn new(ready_after: Option<u32>) -> State {
        let mut s = State {
            resources: resources::builtin(),
            objects: BTreeMap::new(),
            rv: 100,
            uid: 0,
            polls: HashMap::new(),
            ready_after,
            stuck: Vec::new(),
            log: Vec::new(),
            lose_answers: Vec::new(),
        };
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            s.put(
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
                "kube-apiserver",
            );
        }
        s
    }

    /// Store an object as `manager` (seeding nodes and the like; a CRD, as
    /// Argo CD syncing a chart would install it, is Established and served).
    pub fn put(&mut self, obj: Value, manager: &str) {
        let def = self
            .def_for(
                obj["apiVersion"].as_str().unwrap_or_default(),
                obj["kind"].as_str().unwrap_or_default(),
            )
            .unwrap_or_else(|| panic!("unknown kind in {obj}"));
        let ns = if def.namespaced {
            obj["metadata"]["namespace"].as_str().unwrap_or("default")
        } else {
            ""
        };
        let key = (
            def.group.clone(),
            def.plural.clone(),
            ns.to_string(),
            name_of(&obj),
        );
        let (uid, rv) = self.next();
        let mut stored = store::apply(self.objects.get(&key), &obj, manager, &uid, rv, &now());
        if def.kind == "CustomResourceDefinition" {
            self.establish(&stored);
            stored.value = establish_status(stored.value);
        }
        self.objects.insert(key, stored);
    }

    fn next(&mut self) -> (String, u64) {
        self.rv += 1;
        self.uid += 1;
        (format!("00000000-0000-4000-8000-{:012}", self.uid), self.rv)
    }

    pub fn def_for(&self, api_version: &str, kind: &str) -> Option<ResourceDef> {
        self.resources
            .iter()
            .find(|r| r.api_version() == api_version && r.kind == kind)
            .cloned()
    }

    fn def_by_path(&self, group: &str, version: &str, plural: &str) -> Option<ResourceDef> {
        self.resources
            .iter()
            .find(|r| r.group == group && r.version == version && r.plural == plural)
            .cloned()
    }

    pub fn get(&self, group: &str, plural: &str, ns: &str, name: &str) -> Option<&Value> {
        self.objects
            .get(&(group.into(), plural.into(), ns.into(), name.into()))
            .map(|s| &s.value)
    }

    /// Whether the answer to the request just handled (the log's last
    /// line) is to be lost (see [`State::lose_answers`]); consumes the fault.
    pub fn answer_lost(&mut self) -> bool {
        let Some(last) = self.log.last() else { return false };
        match self
            .lose_answers
            .iter()
            .position(|p| last.starts_with(p.as_str()))
        {
            Some(i) => {
                self.lose_answers.remove(i);
                true
            }
            None => false,
        }
    }

    pub fn handle(&mut self, method: &str, path: &str, query: &str, body: &[u8]) -> Answer {
        self.log.push(if query.is_empty() {
            format!("{method} {path}")
        } else {
            format!("{method} {path}?{query}")
        });
        let q: HashMap<String, String> = query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), decode(v)))
            .collect();
        let parts: Vec<&str> = path
            .trim_matches('/')
            .split('/')
            .filter(|p| !p.is_empty())
            .collect();
        match (method, parts.as_slice()) {
            ("GET", ["api"]) => (
                200,
                json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}),
            ),
            ("GET", ["apis"]) => (200, self.groups()),
            ("GET", ["version"]) => (
                200,
                json!({"major": "1", "minor": "34", "gitVersion": "v1.34.2-phx-standin"}),
            ),
            ("GET", ["api", "v1"]) => (200, self.resource_list("", "v1")),
            ("GET", ["apis", g, v]) => {
                if self.resources.iter().any(|r| r.group == *g && r.version == *v) {
                    (200, self.resource_list(g, v))
                } else {
                    not_found_path()
                }
            }
            _ => {
                let (group, version, rest) = match parts.as_slice() {
                    ["api", "v1", rest @ ..] => ("", "v1", rest),
                    ["apis", g, v, rest @ ..] => (*g, *v, rest),
                    _ => return not_found_path(),
                };
                let (ns, plural, name) = match rest {
                    ["namespaces", ns, plural, rest @ ..] => (Some(*ns), *plural, rest.first().copied()),
                    // `namespaces` and `namespaces/NAME`: the Namespace objects.
                    [plural, rest @ ..] => (None, *plural, rest.first().copied()),
                    [] => return not_found_path(),
                };
                let Some(def) = self.def_by_path(group, version, plural) else {
                    return not_found_path();
                };
                self.object_request(method, &def, ns, name, &q, body)
            }
        }
    }

    fn groups(&self) -> Value {
        let mut groups: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for r in self.resources.iter().filter(|r| !r.group.is_empty()) {
            let v = groups.entry(&r.group).or_default();
            if !v.contains(&r.version.as_str()) {
                v.push(&r.version);
            }
        }
        let groups: Vec<Value> = groups
            .iter()
            .map(|(g, vs)| {
                let versions: Vec<Value> = vs
                    .iter()
                    .map(|v| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
                    .collect();
                json!({"name": g, "versions": versions, "preferredVersion": versions[0]})
            })
            .collect();
        json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
    }

    fn resource_list(&self, group: &str, version: &str) -> Value {
        let gv = if group.is_empty() {
            version.to_string()
        } else {
            format!("{group}/{version}")
        };
        let resources: Vec<Value> = self
            .resources
            .iter()
            .filter(|r| r.group == group && r.version == version)
            .map(ResourceDef::discovery)
            .collect();
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources})
    }

    fn object_request(
        &mut self,
        method: &str,
        def: &ResourceDef,
        ns: Option<&str>,
        name: Option<&str>,
        q: &HashMap<String, String>,
        body: &[u8],
    ) -> Answer {
        let ns = if def.namespaced { ns.unwrap_or("") } else { "" };
        match (method, name) {
            ("GET", None) => {
                // A list is a poll of every object in it.
                let keys: Vec<Key> = self
                    .objects
                    .keys()
                    .filter(|(g, p, n, _)| *g == def.group && *p == def.plural && (ns.is_empty() || n == ns))
                    .cloned()
                    .collect();
                for k in keys {
                    self.poll(&k);
                }
                (
                    200,
                    self.list(def, ns, q.get("labelSelector").map(String::as_str)),
                )
            }
            ("GET", Some(name)) => {
                let key = (
                    def.group.clone(),
                    def.plural.clone(),
                    ns.to_string(),
                    name.to_string(),
                );
                if !self.objects.contains_key(&key) {
                    return not_found(def, name);
                }
                self.poll(&key);
                (200, with_api_version(&self.objects[&key].value, def))
            }
            ("PATCH", Some(name)) => self.apply(def, ns, name, q, body),
            ("DELETE", Some(name)) => self.delete(def, ns, name),
            _ => (
                405,
                status(
                    405,
                    "MethodNotAllowed",
                    &format!("{method} is not supported by the stand-in"),
                ),
            ),
        }
    }

    fn poll(&mut self, key: &Key) {
        let polls = self.polls.entry(key.clone()).or_default();
        *polls += 1;
        let polls = *polls;
        readiness::step(self, key, polls);
    }

    fn list(&self, def: &ResourceDef, ns: &str, selector: Option<&str>) -> Value {
        let items: Vec<Value> = self
            .objects
            .iter()
            .filter(|((g, p, n, _), _)| *g == def.group && *p == def.plural && (ns.is_empty() || n == ns))
            .map(|(_, s)| with_api_version(&s.value, def))
            .filter(|v| selector.is_none_or(|sel| matches(sel, &v["metadata"]["labels"])))
            .collect();
        json!({"kind": format!("{}List", def.kind), "apiVersion": def.api_version(),
               "metadata": {"resourceVersion": self.rv.to_string()}, "items": items})
    }

    fn apply(
        &mut self,
        def: &ResourceDef,
        ns: &str,
        name: &str,
        q: &HashMap<String, String>,
        body: &[u8],
    ) -> Answer {
        let Some(manager) = q.get("fieldManager") else {
            return (
                422,
                status(422, "Invalid", "PATCH: fieldManager is required for apply patch"),
            );
        };
        let config: Value = match serde_json::from_slice(body).or_else(|_| serde_yaml::from_slice(body)) {
            Ok(v) => v,
            Err(e) => {
                return (
                    400,
                    status(400, "BadRequest", &format!("error decoding patch: {e}")),
                )
            }
        };
        if config["apiVersion"] != def.api_version().as_str() || config["kind"] != def.kind.as_str() {
            return (
                400,
                status(
                    400,
                    "BadRequest",
                    "apiVersion and kind of the body must match the URL",
                ),
            );
        }
        if config["metadata"]["name"] != name {
            return (
                400,
                status(
                    400,
                    "BadRequest",
                    "the name of the object does not match the name on the URL",
                ),
            );
        }
        if def.namespaced {
            if ns.is_empty() {
                return (
                    400,
                    status(
                        400,
                        "BadRequest",
                        "a namespace is required for a namespaced resource",
                    ),
                );
            }
            if self.get("", "namespaces", "", ns).is_none() {
                return (
                    404,
                    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                    "message": format!("namespaces \"{ns}\" not found"), "reason": "NotFound",
                    "details": {"name": ns, "kind": "namespaces"}, "code": 404}),
                );
            }
        }
        let mut config = config;
        // Status is a subresource: the main resource ignores it on writes.
        if let Some(m) = config.as_object_mut() {
            m.remove("status");
        }
        if def.namespaced {
            config["metadata"]["namespace"] = json!(ns);
        }
        let key = (
            def.group.clone(),
            def.plural.clone(),
            ns.to_string(),
            name.to_string(),
        );
        let existed = self.objects.contains_key(&key);
        // Without force, a field another manager owns may not change hands.
        if q.get("force").is_none_or(|f| f != "true") {
            if let Some(old) = self.objects.get(&key) {
                if let Some(conflict) = store::conflict(old, &config, manager) {
                    return (
                        409,
                        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Conflict",
                        "message": format!("Apply failed with 1 conflict: conflict with \"{}\": .{}", conflict.0, conflict.1),
                        "details": {"name": name, "kind": def.plural}, "code": 409}),
                    );
                }
            }
        }
        let (uid, rv) = self.next();
        let stored = store::apply(self.objects.get(&key), &config, manager, &uid, rv, &now());
        let out = with_api_version(&stored.value, def);
        if q.get("dryRun").is_some_and(|d| d == "All") {
            return (if existed { 200 } else { 201 }, out);
        }
        let mut stored = stored;
        if def.kind == "CustomResourceDefinition" {
            self.establish(&stored);
            stored.value = establish_status(stored.value);
        }
        self.objects.insert(key.clone(), stored);
        let out = with_api_version(&self.objects[&key].value, def);
        (if existed { 200 } else { 201 }, out)
    }

    /// A CRD's types become served at once (Established).
    fn establish(&mut self, crd: &Stored) {
        for r in resources::from_crd(&crd.value) {
            if !self.resources.contains(&r) {
                self.resources.push(r);
            }
        }
    }

    fn delete(&mut self, def: &ResourceDef, ns: &str, name: &str) -> Answer {
        let key = (
            def.group.clone(),
            def.plural.clone(),
            ns.to_string(),
            name.to_string(),
        );
        let Some(gone) = self.objects.remove(&key) else {
            return not_found(def, name);
        };
        match def.kind.as_str() {
            // A namespace takes its objects with it.
            "Namespace" => self.objects.retain(|(_, _, n, _), _| n != name),
            // A CRD takes its type and its objects.
            "CustomResourceDefinition" => {
                let defs = resources::from_crd(&gone.value);
                self.resources.retain(|r| !defs.contains(r));
                self.objects
                    .retain(|(g, p, _, _), _| !defs.iter().any(|d| d.group == *g && d.plural == *p));
            }
            _ => {}
        }
        (
            200,
            json!({"kind": "Status", "apiVersion": "v1", "status": "Success",
                     "details": {"name": name, "kind": def.plural}}),
        )
    }
}

fn establish_status(mut crd: Value) -> Value {
    crd["status"] = json!({"conditions": [
        {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts"},
        {"type": "Established", "status": "True", "reason": "InitialNamesAccepted"}],
        "acceptedNames": crd["spec"]["names"].clone(),
        "storedVersions": crd["spec"]["versions"].as_array().map(|v| v.iter().map(|x| x["name"].clone()).collect::<Vec<_>>()).unwrap_or_default()});
    crd
}

fn with_api_version(v: &Value, def: &ResourceDef) -> Value {
    let mut v = v.clone();
    v["apiVersion"] = json!(def.api_version());
    v["kind"] = json!(def.kind);
    v
}

fn name_of(v: &Value) -> String {
    v["metadata"]["name"].as_str().unwrap_or_default().to_string()
}

/// Equality-based selectors: `a=b`, `a==b`, `a!=b`, `a`, `!a`, comma-joined.
pub fn matches(selector: &str, labels: &Value) -> bool {
    selector.split(',').filter(|s| !s.is_empty()).all(|req| {
        let label = |k: &str| labels.get(k.trim()).and_then(Value::as_str);
        if let Some((k, v)) = req.split_once("!=") {
            label(k) != Some(v.trim())
        } else if let Some((k, v)) = req.split_once("==").or_else(|| req.split_once('=')) {
            label(k) == Some(v.trim())
        } else if let Some(k) = req.strip_prefix('!') {
            label(k).is_none()
        } else {
            label(req).is_some()
        }
    })
}

fn decode(v: &str) -> String {
    let bytes = v.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": message, "reason": reason, "code": code})
}

fn not_found(def: &ResourceDef, name: &str) -> Answer {
    let group = if def.group.is_empty() {
        def.plural.clone()
    } else {
        format!("{}.{}", def.plural, def.group)
    };
    (
        404,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                 "message": format!("{group} \"{name}\" not found"), "reason": "NotFound",
                 "details": {"name": name, "group": def.group, "kind": def.plural}, "code": 404}),
    )
}

fn not_found_path() -> Answer {
    (
        404,
        status(
            404,
            "NotFound",
            "the server could not find the requested resource",
        ),
    )
}

fn now() -> String {
    "2026-11-27T00:00:00Z".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(st: &mut State, path: &str, q: &str, body: Value) -> Answer {
        st.handle("PATCH", path, q, body.to_string().as_bytes())
    }

    #[test]
    fn a_crd_is_established_and_served_and_its_objects_need_their_namespace() {
        let mut st = State::new(Some(1));
        let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced",
                     "names": {"kind": "Widget", "plural": "widgets"},
                     "versions": [{"name": "v1", "served": true, "storage": true}]}});
        let w = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}});
        let (code, _) = apply(
            &mut st,
            "/apis/example.com/v1/namespaces/default/widgets/w",
            "fieldManager=t",
            w.clone(),
        );
        assert_eq!(code, 404, "not served before its CRD");
        let (code, out) = apply(
            &mut st,
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com",
            "fieldManager=t",
            crd,
        );
        assert_eq!(code, 201);
        assert_eq!(out["status"]["conditions"][1]["type"], "Established");
        let (_, groups) = st.handle("GET", "/apis", "", b"");
        assert!(groups.to_string().contains("example.com/v1"));
        let (code, _) = apply(
            &mut st,
            "/apis/example.com/v1/namespaces/default/widgets/w",
            "fieldManager=t",
            w.clone(),
        );
        assert_eq!(code, 201);
        let (code, body) = apply(
            &mut st,
            "/apis/example.com/v1/namespaces/nope/widgets/w",
            "fieldManager=t",
            w,
        );
        assert_eq!((code, body["reason"].as_str()), (404, Some("NotFound")));
        assert_eq!(body["message"], "namespaces \"nope\" not found");
    }

    #[test]
    fn status_bodies_for_422_and_409_and_label_selectors() {
        let mut st = State::new(Some(1));
        let cm = |v: &str| {
            json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "labels": {"app": "x"}}, "data": {"k": v}})
        };
        let (code, body) = apply(&mut st, "/api/v1/namespaces/default/configmaps/c", "", cm("1"));
        assert_eq!(
            (code, body["kind"].as_str(), body["code"].as_u64()),
            (422, Some("Status"), Some(422))
        );
        assert_eq!(
            apply(
                &mut st,
                "/api/v1/namespaces/default/configmaps/c",
                "fieldManager=a",
                cm("1")
            )
            .0,
            201
        );
        let (code, body) = apply(
            &mut st,
            "/api/v1/namespaces/default/configmaps/c",
            "fieldManager=b",
            cm("2"),
        );
        assert_eq!((code, body["reason"].as_str()), (409, Some("Conflict")));
        assert_eq!(
            apply(
                &mut st,
                "/api/v1/namespaces/default/configmaps/c",
                "fieldManager=b&force=true",
                cm("2")
            )
            .0,
            200
        );
        let (_, list) = st.handle(
            "GET",
            "/api/v1/namespaces/default/configmaps",
            "labelSelector=app%3Dx",
            b"",
        );
        assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
        let (_, list) = st.handle("GET", "/api/v1/configmaps", "labelSelector=app%3Dy", b"");
        assert_eq!(list["items"].as_array().map(Vec::len), Some(0));
        assert_eq!(
            st.handle("DELETE", "/api/v1/namespaces/default/configmaps/c", "", b"")
                .0,
            200
        );
        assert_eq!(
            st.handle("GET", "/api/v1/namespaces/default/configmaps/c", "", b"")
                .0,
            404
        );
    }
}
