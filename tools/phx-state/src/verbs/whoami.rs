//! `phx-state whoami`: who the AWS credentials say you are, before a
//! pipeline finds out halfway (deploy.sh's pre-flight check).

use phx_aws::AwsError;
use phx_core::{io, Error, Result};
use serde_json::json;

pub async fn whoami(region: Option<String>) -> Result<()> {
    let aws = phx_aws::load(region.as_deref()).await?;
    let id = aws.sts().get_caller_identity().send().await.map_err(|e| {
        e.into_phx()
            .context("no working AWS credentials (sts get-caller-identity)")
    })?;
    let (Some(account), Some(arn)) = (id.account(), id.arn()) else {
        return Err(Error::failed(
            "sts get-caller-identity returned no account or ARN",
        ));
    };
    io::write_json(&json!({"account": account, "arn": arn, "userId": id.user_id()}))
}
