//! `pull` and `history`: reading what is stored.

use super::read_stored;
use crate::config::BackendArgs;
use phx_core::{io, Error, Result};

pub async fn pull(backend: &BackendArgs, version: Option<&str>) -> Result<()> {
    let doc = io::read_stdin()?;
    let (store, _) = backend.resolve(&doc).open().await?;
    match read_stored(&store, version).await? {
        Some(stored) => io::write_stdout(&stored),
        None => Err(Error::failed(format!("no state stored at {}", store.location()))),
    }
}

pub async fn history(backend: &BackendArgs) -> Result<()> {
    let doc = io::read_stdin()?;
    let (store, _) = backend.resolve(&doc).open().await?;
    let versions = store.history().await?;
    if !io::stdout_is_terminal() {
        return io::write_json(&serde_json::to_value(&versions).expect("versions serialize"));
    }
    let mut out = format!("{:<8} {:<34} {:<22} {}\n", "SERIAL", "VERSION", "TIME", "WHO");
    for v in &versions {
        let serial = v.serial.map(|s| s.to_string()).unwrap_or_else(|| "?".into());
        out.push_str(&format!(
            "{serial:<8} {:<34} {:<22} {}\n",
            v.version,
            v.time.as_deref().unwrap_or("-"),
            v.who.as_deref().unwrap_or("-")
        ));
    }
    io::write_bytes(out.as_bytes())
}
