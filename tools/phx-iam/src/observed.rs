//! What exists, in one read: `GetAccountAuthorizationDetails` returns every
//! role with its trust policy, inline policies, attached policies and
//! instance profiles, so a converged cluster costs a single call.

use phx_aws::iam::types::EntityType;
use phx_aws::iam::Client;
use phx_aws::Sent;
use phx_core::Result;
use serde_json::Value;
use std::collections::HashMap;

#[derive(Debug, Clone, Default)]
pub struct RoleHave {
    pub arn: String,
    pub trust: Option<Value>,
    pub inline: HashMap<String, Value>,
    pub managed: Vec<String>,
    /// Instance profiles that contain the role: name to ARN.
    pub profiles: HashMap<String, String>,
}

/// Policy documents come URL-encoded from IAM.
pub fn decode_policy(text: &str) -> Option<Value> {
    let decoded = percent_encoding::percent_decode_str(text).decode_utf8().ok()?;
    serde_json::from_str(&decoded).ok()
}

/// The roles whose names are in `names`, by name.
pub async fn observe(iam: &Client, names: &[String]) -> Result<HashMap<String, RoleHave>> {
    let mut out = HashMap::new();
    let mut marker = None;
    loop {
        let page = iam
            .get_account_authorization_details()
            .filter(EntityType::Role)
            .set_marker(marker.take())
            .send()
            .await
            .phx_in("reading IAM roles")?;
        for r in page.role_detail_list() {
            let Some(name) = r.role_name().filter(|n| names.iter().any(|w| w == n)) else {
                continue;
            };
            out.insert(
                name.to_string(),
                RoleHave {
                    arn: r.arn().unwrap_or_default().to_string(),
                    trust: r.assume_role_policy_document().and_then(decode_policy),
                    inline: r
                        .role_policy_list()
                        .iter()
                        .filter_map(|p| {
                            Some((p.policy_name()?.to_string(), decode_policy(p.policy_document()?)?))
                        })
                        .collect(),
                    managed: r
                        .attached_managed_policies()
                        .iter()
                        .filter_map(|p| p.policy_arn())
                        .map(str::to_string)
                        .collect(),
                    profiles: r
                        .instance_profile_list()
                        .iter()
                        .map(|p| (p.instance_profile_name().to_string(), p.arn().to_string()))
                        .collect(),
                },
            );
        }
        match page.marker() {
            Some(m) if page.is_truncated() => marker = Some(m.to_string()),
            _ => return Ok(out),
        }
    }
}
