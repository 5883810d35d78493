//! `view`: the terminal view of a pipeline (phx-view draws it), for
//! deploy.sh and destroy.sh. It reads and draws only: the pipeline's exit
//! status stays the pipeline's.

use phx_core::{Error, Result};
use std::path::Path;

pub fn view(log: &Path, quiet: bool, stages: &[String]) -> Result<()> {
    let at = || format!("log file {}", log.display());
    let mut file = phx_view::create_log(log).map_err(|e| Error::failed(e).context(at()))?;
    let stdin = std::io::stdin().lock();
    let draw = match quiet {
        true => indicatif::ProgressDrawTarget::hidden(),
        false => indicatif::ProgressDrawTarget::stderr(),
    };
    let out = phx_view::run(stages, stdin, &mut file, draw).map_err(|e| Error::failed(e).context(at()))?;
    if !quiet {
        eprint!("\n{}", phx_view::table(&out));
    }
    Ok(())
}
