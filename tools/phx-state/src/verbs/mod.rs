//! One file per verb family; shared reading of stored documents lives here.

pub mod init;
pub mod join;
pub mod lock;
pub mod migrate;
pub mod new;
pub mod pull;
pub mod push;
pub mod view;
pub mod whoami;

use crate::backend::Store;
use phx_core::status::{keys, StateStatus};
use phx_core::{Document, Error, Result};

/// The latest stored document, parsed; a corrupt store is a failure (1),
/// not an input error, since the user's input is fine.
pub(crate) async fn read_stored(store: &Store, version: Option<&str>) -> Result<Option<Document>> {
    let Some(stored) = store.read(version).await? else {
        return Ok(None);
    };
    Document::from_slice(&stored.bytes).map(Some).map_err(|e| {
        Error::failed(e).context(format!(
            "stored state at {} is not a valid document",
            store.location()
        ))
    })
}

/// `status.state` of a document, if any.
pub(crate) fn state_of(doc: &Document) -> Result<Option<StateStatus>> {
    doc.status::<StateStatus>(keys::STATE)
}
