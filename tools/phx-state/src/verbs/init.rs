//! `init`: the remote backend's bucket and lock table, created idempotently
//! (the reference platform's `setup-remote-backend.sh`).
//!
//! Every setting is read first and written only when it differs, so a
//! second run makes no mutating call at all.

use crate::config::{BackendArgs, BackendConfig, BackendKind};
use phx_aws::dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TableStatus,
};
use phx_aws::s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration,
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule, VersioningConfiguration,
};
use phx_aws::{is_code, Aws, AwsError, Sent};
use phx_core::backoff::Backoff;
use phx_core::spec::LockMechanism;
use phx_core::{io, Document, Error, Result};
use serde_json::Value;
use std::time::Duration;

pub async fn init(backend: &BackendArgs) -> Result<()> {
    let mut doc = io::read_stdin()?;
    let probe = backend.resolve_as(&doc, BackendKind::S3, None);
    let BackendConfig::S3 { region, .. } = &probe else {
        unreachable!("resolved as S3")
    };
    let aws = phx_aws::load(region.as_deref()).await?;
    let config = backend.resolve_as(&doc, BackendKind::S3, Some(&default_bucket(&aws).await?));
    ensure(&aws, &config).await?;
    record_backend(&mut doc, &config, aws.region())?;
    io::write_stdout(&doc)
}

/// Create what is missing of the bucket and table of an S3 backend.
pub(crate) async fn ensure(aws: &Aws, config: &BackendConfig) -> Result<()> {
    let BackendConfig::S3 {
        bucket, lock, table, ..
    } = config
    else {
        return Ok(());
    };
    ensure_bucket(aws, bucket)
        .await
        .map_err(|e| e.context(format!("bucket {bucket}")))?;
    if *lock == LockMechanism::Dynamodb {
        ensure_table(aws, table)
            .await
            .map_err(|e| e.context(format!("lock table {table}")))?;
    }
    Ok(())
}

/// `phx-state-<account-id>`: unique per account, as S3 names are global.
pub(crate) async fn default_bucket(aws: &Aws) -> Result<String> {
    let id = aws.sts().get_caller_identity().send().await.map_err(|e| {
        e.into_phx()
            .context("finding the AWS account (sts get-caller-identity)")
    })?;
    let account = id
        .account()
        .ok_or_else(|| Error::failed("sts returned no account id"))?;
    Ok(format!("phx-state-{account}"))
}

/// Write the backend into `spec.state`, so later runs find it.
pub(crate) fn record_backend(doc: &mut Document, config: &BackendConfig, region: &str) -> Result<()> {
    doc.edit_spec(|spec| {
        let state = spec
            .entry("state")
            .or_insert_with(|| Value::Object(Default::default()));
        if !state.is_object() {
            *state = Value::Object(Default::default());
        }
        let Value::Object(state) = state else { return };
        match config {
            BackendConfig::S3 {
                bucket, lock, table, ..
            } => {
                state.remove("dir");
                state.insert("bucket".into(), bucket.clone().into());
                state.insert("region".into(), region.into());
                match lock {
                    LockMechanism::Dynamodb => {
                        state.insert("lockTable".into(), table.clone().into());
                        state.remove("lock");
                    }
                    LockMechanism::S3 => {
                        state.insert("lock".into(), "s3".into());
                        state.remove("lockTable");
                    }
                }
            }
            BackendConfig::Local { dir, .. } => {
                for k in ["bucket", "lockTable", "lock", "region"] {
                    state.remove(k);
                }
                state.insert("dir".into(), dir.display().to_string().into());
            }
        }
    })
}

async fn ensure_bucket(aws: &Aws, bucket: &str) -> Result<()> {
    let s3 = aws.s3();
    let created = match s3.head_bucket().bucket(bucket).send().await {
        Ok(_) => {
            tracing::debug!("bucket {bucket} exists");
            false
        }
        Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => {
            let mut create = s3.create_bucket().bucket(bucket);
            if aws.region() != "us-east-1" {
                create = create.create_bucket_configuration(
                    CreateBucketConfiguration::builder()
                        .location_constraint(BucketLocationConstraint::from(aws.region()))
                        .build(),
                );
            }
            create.send().await.phx_in("creating")?;
            tracing::info!("created bucket {bucket}");
            true
        }
        Err(e) => {
            return Err(e
                .into_phx()
                .context("checking (it may belong to another account)"));
        }
    };
    // A bucket we just created has none of the settings: set them without
    // reading first. An existing one is read, and changed only if needed.
    let versioned = !created
        && match s3.get_bucket_versioning().bucket(bucket).send().await {
            Ok(out) => out.status() == Some(&BucketVersioningStatus::Enabled),
            // Some S3-compatible servers (moto among them) name the root
            // element GetBucketVersioningResponse, which the SDK refuses to
            // parse; the answer is still in the body.
            Err(e) => match e.raw_response().filter(|r| r.status().is_success()) {
                Some(raw) => raw
                    .body()
                    .bytes()
                    .is_some_and(|b| String::from_utf8_lossy(b).contains("<Status>Enabled</Status>")),
                None => return Err(e.into_phx().context("reading versioning")),
            },
        };
    if !versioned {
        s3.put_bucket_versioning()
            .bucket(bucket)
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .phx_in("enabling versioning")?;
        tracing::info!("enabled versioning on {bucket}");
    }

    let encrypted = !created
        && match s3.get_bucket_encryption().bucket(bucket).send().await {
            Ok(out) => out
                .server_side_encryption_configuration()
                .is_some_and(|c| !c.rules().is_empty()),
            Err(e) if is_code(&e, &["ServerSideEncryptionConfigurationNotFoundError"]) => false,
            Err(e) => return Err(e.into_phx().context("reading default encryption")),
        };
    if !encrypted {
        let rule = ServerSideEncryptionRule::builder()
            .apply_server_side_encryption_by_default(
                ServerSideEncryptionByDefault::builder()
                    .sse_algorithm(ServerSideEncryption::Aes256)
                    .build()
                    .map_err(Error::failed)?,
            )
            .bucket_key_enabled(true)
            .build();
        s3.put_bucket_encryption()
            .bucket(bucket)
            .server_side_encryption_configuration(
                ServerSideEncryptionConfiguration::builder()
                    .rules(rule)
                    .build()
                    .map_err(Error::failed)?,
            )
            .send()
            .await
            .phx_in("enabling default encryption")?;
        tracing::info!("enabled default encryption on {bucket}");
    }

    let blocked = !created
        && match s3.get_public_access_block().bucket(bucket).send().await {
            Ok(out) => out.public_access_block_configuration().is_some_and(|c| {
                c.block_public_acls() == Some(true)
                    && c.ignore_public_acls() == Some(true)
                    && c.block_public_policy() == Some(true)
                    && c.restrict_public_buckets() == Some(true)
            }),
            Err(e) if is_code(&e, &["NoSuchPublicAccessBlockConfiguration"]) => false,
            Err(e) => return Err(e.into_phx().context("reading the public access block")),
        };
    if !blocked {
        s3.put_public_access_block()
            .bucket(bucket)
            .public_access_block_configuration(
                PublicAccessBlockConfiguration::builder()
                    .block_public_acls(true)
                    .ignore_public_acls(true)
                    .block_public_policy(true)
                    .restrict_public_buckets(true)
                    .build(),
            )
            .send()
            .await
            .phx_in("blocking public access")?;
        tracing::info!("blocked all public access to {bucket}");
    }
    Ok(())
}

async fn ensure_table(aws: &Aws, table: &str) -> Result<()> {
    let ddb = aws.dynamodb();
    let status = match ddb.describe_table().table_name(table).send().await {
        Ok(out) => {
            let t = out
                .table()
                .ok_or_else(|| Error::failed("describe-table returned no table"))?;
            let key_ok = t
                .key_schema()
                .iter()
                .any(|k| k.attribute_name() == "LockID" && *k.key_type() == KeyType::Hash);
            if !key_ok {
                return Err(Error::failed(
                    "exists without the string hash key LockID that locking needs",
                ));
            }
            t.table_status().cloned()
        }
        Err(e) if is_code(&e, &["ResourceNotFoundException"]) => {
            ddb.create_table()
                .table_name(table)
                .key_schema(
                    KeySchemaElement::builder()
                        .attribute_name("LockID")
                        .key_type(KeyType::Hash)
                        .build()
                        .map_err(Error::failed)?,
                )
                .attribute_definitions(
                    AttributeDefinition::builder()
                        .attribute_name("LockID")
                        .attribute_type(ScalarAttributeType::S)
                        .build()
                        .map_err(Error::failed)?,
                )
                .billing_mode(BillingMode::PayPerRequest)
                .send()
                .await
                .phx_in("creating")?;
            tracing::info!("created lock table {table}");
            Some(TableStatus::Creating)
        }
        Err(e) => return Err(e.into_phx().context("checking")),
    };
    if status == Some(TableStatus::Active) {
        return Ok(());
    }
    let mut backoff = Backoff::new(
        Duration::from_millis(500),
        Duration::from_secs(5),
        Duration::from_secs(120),
    );
    loop {
        let out = ddb
            .describe_table()
            .table_name(table)
            .send()
            .await
            .phx_in("waiting until active")?;
        if out.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
            return Ok(());
        }
        if !backoff.wait().await {
            return Err(Error::failed("not active after 2 minutes"));
        }
    }
}
