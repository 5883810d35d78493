//! A moto server per test: `moto_server -H 127.0.0.1 -p PORT` (through a
//! launcher that makes conditional writes atomic, as AWS does), one endpoint
//! for every AWS service, dummy static credentials.

use crate::recording::Recording;
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Moto {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

/// The launcher that serializes moto's request handling (see the script).
const SERIAL_LAUNCHER: &str = include_str!("../../../scripts/sandbox/moto_serial.py");

/// The Python interpreter that has moto: the one beside `moto_server`.
fn moto_python() -> PathBuf {
    let server = moto_server();
    let python = server.with_file_name("python");
    assert!(
        python.exists(),
        "no python beside {} (a venv's bin/ is expected)",
        server.display()
    );
    python
}

/// Where `scripts/test.sh` installs moto.
fn moto_server() -> PathBuf {
    if let Some(p) = std::env::var_os("PHX_MOTO_SERVER") {
        return p.into();
    }
    let home = std::env::var_os("HOME").unwrap_or_default();
    let venv = PathBuf::from(home).join(".cache/phx/venv/bin/moto_server");
    if venv.exists() {
        return venv;
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("moto_server"))
        .find(|p| p.exists());
    on_path.unwrap_or_else(|| {
        panic!(
            "moto_server not found: run scripts/test.sh (it installs moto[server] into \
             ~/.cache/phx/venv) or set PHX_MOTO_SERVER"
        )
    })
}

impl Moto {
    /// Start an emulator with default settings.
    pub fn start() -> Moto {
        Moto::start_with(&[])
    }

    /// Start moto's own threaded server, for benchmarks: requests overlap
    /// as they would at AWS, but conditional writes are not atomic.
    pub fn start_threaded() -> Moto {
        Moto::launch(&[], false)
    }

    /// Start an emulator with extra environment (`MOTO_AMIS_PATH`, ...).
    pub fn start_with(env: &[(&str, &str)]) -> Moto {
        Moto::launch(env, true)
    }

    fn launch(env: &[(&str, &str)], serialized: bool) -> Moto {
        // AWS-managed IAM policies (AmazonEBSCSIDriverPolicy) exist on AWS.
        let mut env = env.to_vec();
        env.push(("MOTO_IAM_LOAD_MANAGED_POLICIES", "true"));
        let env = env.as_slice();
        for attempt in 0..5 {
            let dir = tempfile::tempdir().expect("temp dir for the emulator");
            let port = free_port();
            let mut cmd = if serialized {
                let mut c = Command::new(moto_python());
                c.args(["-c", SERIAL_LAUNCHER]);
                c
            } else {
                Command::new(moto_server())
            };
            cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .current_dir(dir.path())
                .env("MOTO_RECORDER_FILEPATH", dir.path().join("recording"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(dir.path().join("moto.log")).expect("log file"));
            for (k, v) in env {
                cmd.env(k, v);
            }
            // SAFETY: prctl is async-signal-safe; it only asks the kernel to
            // kill the emulator when the thread that started it goes away.
            unsafe {
                cmd.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    Ok(())
                });
            }
            let child = cmd.spawn().expect("starting moto_server");
            let mut moto = Moto { child, port, dir };
            if moto.wait_ready(Duration::from_secs(30)) {
                return moto;
            }
            eprintln!("{}", moto.log());
            drop(moto);
            eprintln!("moto did not start on port {port} (attempt {attempt}); retrying");
        }
        panic!("moto_server did not start after 5 attempts");
    }

    fn wait_ready(&mut self, timeout: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok()
                && ureq::get(&format!("{}/moto-api/", self.endpoint()))
                    .call()
                    .is_ok()
            {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// AWS clients for this emulator (region us-east-1); each test crate
    /// enables the services it asks for.
    pub fn aws(&self) -> phx_aws::Aws {
        crate::block_on(phx_aws::load_for_endpoint(&self.endpoint(), "us-east-1"))
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The AWS environment a tool needs to talk to this emulator only.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
            ("AWS_CONFIG_FILE", "/dev/null".into()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".into()),
        ]
    }

    /// Apply [`Moto::env`] to a command, removing any real AWS profile.
    pub fn configure<'c>(&self, cmd: &'c mut assert_cmd::Command) -> &'c mut assert_cmd::Command {
        cmd.env_remove("AWS_PROFILE").env_remove("AWS_SESSION_TOKEN");
        for (k, v) in self.env() {
            cmd.env(k, v);
        }
        cmd
    }

    /// `bin ARGS` against this emulator, as a std command (for spawning).
    pub fn process(&self, bin: &std::path::Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin);
        cmd.env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .args(args);
        for (k, v) in self.env() {
            cmd.env(k, v);
        }
        cmd
    }

    /// Start (or restart) recording API calls.
    pub fn start_recording(&self) {
        crate::recording::start(&self.endpoint());
    }

    /// Stop recording and return what was recorded.
    pub fn recording(&self) -> Recording {
        crate::recording::stop(&self.endpoint())
    }

    /// The emulator's log, for assertion messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("moto.log")).unwrap_or_default()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free loopback port (for a server a test starts).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}
