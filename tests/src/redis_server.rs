//! A real `redis-server` for the shared-state suites: started on a free loopback port in a
//! temporary directory, with nothing written to disk (`--save '' --appendonly no`), killed
//! (SIGKILL, like a crash) and restarted on the same port on demand, and killed on drop.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{free_port, WAIT};

/// One `redis-server` process (restartable).
pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    password: Option<String>,
    child: Option<Child>,
}

impl RedisServer {
    /// Start one, or `None` (after saying why on stderr) when the binary is not installed.
    pub fn start(password: Option<&str>) -> Option<RedisServer> {
        if Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_err()
        {
            eprintln!(
                "SKIPPED: redis-server is not installed (apt-get install redis-server; \
                 test.sh installs it)"
            );
            return None;
        }
        let dir = std::env::temp_dir().join(format!("clawshim-redis-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("redis temp dir");
        let mut server = RedisServer {
            port: free_port(),
            dir,
            password: password.map(str::to_owned),
            child: None,
        };
        // A free port can be taken again before redis-server binds it: then try another.
        while !server.spawn() {
            server.port = free_port();
        }
        Some(server)
    }

    /// Start on `self.port`; false when the port was taken by another process.
    fn spawn(&mut self) -> bool {
        let mut cmd = Command::new("redis-server");
        cmd.args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(p) = &self.password {
            cmd.args(["--requirepass", p]);
        }
        let child = cmd.spawn().expect("redis-server starts");
        let pid = child.id();
        self.child = Some(child);
        self.wait_ready(pid)
    }

    /// Wait until the server on the port answers and is ours (its `process_id`); false
    /// when ours exited (port in use).
    fn wait_ready(&mut self, pid: u32) -> bool {
        let client = redis::Client::open(self.url()).expect("redis url");
        let started = Instant::now();
        loop {
            if let Some(child) = self.child.as_mut() {
                if child.try_wait().ok().flatten().is_some() {
                    self.child = None;
                    return false;
                }
            }
            let info = client
                .get_connection_with_timeout(Duration::from_millis(200))
                .and_then(|mut c| redis::cmd("INFO").arg("server").query::<String>(&mut c));
            if let Ok(info) = info {
                if info
                    .lines()
                    .any(|l| l.trim() == format!("process_id:{pid}"))
                {
                    return true;
                }
            }
            assert!(
                started.elapsed() < WAIT,
                "redis-server ready within {WAIT:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `redis://[:password@]127.0.0.1:PORT/0`.
    pub fn url(&self) -> String {
        match &self.password {
            Some(p) => format!("redis://:{p}@127.0.0.1:{}/0", self.port),
            None => format!("redis://127.0.0.1:{}/0", self.port),
        }
    }

    /// A connection for the test's own reads and writes.
    pub fn connection(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .and_then(|c| c.get_connection_with_timeout(WAIT))
            .expect("redis connection")
    }

    /// SIGKILL, like a crash: its keys are gone (nothing is saved).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Start it again on the same port, empty.
    pub fn restart(&mut self) {
        self.kill();
        assert!(
            self.spawn(),
            "port {} taken while redis was down",
            self.port
        );
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
