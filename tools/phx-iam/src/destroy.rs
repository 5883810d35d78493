//! Deleting the cluster's roles and instance profiles: roles out of
//! profiles, profiles, inline policies, attached policies, then the roles.
//! What is already gone is fine; a second destroy changes nothing.

use crate::observed::RoleHave;
use futures::future::BoxFuture;
use phx_aws::iam::Client;
use phx_aws::AwsError;
use phx_core::Result;

const GONE: &[&str] = &["NoSuchEntity"];

pub async fn role(iam: &Client, name: &str, have: Option<&RoleHave>) -> Result<()> {
    let mut profiles: Vec<String> = have
        .map(|h| h.profiles.keys().cloned().collect())
        .unwrap_or_default();
    if !profiles.iter().any(|p| p == name) {
        profiles.push(name.to_string());
    }
    // Profiles, inline policies and attachments are independent: all at once.
    let mut steps: Vec<BoxFuture<'_, Result<()>>> = Vec::new();
    for p in profiles {
        let member = have.is_some_and(|h| h.profiles.contains_key(&p));
        steps.push(Box::pin(async move {
            if member {
                let out = iam
                    .remove_role_from_instance_profile()
                    .instance_profile_name(&p)
                    .role_name(name)
                    .send();
                gone_ok(out.await, || format!("taking {name} out of {p}"))?;
            }
            gone_ok(
                iam.delete_instance_profile()
                    .instance_profile_name(&p)
                    .send()
                    .await,
                || format!("deleting instance profile {p}"),
            )
        }));
    }
    let Some(have) = have else {
        return first_error(phx_aws::fan_out(steps).await);
    };
    for policy in have.inline.keys() {
        steps.push(Box::pin(async move {
            let out = iam
                .delete_role_policy()
                .role_name(name)
                .policy_name(policy)
                .send()
                .await;
            gone_ok(out, || format!("deleting inline policy {policy}"))
        }));
    }
    for arn in &have.managed {
        steps.push(Box::pin(async move {
            let out = iam
                .detach_role_policy()
                .role_name(name)
                .policy_arn(arn)
                .send()
                .await;
            gone_ok(out, || format!("detaching {arn}"))
        }));
    }
    first_error(phx_aws::fan_out(steps).await)?;
    gone_ok(iam.delete_role().role_name(name).send().await, || {
        format!("deleting role {name}")
    })?;
    tracing::info!("deleted role {name} and its instance profile");
    Ok(())
}

/// An error other than "no such entity" (already gone is done).
fn gone_ok<T>(result: std::result::Result<T, impl AwsError>, what: impl FnOnce() -> String) -> Result<()> {
    match result.map_err(AwsError::into_phx) {
        Ok(_) => Ok(()),
        Err(e) if e.has_code(GONE) => Ok(()),
        Err(e) => Err(e.context(what())),
    }
}

fn first_error(results: Vec<Result<()>>) -> Result<()> {
    results.into_iter().collect()
}
