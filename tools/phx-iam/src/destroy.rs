//! Deleting the cluster's roles and instance profiles: roles out of
//! profiles, profiles, inline policies, attached policies, then the roles.
//! What is already gone is fine; a second destroy changes nothing.

use crate::observed::RoleHave;
use phx_aws::iam::Client;
use phx_aws::{is_code, AwsError};
use phx_core::Result;

const GONE: &[&str] = &["NoSuchEntity"];

pub async fn role(iam: &Client, name: &str, have: Option<&RoleHave>) -> Result<()> {
    let mut profiles: Vec<String> = have
        .map(|h| h.profiles.keys().cloned().collect())
        .unwrap_or_default();
    if !profiles.iter().any(|p| p == name) {
        profiles.push(name.to_string());
    }
    for p in &profiles {
        if have.is_some_and(|h| h.profiles.contains_key(p)) {
            if let Err(e) = iam
                .remove_role_from_instance_profile()
                .instance_profile_name(p)
                .role_name(name)
                .send()
                .await
            {
                if !is_code(&e, GONE) {
                    return Err(e.into_phx().context(format!("taking {name} out of {p}")));
                }
            }
        }
        match iam
            .delete_instance_profile()
            .instance_profile_name(p)
            .send()
            .await
        {
            Ok(_) => tracing::info!("deleted instance profile {p}"),
            Err(e) if is_code(&e, GONE) => {}
            Err(e) => return Err(e.into_phx().context(format!("deleting instance profile {p}"))),
        }
    }
    let Some(have) = have else { return Ok(()) };
    for policy in have.inline.keys() {
        if let Err(e) = iam
            .delete_role_policy()
            .role_name(name)
            .policy_name(policy)
            .send()
            .await
        {
            if !is_code(&e, GONE) {
                return Err(e.into_phx().context(format!("deleting inline policy {policy}")));
            }
        }
    }
    for arn in &have.managed {
        if let Err(e) = iam
            .detach_role_policy()
            .role_name(name)
            .policy_arn(arn)
            .send()
            .await
        {
            if !is_code(&e, GONE) {
                return Err(e.into_phx().context(format!("detaching {arn}")));
            }
        }
    }
    match iam.delete_role().role_name(name).send().await {
        Ok(_) => tracing::info!("deleted role {name}"),
        Err(e) if is_code(&e, GONE) => {}
        Err(e) => return Err(e.into_phx().context(format!("deleting role {name}"))),
    }
    Ok(())
}
