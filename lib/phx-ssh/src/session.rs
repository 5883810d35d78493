//! Connecting to a node and running commands on it.
//!
//! A [`Session`] is one SSH connection; each [`Session::exec`] opens a new
//! channel on it, so a node's steps never pay for a second handshake. A
//! [`Connector`] holds what every connection shares: credentials, timeouts,
//! and an optional jump host whose single connection carries a
//! `direct-tcpip` channel per node.

use crate::auth::Credentials;
use crate::hostkey::{fingerprint, HostKeyPolicy, Verdict};
use phx_core::{Error, Result};
use russh::client::{self, Handle};
use russh::keys::PublicKeyOrCertificate;
use russh::ChannelMsg;
use std::borrow::Cow;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncRead;
use tokio::sync::mpsc;

/// One node to reach.
#[derive(Debug, Clone)]
pub struct Target {
    /// For messages (`phoenix-worker-2`).
    pub name: String,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub host_keys: HostKeyPolicy,
}

/// The handler russh consults about the server key; it records its
/// verdict for the caller.
struct Checker {
    host: String,
    port: u16,
    policy: HostKeyPolicy,
    verdict: Arc<Mutex<Option<Verdict>>>,
}

impl client::Handler for Checker {
    type Error = russh::Error;

    async fn check_server_key(&mut self, key: &PublicKeyOrCertificate) -> Result<bool, Self::Error> {
        // Host certificates are not part of phx's trust model: only keys.
        let v = match key {
            PublicKeyOrCertificate::PublicKey { key, .. } => self.policy.check(&self.host, self.port, key),
            PublicKeyOrCertificate::Certificate(_) => Verdict::Unknown {
                fingerprint: "a host certificate".into(),
            },
        };
        let ok = v.is_trusted();
        if let Ok(mut slot) = self.verdict.lock() {
            *slot = Some(v);
        }
        Ok(ok)
    }
}

#[derive(Clone)]
pub struct Connector {
    credentials: Credentials,
    connect_timeout: Duration,
    jump: Option<Arc<Handle<Checker>>>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("connect_timeout", &self.connect_timeout)
            .field("jump", &self.jump.is_some())
            .finish()
    }
}

impl Connector {
    pub fn new(credentials: Credentials, connect_timeout: Duration) -> Connector {
        Connector {
            credentials,
            connect_timeout,
            jump: None,
        }
    }

    /// Route every later connection through this bastion.
    pub async fn via_jump_host(mut self, jump: &Target) -> Result<Connector> {
        let handle = self.handshake(jump, None).await?;
        self.jump = Some(Arc::new(handle));
        Ok(self)
    }

    /// Connect and authenticate, bounded by the connect timeout. Returns
    /// the session and the host key verdict (to pin a newly accepted key).
    pub async fn connect(&self, t: &Target) -> Result<(Session, Verdict)> {
        let verdict = Arc::new(Mutex::new(None));
        let handle = self.handshake(t, Some(verdict.clone())).await?;
        let v = verdict
            .lock()
            .ok()
            .and_then(|v| v.clone())
            .unwrap_or(Verdict::Verified);
        Ok((
            Session {
                handle,
                name: t.name.clone(),
            },
            v,
        ))
    }

    async fn handshake(
        &self,
        t: &Target,
        verdict: Option<Arc<Mutex<Option<Verdict>>>>,
    ) -> Result<Handle<Checker>> {
        let verdict = verdict.unwrap_or_default();
        let checker = Checker {
            host: t.host.clone(),
            port: t.port,
            policy: t.host_keys.clone(),
            verdict: verdict.clone(),
        };
        let mut config = client::Config {
            // A node that stops answering mid-step is noticed, not waited on forever.
            keepalive_interval: Some(Duration::from_secs(15)),
            keepalive_max: 4,
            nodelay: true,
            ..Default::default()
        };
        let algorithms = t.host_keys.algorithms();
        if !algorithms.is_empty() {
            config.preferred.key = Cow::Owned(algorithms);
        }
        let config = Arc::new(config);
        let addr = format!("{}:{}", t.host, t.port);
        let work = async {
            let mut handle = match &self.jump {
                None => client::connect(config, (t.host.as_str(), t.port), checker).await,
                Some(jump) => {
                    let ch = jump
                        .channel_open_direct_tcpip(t.host.as_str(), u32::from(t.port), "127.0.0.1", 0)
                        .await
                        .map_err(|e| Error::failed(format!("through the jump host: {e}")))?;
                    client::connect_stream(config, ch.into_stream(), checker).await
                }
            }
            .map_err(|e| refusal(&verdict, t).unwrap_or_else(|| Error::failed(e)))?;
            self.credentials.authenticate(&mut handle, &t.user).await?;
            Ok::<_, Error>(handle)
        };
        match tokio::time::timeout(self.connect_timeout, work).await {
            Ok(r) => r.map_err(|e| e.context(format!("{} ({addr})", t.name))),
            Err(_) => Err(Error::failed(format!(
                "{} ({addr}): no SSH answer within {} (is the node up and port {} open to you?)",
                t.name,
                phx_core::time::format_duration(self.connect_timeout),
                t.port
            ))),
        }
    }
}

/// The error for a key the checker refused, worded for a person.
fn refusal(verdict: &Mutex<Option<Verdict>>, t: &Target) -> Option<Error> {
    match verdict.lock().ok()?.clone()? {
        Verdict::Changed {
            fingerprint,
            expected,
        } => Some(Error::failed(format!(
            "HOST KEY CHANGED: the server presented {fingerprint}, expected {expected}; someone may be \
             intercepting the connection, or the machine was rebuilt: check it, then remove the old key"
        ))),
        Verdict::Unknown { fingerprint } => Some(Error::failed(format!(
            "unknown host key {fingerprint} for {}:{}; check it (e.g. in the instance's console output) \
             and re-run with --accept-new-host-keys to pin it, or add it to known_hosts",
            t.host, t.port
        ))),
        _ => None,
    }
}

/// What a command left: its exit status and its last lines of output.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecOutput {
    /// The exit status; 255 when killed by a signal or closed without one.
    pub code: u32,
    pub tail: Vec<String>,
}

const TAIL_LINES: usize = 15;

pub struct Session {
    handle: Handle<Checker>,
    name: String,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("name", &self.name).finish()
    }
}

impl Session {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Run `command` with `stdin`, calling `line` for every line of its
    /// stdout and stderr as it arrives. Lines pass through the redaction
    /// filter first ([`phx_core::redact`]): what a node prints may be
    /// logged, and no secret may be.
    pub async fn exec(&self, command: &str, stdin: &[u8], line: impl FnMut(&str)) -> Result<ExecOutput> {
        self.run(command, stdin, Sink::Lines, line).await
    }

    /// Run a command and return its whole stdout, raw (a file's content, a
    /// join command: it may be a secret, so it is neither logged nor put
    /// into errors); a non-zero exit is an error with the redacted tail
    /// of its stderr.
    pub async fn capture(&self, command: &str, stdin: &[u8]) -> Result<String> {
        let mut stdout = Vec::new();
        let out = self.run(command, stdin, Sink::Raw(&mut stdout), |_| {}).await?;
        self.check(command, &out)?;
        String::from_utf8(stdout)
            .map_err(|_| Error::failed(format!("{}: `{command}` printed non-UTF-8", self.name)))
    }

    /// Run a command on data too large to hold (an etcd snapshot): its
    /// stdin read from `input` as the node takes it, its stdout handed on
    /// in chunks to `output` as it arrives. Both sides are under SSH's
    /// flow control, so a slow reader holds the node back instead of
    /// filling memory. stderr goes to `line` (redacted); the exit status
    /// is returned, not judged.
    pub async fn pipe(
        &self,
        command: &str,
        input: impl AsyncRead + Unpin,
        output: Option<mpsc::Sender<Vec<u8>>>,
        line: impl FnMut(&str),
    ) -> Result<ExecOutput> {
        let sink = match output {
            Some(tx) => Sink::Chunks(tx),
            None => Sink::Lines,
        };
        self.run(command, input, sink, line).await
    }

    /// A non-zero exit as an error with the tail of what the command said.
    pub fn check(&self, command: &str, out: &ExecOutput) -> Result<()> {
        match out.code {
            0 => Ok(()),
            code => Err(Error::failed(format!(
                "{}: `{command}` exited {code}: {}",
                self.name,
                out.tail.join(" | ")
            ))),
        }
    }

    /// The channel loop: stdin sent while the output is read (a command
    /// that answers before reading all of it cannot deadlock us), stdout
    /// into `sink`, stderr always as redacted lines; the tail holds only
    /// redacted lines.
    async fn run(
        &self,
        command: &str,
        input: impl AsyncRead + Unpin,
        mut sink: Sink<'_>,
        mut line: impl FnMut(&str),
    ) -> Result<ExecOutput> {
        let ctx = |e: russh::Error| Error::failed(format!("{}: {e}", self.name));
        let ch = self.handle.channel_open_session().await.map_err(ctx)?;
        ch.exec(true, command).await.map_err(ctx)?;
        let (mut read, write) = ch.split();
        let send = async {
            write.data(input).await?;
            write.eof().await
        };
        let mut out = LineBuffer::default();
        let mut err = LineBuffer::default();
        let mut tail = Tail::default();
        let mut code = None;
        let mut reader_gone = false;
        let receive = async {
            while let Some(msg) = read.wait().await {
                match msg {
                    ChannelMsg::Data { data } => match &mut sink {
                        Sink::Raw(buf) => buf.extend_from_slice(&data),
                        Sink::Chunks(tx) => {
                            if !reader_gone && tx.send(data.to_vec()).await.is_err() {
                                // The reader failed and says why itself;
                                // the rest of the output is drained.
                                reader_gone = true;
                            }
                        }
                        Sink::Lines => out
                            .push(&data)
                            .into_iter()
                            .for_each(|l| tail.emit(&mut out.redact, l, &mut line)),
                    },
                    ChannelMsg::ExtendedData { data, .. } => err
                        .push(&data)
                        .into_iter()
                        .for_each(|l| tail.emit(&mut err.redact, l, &mut line)),
                    ChannelMsg::ExitStatus { exit_status } => code = Some(exit_status),
                    ChannelMsg::ExitSignal { signal_name, .. } => {
                        tail.emit(
                            &mut err.redact,
                            format!("killed by signal {signal_name:?}"),
                            &mut line,
                        );
                        code = Some(255);
                    }
                    _ => {}
                }
            }
        };
        // The output ends when the command does; stdin still unsent then
        // (it exited without reading it all) is dropped.
        let sent = {
            tokio::pin!(send, receive);
            let mut sent = None;
            loop {
                tokio::select! {
                    r = &mut send, if sent.is_none() => sent = Some(r),
                    () = &mut receive => break sent,
                }
            }
        };
        drop(sink);
        for buf in [out, err] {
            let (rest, mut redact) = buf.finish();
            if let Some(l) = rest {
                tail.emit(&mut redact, l, &mut line);
            }
        }
        let code = code.unwrap_or(255);
        if let Some(Err(e)) = sent {
            if code == 0 {
                return Err(ctx(e).context("sending stdin"));
            }
        }
        Ok(ExecOutput {
            code,
            tail: tail.0.into(),
        })
    }

    pub async fn close(self) {
        let _ = self
            .handle
            .disconnect(russh::Disconnect::ByApplication, "", "en")
            .await;
    }
}

/// Where a command's stdout goes.
enum Sink<'a> {
    Lines,
    Raw(&'a mut Vec<u8>),
    Chunks(mpsc::Sender<Vec<u8>>),
}

/// The last lines of a command, redacted, for error messages.
#[derive(Default)]
struct Tail(std::collections::VecDeque<String>);

impl Tail {
    /// Redact `l`, hand it to `line`, and keep it.
    fn emit(&mut self, redact: &mut phx_core::redact::Lines, l: String, line: &mut impl FnMut(&str)) {
        let l = redact.line(&l).into_owned();
        line(&l);
        if self.0.len() == TAIL_LINES {
            self.0.pop_front();
        }
        self.0.push_back(l);
    }
}

/// Splits a byte stream into lines (lossy UTF-8, `\r` dropped), with the
/// stream's own redaction state (a private key block spans lines).
#[derive(Default)]
struct LineBuffer {
    bytes: Vec<u8>,
    redact: phx_core::redact::Lines,
}

impl LineBuffer {
    fn push(&mut self, data: &[u8]) -> Vec<String> {
        self.bytes.extend_from_slice(data);
        let mut lines = Vec::new();
        while let Some(i) = self.bytes.iter().position(|b| *b == b'\n') {
            let rest = self.bytes.split_off(i + 1);
            let mut l = std::mem::replace(&mut self.bytes, rest);
            l.pop();
            lines.push(String::from_utf8_lossy(&l).trim_end_matches('\r').to_string());
        }
        lines
    }

    fn finish(self) -> (Option<String>, phx_core::redact::Lines) {
        let rest = (!self.bytes.is_empty()).then(|| String::from_utf8_lossy(&self.bytes).into_owned());
        (rest, self.redact)
    }
}

/// The fingerprint of a key given as `type base64` (for messages).
pub fn fingerprint_of(openssh: &str) -> Option<String> {
    let blob = openssh.split_whitespace().nth(1)?;
    russh::keys::parse_public_key_base64(blob)
        .ok()
        .map(|k| fingerprint(&k))
}

#[cfg(test)]
mod tests {
    use super::LineBuffer;

    #[test]
    fn lines_split_across_chunks() {
        let mut b = LineBuffer::default();
        assert!(b.push(b"hel").is_empty());
        assert_eq!(b.push(b"lo\r\nwor"), ["hello"]);
        assert_eq!(b.push(b"ld\n\n"), ["world", ""]);
        assert_eq!(b.finish().0, None);
    }
}
