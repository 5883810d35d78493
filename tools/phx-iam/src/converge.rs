//! From what exists to what is wanted, for one role: the plan (shown by
//! `plan`, stored in the document) and its execution (by `apply`) come from
//! the same [`RolePlan`], so they cannot disagree.

use crate::desired::{assume_role_policy, RoleWant};
use crate::observed::RoleHave;
use phx_aws::iam::types::Tag;
use phx_aws::iam::Client;
use phx_aws::retry::retry;
use phx_aws::{AwsError, ClusterTags, Sent};
use phx_core::status::{NodeIdentity, PlannedChange};
use phx_core::{Error, Result};
use std::time::Duration;

#[derive(Debug, Default)]
pub struct RolePlan {
    pub create_role: bool,
    pub update_trust: bool,
    pub put: Vec<String>,
    pub delete: Vec<String>,
    pub attach: Vec<String>,
    pub detach: Vec<String>,
    pub create_profile: bool,
    pub add_to_profile: bool,
}

impl RolePlan {
    pub fn new(want: &RoleWant, have: Option<&RoleHave>, partition: &str) -> RolePlan {
        let empty = RoleHave::default();
        let h = have.unwrap_or(&empty);
        let trust = assume_role_policy(partition);
        let in_profile = h.profiles.contains_key(&want.name);
        RolePlan {
            create_role: have.is_none(),
            update_trust: have.is_some() && h.trust.as_ref() != Some(&trust),
            put: want
                .inline
                .iter()
                .filter(|(n, doc)| h.inline.get(n) != Some(doc))
                .map(|(n, _)| n.clone())
                .collect(),
            delete: h
                .inline
                .keys()
                .filter(|n| !want.inline.iter().any(|(w, _)| w == *n))
                .cloned()
                .collect(),
            attach: want
                .managed
                .iter()
                .filter(|a| !h.managed.contains(a))
                .cloned()
                .collect(),
            detach: h
                .managed
                .iter()
                .filter(|a| !want.managed.contains(a))
                .cloned()
                .collect(),
            // A profile without the role does not show under the role; an
            // "already exists" on create is taken as found (see execute).
            create_profile: !in_profile,
            add_to_profile: !in_profile,
        }
    }

    pub fn changes(&self, want: &RoleWant) -> Vec<PlannedChange> {
        let role = |action: &str, detail: String| PlannedChange::new(action, "iam-role", &want.name, detail);
        let mut out = Vec::new();
        if self.create_role {
            out.push(role("create", String::new()));
        }
        if self.update_trust {
            out.push(role("change", "trust policy: ec2 may assume it".into()));
        }
        out.extend(
            self.put
                .iter()
                .map(|p| role("change", format!("put inline policy {p}"))),
        );
        out.extend(
            self.delete
                .iter()
                .map(|p| role("change", format!("delete inline policy {p}"))),
        );
        out.extend(self.attach.iter().map(|p| role("change", format!("attach {p}"))));
        out.extend(self.detach.iter().map(|p| role("change", format!("detach {p}"))));
        if self.create_profile {
            out.push(PlannedChange::new(
                "create",
                "instance-profile",
                &want.name,
                format!("with role {}", want.name),
            ));
        }
        out
    }

    /// Make it so, and say what the role and profile are.
    pub async fn execute(
        &self,
        iam: &Client,
        tags: &ClusterTags,
        want: &RoleWant,
        have: Option<&RoleHave>,
        partition: &str,
    ) -> Result<NodeIdentity> {
        let iam_tags = || -> Vec<Tag> {
            tags.owned(&format!("iam/{}", want.component), want.component)
                .into_iter()
                .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
                .collect()
        };
        let trust = assume_role_policy(partition).to_string();
        let role_arn = async {
            if !self.create_role {
                if self.update_trust {
                    iam.update_assume_role_policy()
                        .role_name(&want.name)
                        .policy_document(&trust)
                        .send()
                        .await
                        .phx_in("updating the trust policy")?;
                }
                return Ok(have.map(|h| h.arn.clone()).unwrap_or_default());
            }
            let created = iam
                .create_role()
                .role_name(&want.name)
                .assume_role_policy_document(&trust)
                .description(format!(
                    "phx: Kubernetes {} nodes of cluster {}",
                    want.component,
                    tags.cluster()
                ))
                .set_tags(Some(iam_tags()))
                .send()
                .await;
            match created {
                Ok(out) => Ok(out.role().map(|r| r.arn().to_string()).unwrap_or_default()),
                Err(e) if phx_aws::is_code(&e, &["EntityAlreadyExists"]) => {
                    let got = iam
                        .get_role()
                        .role_name(&want.name)
                        .send()
                        .await
                        .phx_in("reading the role")?;
                    Ok(got.role().map(|r| r.arn().to_string()).unwrap_or_default())
                }
                Err(e) => Err(e.into_phx().context("creating the role")),
            }
        };
        let profile_arn = async {
            if !self.create_profile {
                return Ok(have
                    .and_then(|h| h.profiles.get(&want.name).cloned())
                    .unwrap_or_default());
            }
            let created = iam
                .create_instance_profile()
                .instance_profile_name(&want.name)
                .set_tags(Some(iam_tags()))
                .send()
                .await;
            match created {
                Ok(out) => Ok(out
                    .instance_profile()
                    .map(|p| p.arn().to_string())
                    .unwrap_or_default()),
                Err(e) if phx_aws::is_code(&e, &["EntityAlreadyExists"]) => {
                    let got = iam
                        .get_instance_profile()
                        .instance_profile_name(&want.name)
                        .send()
                        .await
                        .phx_in("reading the instance profile")?;
                    Ok(got
                        .instance_profile()
                        .map(|p| p.arn().to_string())
                        .unwrap_or_default())
                }
                Err(e) => Err(e.into_phx().context("creating the instance profile")),
            }
        };
        let (role_arn, profile_arn): (String, String) = tokio::try_join!(role_arn, profile_arn)?;

        // The role now exists: everything else at once.
        let mut calls: Vec<futures::future::BoxFuture<'_, Result<()>>> = Vec::new();
        for name in &self.put {
            let doc = want
                .inline
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, d)| d.to_string())
                .unwrap_or_default();
            calls.push(Box::pin(async move {
                iam.put_role_policy()
                    .role_name(&want.name)
                    .policy_name(name)
                    .policy_document(doc)
                    .send()
                    .await
                    .map(|_| ())
                    .phx_in(format!("putting inline policy {name}"))
            }));
        }
        for name in &self.delete {
            calls.push(Box::pin(async move {
                iam.delete_role_policy()
                    .role_name(&want.name)
                    .policy_name(name)
                    .send()
                    .await
                    .map(|_| ())
                    .phx_in(format!("deleting inline policy {name}"))
            }));
        }
        for arn in &self.attach {
            calls.push(Box::pin(async move {
                iam.attach_role_policy()
                    .role_name(&want.name)
                    .policy_arn(arn)
                    .send()
                    .await
                    .map(|_| ())
                    .phx_in(format!("attaching {arn}"))
            }));
        }
        for arn in &self.detach {
            calls.push(Box::pin(async move {
                iam.detach_role_policy()
                    .role_name(&want.name)
                    .policy_arn(arn)
                    .send()
                    .await
                    .map(|_| ())
                    .phx_in(format!("detaching {arn}"))
            }));
        }
        if self.add_to_profile {
            calls.push(Box::pin(async move {
                let added = iam
                    .add_role_to_instance_profile()
                    .instance_profile_name(&want.name)
                    .role_name(&want.name)
                    .send()
                    .await;
                match added {
                    Ok(_) => Ok(()),
                    Err(e) if phx_aws::is_code(&e, &["LimitExceeded", "EntityAlreadyExists"]) => Ok(()),
                    Err(e) => Err(e.into_phx().context("adding the role to its instance profile")),
                }
            }));
        }
        let results = phx_aws::fan_out(calls).await;
        if let Some(e) = results.into_iter().find_map(Result::err) {
            return Err(e);
        }
        if self.add_to_profile {
            wait_usable(iam, &want.name).await?;
        }
        let mut policies: Vec<String> = want.inline.iter().map(|(n, _)| n.clone()).collect();
        policies.extend(want.managed.iter().cloned());
        Ok(NodeIdentity {
            role: want.name.clone(),
            role_arn,
            instance_profile: want.name.clone(),
            instance_profile_arn: profile_arn,
            policies,
        })
    }
}

/// IAM is eventually consistent: an instance launched with a profile that
/// is not visible yet fails ("Invalid IAM Instance Profile"). Wait until a
/// read shows the profile with its role.
async fn wait_usable(iam: &Client, name: &str) -> Result<()> {
    retry(
        "waiting for the instance profile",
        Duration::from_secs(120),
        |e| e.has_code(&["NoSuchEntity", "NotYet"]),
        || async {
            let got = iam
                .get_instance_profile()
                .instance_profile_name(name)
                .send()
                .await
                .phx()?;
            let has_role = got
                .instance_profile()
                .is_some_and(|p| p.roles().iter().any(|r| r.role_name() == name));
            if has_role {
                Ok(())
            } else {
                Err(
                    Error::failed(format!("instance profile {name} does not show its role yet"))
                        .with_code("NotYet"),
                )
            }
        },
    )
    .await
}
