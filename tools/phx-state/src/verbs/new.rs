//! `new` and `schema`: documents from nothing.

use phx_core::document::json_schema;
use phx_core::spec::Spec;
use phx_core::{io, Document, Result};

pub fn new(name: &str, region: Option<String>) -> Result<()> {
    let region = region
        .or_else(|| std::env::var("AWS_REGION").ok())
        .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
        .unwrap_or_else(|| "us-east-1".into());
    let doc = Document::new(name, &Spec::reference(&region))?;
    io::write_stdout(&doc)
}

pub fn schema() -> Result<()> {
    io::write_json(&json_schema())
}
