//! A sandbox on free ports, a temporary workspace wired to it with
//! `grantflow init --sandbox`, and helpers to run the binary and to read
//! the emulator's admin endpoint.

use grantflow_sandbox::{RunningSandbox, SandboxOptions, SystemInfo};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_grantflow");

pub struct Workspace {
    pub dir: tempfile::TempDir,
    pub sandbox: RunningSandbox,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(output: Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Both streams, for assertion messages.
    pub fn all(&self) -> String {
        format!(
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl Workspace {
    /// The demo organisation, or an organisation file's text.
    pub async fn start(org_yaml: Option<&str>) -> Workspace {
        Self::start_with(org_yaml, SandboxOptions::default()).await
    }

    /// As [`Workspace::start`], the sandbox started with `options` (a clock tests move, …).
    pub async fn start_with(org_yaml: Option<&str>, options: SandboxOptions) -> Workspace {
        let dir = tempfile::tempdir().expect("tempdir");
        let org = match org_yaml {
            Some(text) => {
                let path = dir.path().join("org.yaml");
                std::fs::write(&path, text).expect("write org");
                grantflow_sandbox::load_org(&path).expect("valid org")
            }
            None => grantflow_sandbox::demo_org(),
        };
        let sandbox = grantflow_sandbox::start(&org, options)
            .await
            .expect("sandbox starts");
        let info = dir.path().join("sandbox.json");
        std::fs::write(&info, serde_json::to_string(&sandbox.info).expect("json"))
            .expect("write info");
        let workspace = Workspace { dir, sandbox };
        let init = workspace.run(&["init", "--sandbox", info.to_str().expect("utf8")]);
        assert_eq!(init.code, 0, "{}", init.all());
        std::fs::create_dir_all(workspace.path("policies")).expect("policies dir");
        workspace
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    pub fn okta(&self) -> &SystemInfo {
        self.sandbox
            .info
            .systems
            .get("okta")
            .expect("okta in sandbox")
    }

    pub fn token(&self) -> String {
        self.okta()
            .credentials
            .get("token")
            .cloned()
            .expect("token")
    }

    pub fn write_policy(&self, name: &str, text: &str) {
        std::fs::write(self.path("policies").join(name), text).expect("write policy");
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BIN);
        command
            .args(args)
            .arg("--quiet")
            .current_dir(self.dir.path())
            .env_remove("GRANTFLOW_CONFIG")
            .env_remove("GRANTFLOW_DATABASE")
            .stdin(std::process::Stdio::null());
        command
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(self.command(args).output().expect("grantflow runs"))
    }

    /// `grantflow plan --json` → the plan id.
    pub fn plan(&self) -> (String, Value) {
        let run = self.run(&["plan", "--json"]);
        assert_eq!(run.code, 0, "{}", run.all());
        let plan: Value = serde_json::from_str(&run.stdout).expect("plan JSON");
        let id = plan["id"].as_str().expect("plan id").to_string();
        (id, plan)
    }

    pub fn database(&self) -> PathBuf {
        self.path(".grantflow/grantflow.db")
    }

    pub async fn admin_post(&self, what: &str, body: Value) {
        let url = format!("{}/{what}", self.okta().admin_url);
        let response = reqwest::Client::new()
            .post(&url)
            .json(&body)
            .send()
            .await
            .expect("admin reachable");
        assert!(
            response.status().is_success(),
            "{url}: {}",
            response.status()
        );
    }

    /// Writes the emulator saw, per object.
    pub async fn writes(&self) -> serde_json::Map<String, Value> {
        let url = format!("{}/writes", self.okta().admin_url);
        let body: Value = reqwest::get(&url)
            .await
            .expect("admin")
            .json()
            .await
            .expect("json");
        body["writes"].as_object().cloned().unwrap_or_default()
    }

    /// Writes another emulator saw, per object (its `/__sandbox/writes`).
    pub async fn writes_to(&self, system: &str) -> serde_json::Map<String, Value> {
        let info = self.sandbox.info.systems.get(system).expect("system");
        let body: Value = info
            .http_client()
            .expect("client")
            .get(format!("{}/writes", info.admin_url))
            .send()
            .await
            .expect("admin")
            .json()
            .await
            .expect("json");
        body["writes"].as_object().cloned().unwrap_or_default()
    }

    /// A GET on the Okta API with the sandbox's token.
    pub async fn okta_get(&self, path: &str) -> Value {
        let url = format!("{}{path}", self.okta().base_url);
        reqwest::Client::new()
            .get(&url)
            .header("Authorization", format!("SSWS {}", self.token()))
            .send()
            .await
            .expect("okta reachable")
            .json()
            .await
            .expect("json")
    }
}

/// Everything a file holds, or "" when it does not exist.
/// Runs `grantflow demo` with `args` in a fresh folder; its standard output once it succeeded.
pub fn demo_stdout(args: &[&str]) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = Command::new(BIN)
        .arg("demo")
        .args(args)
        .current_dir(dir.path())
        .output()
        .expect("demo runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

impl Workspace {
    /// Adds a setting to the okta connection in grantflow.yaml (e.g.
    /// `timeout_seconds: 1`).
    pub fn set_okta_option(&self, line: &str) {
        self.set_connection_option("okta", line);
    }

    /// Adds a setting to the connection of that kind in grantflow.yaml.
    pub fn set_connection_option(&self, kind: &str, line: &str) {
        let path = self.path("grantflow.yaml");
        let text = read(&path);
        let marker = format!("    kind: {kind}\n");
        let updated = text.replacen(&marker, &format!("{marker}    {line}\n"), 1);
        assert_ne!(text, updated, "grantflow.yaml has a {kind} connection");
        std::fs::write(&path, updated).expect("write config");
    }

    /// `POST` on another emulator's admin endpoint.
    pub async fn admin_post_to(&self, system: &str, what: &str, body: Value) {
        let info = self
            .sandbox
            .info
            .systems
            .get(system)
            .expect("system in sandbox");
        let url = format!("{}/{what}", info.admin_url);
        let response = info
            .http_client()
            .expect("admin client")
            .post(&url)
            .json(&body)
            .send()
            .await
            .expect("admin reachable");
        assert!(
            response.status().is_success(),
            "{url}: {}",
            response.status()
        );
    }

    /// `GET` on the emulator's admin endpoint.
    pub async fn admin_get(&self, what: &str) -> Value {
        let url = format!("{}/{what}", self.okta().admin_url);
        reqwest::get(&url)
            .await
            .expect("admin")
            .json()
            .await
            .expect("json")
    }
}

/// `grantflow serve` in the background, its output collected line by line.
pub struct Serve {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Serve {
    pub fn start(ws: &Workspace, interval: &str) -> Serve {
        let mut child = ws
            .command(&["serve", "--listen", "127.0.0.1:0", "--interval", interval])
            .stdout(Stdio::piped())
            .spawn()
            .expect("serve starts");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let out = child.stdout.take().expect("stdout");
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                sink.lock().expect("lines").push(line);
            }
        });
        Serve { child, lines }
    }

    pub async fn wait_for(&self, needle: &str) -> String {
        self.wait_until(needle, |l| l.contains(needle)).await
    }

    pub async fn wait_until(&self, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(line) = self.lines.lock().expect("lines").iter().find(|l| wanted(l)) {
                return line.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no line with {what:?} in {:?}",
                self.lines.lock().expect("lines")
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
