//! Throw-away PostgreSQL clusters for tests: `initdb` + `pg_ctl` from Debian's postgresql package
//! (`/usr/lib/postgresql/*/bin`), run as the `postgres` user when the tests run as root (initdb
//! refuses root), in a temporary directory, on a free loopback port. One shared cluster per test
//! process (a fresh database per test); tests that stop the database get a private cluster. A
//! small reaper process stops and removes a cluster when the test process exits, however it ends.
//!
//! In CI (`CI` set) a missing PostgreSQL fails the tests that need it; elsewhere they print loudly
//! that they did not run.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// A running cluster.
pub struct Cluster {
    bin: PathBuf,
    root: PathBuf,
    pub port: u16,
    as_postgres: bool,
}

/// The newest installed server's bin directory.
fn server_bin() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn postgres_ids() -> Option<(u32, u32)> {
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id").args([flag, "postgres"]).output().ok()?;
        String::from_utf8(out.stdout).ok()?.trim().parse().ok()
    };
    Some((id("-u")?, id("-g")?))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl Cluster {
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }

    fn run(&self, program: &str, args: &[&str]) -> Result<(), String> {
        let out = self
            .command(program)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{program}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{program} {args:?} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    fn data(&self) -> String {
        self.root.join("data").display().to_string()
    }

    /// initdb + start on a free port; `None` when PostgreSQL is not installed.
    pub fn start() -> Option<Result<Cluster, String>> {
        let bin = server_bin()?;
        Some(Self::start_with(bin))
    }

    fn start_with(bin: PathBuf) -> Result<Cluster, String> {
        let root = tempfile::Builder::new()
            .prefix("tsh-pg-")
            .tempdir()
            .map_err(|e| e.to_string())?
            .keep();
        let as_postgres = running_as_root();
        if as_postgres {
            let (uid, gid) = postgres_ids().ok_or("no postgres user to run initdb as")?;
            std::os::unix::fs::chown(&root, Some(uid), Some(gid)).map_err(|e| e.to_string())?;
        }
        let mut cluster = Cluster {
            bin,
            root,
            port: 0,
            as_postgres,
        };
        reap_at_exit(&cluster);
        let data = cluster.data();
        cluster.run(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        )?;
        let mut last_error = String::new();
        for _ in 0..3 {
            cluster.port = free_port();
            match cluster.start_server() {
                Ok(()) => return Ok(cluster),
                Err(e) => last_error = e,
            }
        }
        Err(last_error)
    }

    /// (Re)starts the server on its port. Test speed: no fsync (a test cluster never outlives the
    /// tests); the service's own durability does not depend on it.
    pub fn start_server(&self) -> Result<(), String> {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off \
             -c synchronous_commit=off -c max_connections=400",
            self.port,
            self.root.display()
        );
        let log = self.root.join("server.log").display().to_string();
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-l",
                &log,
                "-o",
                &options,
                "-w",
                "-t",
                "30",
                "start",
            ],
        )
    }

    /// Stops the server (fast shutdown: clients are disconnected), keeping its data.
    pub fn stop_server(&self) -> Result<(), String> {
        self.run("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"])
    }

    /// A new, empty database; returns its URL.
    pub fn create_database(&self, name: &str) -> String {
        let port = self.port.to_string();
        let status = Command::new(self.bin.join("createdb"))
            .args(["-h", "127.0.0.1", "-p", &port, "-U", "postgres", name])
            .status()
            .expect("createdb runs");
        assert!(status.success(), "createdb {name} failed");
        self.url(name)
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Runs SQL with psql and returns its unaligned output.
    pub fn psql(&self, database: &str, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1"])
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                database,
                "-c",
                sql,
            ])
            .output()
            .expect("psql runs");
        assert!(
            out.status.success(),
            "psql failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Everything in one database as `pg_dump` writes it (plain SQL).
    pub fn dump(&self, database: &str) -> String {
        let out = Command::new(self.bin.join("pg_dump"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                database,
            ])
            .output()
            .expect("pg_dump runs");
        assert!(out.status.success(), "pg_dump failed");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// Stops and removes the cluster once this test process is gone (normal end, panic or kill).
fn reap_at_exit(cluster: &Cluster) {
    let stop = if cluster.as_postgres {
        format!(
            "runuser -u postgres -- {} -D {} -m immediate stop",
            cluster.bin.join("pg_ctl").display(),
            cluster.data()
        )
    } else {
        format!(
            "{} -D {} -m immediate stop",
            cluster.bin.join("pg_ctl").display(),
            cluster.data()
        )
    };
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; {stop} >/dev/null 2>&1; rm -rf {root}",
        pid = std::process::id(),
        root = cluster.root.display()
    );
    let _ = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}

/// The cluster shared by this test process, or `None` (after a loud notice, or a failure in CI)
/// when PostgreSQL is not installed.
pub fn shared() -> Option<&'static Cluster> {
    static SHARED: OnceLock<Option<Cluster>> = OnceLock::new();
    SHARED
        .get_or_init(|| match Cluster::start() {
            Some(Ok(cluster)) => Some(cluster),
            Some(Err(e)) => panic!("cannot start a throw-away PostgreSQL cluster: {e}"),
            None => None,
        })
        .as_ref()
}

/// [`shared`], or `None` after saying loudly that `what` did not run (a failure in CI).
pub fn shared_or_skip(what: &str) -> Option<&'static Cluster> {
    let cluster = shared();
    if cluster.is_none() {
        not_installed(what);
    }
    cluster
}

/// A private cluster (for tests that stop the server), or `None` as in [`shared_or_skip`].
pub fn private_or_skip(what: &str) -> Option<Cluster> {
    match Cluster::start() {
        Some(Ok(cluster)) => Some(cluster),
        Some(Err(e)) => panic!("cannot start a throw-away PostgreSQL cluster: {e}"),
        None => {
            not_installed(what);
            None
        }
    }
}

fn not_installed(what: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("PostgreSQL is required in CI ({what}); .ci/run installs the postgresql package");
    }
    // Written to the real stderr: the test harness's capture would hide an eprintln!.
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "\n*** NOT RUN: {what}: PostgreSQL is not installed (apt-get install postgresql) ***\n"
    );
}

/// A fresh database in the shared cluster, with a name unique in this process.
pub fn fresh_database(cluster: &Cluster, tag: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "{}_{}",
        tag.chars()
            .filter(char::is_ascii_alphanumeric)
            .take(20)
            .collect::<String>()
            .to_ascii_lowercase(),
        N.fetch_add(1, Ordering::SeqCst)
    );
    cluster.create_database(&name);
    name
}

/// The directory a cluster lives in (for logs in failure messages).
#[allow(dead_code)]
pub fn root(cluster: &Cluster) -> &Path {
    &cluster.root
}
