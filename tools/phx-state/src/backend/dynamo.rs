//! Locking in DynamoDB, in the table layout Terraform's S3 backend uses
//! (`LockID` string hash key), so one table serves both.
//!
//! The lock is an item `LockID = <bucket>/<key>` created with
//! `attribute_not_exists(LockID)`: exactly one writer wins. Releasing is a
//! delete conditioned on the lock id, so nobody frees a lock they don't hold
//! by accident. The digest item `<bucket>/<key>-digest` lives alongside.

use super::{parse_lock_info, Acquire, Release};
use phx_aws::dynamodb::types::AttributeValue;
use phx_aws::dynamodb::Client;
use phx_aws::{is_code, AwsError, Sent};
use phx_core::status::LockInfo;
use phx_core::Result;

const CONDITION_FAILED: &[&str] = &["ConditionalCheckFailedException"];

#[derive(Debug, Clone)]
pub struct DynamoLock {
    client: Client,
    table: String,
    lock_id: String,
}

impl DynamoLock {
    pub fn new(client: Client, table: String, bucket: &str, key: &str) -> DynamoLock {
        DynamoLock {
            client,
            table,
            lock_id: format!("{bucket}/{key}"),
        }
    }

    pub fn describe(&self) -> String {
        format!("dynamodb://{}/{}", self.table, self.lock_id)
    }

    fn context(&self, what: &str) -> String {
        format!("{what} {}", self.describe())
    }

    pub async fn try_lock(&self, info: &LockInfo) -> Result<Acquire> {
        let text = serde_json::to_string(info).expect("lock info serializes");
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("LockID", AttributeValue::S(self.lock_id.clone()))
            .item("Id", AttributeValue::S(info.id.clone()))
            .item("Info", AttributeValue::S(text))
            .condition_expression("attribute_not_exists(LockID)")
            .send()
            .await;
        match put {
            Ok(_) => Ok(Acquire::Taken),
            Err(e) if is_code(&e, CONDITION_FAILED) => match self.holder().await? {
                Some(h) => Ok(Acquire::HeldBy(h)),
                None => Box::pin(self.try_lock(info)).await,
            },
            Err(e) => Err(e.into_phx().context(self.context("locking"))),
        }
    }

    pub async fn holder(&self) -> Result<Option<LockInfo>> {
        let item = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("LockID", AttributeValue::S(self.lock_id.clone()))
            .consistent_read(true)
            .send()
            .await
            .phx_in(self.context("reading"))?;
        Ok(item.item().map(|i| match i.get("Info") {
            Some(AttributeValue::S(text)) => parse_lock_info(text),
            _ => parse_lock_info(""),
        }))
    }

    pub async fn unlock(&self, id: &str) -> Result<Release> {
        let del = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("LockID", AttributeValue::S(self.lock_id.clone()))
            .condition_expression("Id = :id")
            .expression_attribute_values(":id", AttributeValue::S(id.to_string()))
            .send()
            .await;
        match del {
            Ok(_) => Ok(Release::Released),
            Err(e) if is_code(&e, CONDITION_FAILED) => Ok(match self.holder().await? {
                None => Release::NotHeld,
                Some(h) => Release::HeldBy(h),
            }),
            Err(e) => Err(e.into_phx().context(self.context("unlocking"))),
        }
    }

    pub fn digest_table(&self) -> DigestTable {
        DigestTable {
            client: self.client.clone(),
            table: self.table.clone(),
            id: format!("{}-digest", self.lock_id),
        }
    }
}

/// The sha256 of the latest stored object, for stale-read detection.
#[derive(Debug, Clone)]
pub struct DigestTable {
    client: Client,
    table: String,
    id: String,
}

impl DigestTable {
    pub async fn get(&self) -> Result<Option<String>> {
        let item = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("LockID", AttributeValue::S(self.id.clone()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| {
                e.into_phx()
                    .context(format!("reading the state digest in {}", self.table))
            })?;
        Ok(item.item().and_then(|i| match i.get("Digest") {
            Some(AttributeValue::S(d)) => Some(d.clone()),
            _ => None,
        }))
    }

    pub async fn put(&self, digest: &str) -> Result<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("LockID", AttributeValue::S(self.id.clone()))
            .item("Digest", AttributeValue::S(digest.to_string()))
            .send()
            .await
            .map_err(|e| {
                e.into_phx()
                    .context(format!("writing the state digest in {}", self.table))
            })?;
        Ok(())
    }
}
