//! S3-native locking (as Terraform 1.10's `use_lockfile`): a `<key>.lock`
//! object created with `If-None-Match: *`, which S3 refuses when the object
//! already exists. No DynamoDB table is needed.

use super::{parse_lock_info, Acquire, Release};
use phx_aws::s3::primitives::ByteStream;
use phx_aws::s3::types::ServerSideEncryption;
use phx_aws::s3::Client;
use phx_aws::{is_code, AwsError, Sent};
use phx_core::status::LockInfo;
use phx_core::{Error, Result};

#[derive(Debug)]
pub struct S3Lock {
    client: Client,
    bucket: String,
    key: String,
}

impl S3Lock {
    pub fn new(client: Client, bucket: String, state_key: &str) -> S3Lock {
        S3Lock {
            client,
            bucket,
            key: format!("{state_key}.lock"),
        }
    }

    pub fn describe(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    pub async fn try_lock(&self, info: &LockInfo) -> Result<Acquire> {
        let text = serde_json::to_vec(info).expect("lock info serializes");
        let put = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .if_none_match("*")
            .server_side_encryption(ServerSideEncryption::Aes256)
            .content_type("application/json")
            .body(ByteStream::from(text))
            .send()
            .await;
        match put {
            Ok(_) => Ok(Acquire::Taken),
            Err(e) if is_code(&e, &["PreconditionFailed", "ConditionalRequestConflict"]) => {
                match self.holder().await? {
                    Some(h) => Ok(Acquire::HeldBy(h)),
                    None => Box::pin(self.try_lock(info)).await,
                }
            }
            Err(e) => Err(e.into_phx().context(format!("locking {}", self.describe()))),
        }
    }

    pub async fn holder(&self) -> Result<Option<LockInfo>> {
        let got = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .send()
            .await;
        let out = match got {
            Ok(o) => o,
            Err(e) if is_code(&e, &["NoSuchKey"]) => return Ok(None),
            Err(e) => return Err(e.into_phx().context(format!("reading {}", self.describe()))),
        };
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| Error::failed(e).context(format!("reading {}", self.describe())))?
            .into_bytes();
        Ok(Some(parse_lock_info(&String::from_utf8_lossy(&bytes))))
    }

    pub async fn unlock(&self, id: &str) -> Result<Release> {
        match self.holder().await? {
            None => Ok(Release::NotHeld),
            Some(h) if h.id != id => Ok(Release::HeldBy(h)),
            Some(_) => {
                self.client
                    .delete_object()
                    .bucket(&self.bucket)
                    .key(&self.key)
                    .send()
                    .await
                    .phx_in(format!("unlocking {}", self.describe()))?;
                Ok(Release::Released)
            }
        }
    }
}
