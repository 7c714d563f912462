//! PostgreSQL for the cluster tests: a fresh database per test on the machine's server
//! ([`TestDatabase`]), or a private server of its own under the temp dir ([`PrivatePostgres`])
//! for a test that restarts it.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// Runs blocking database work on a thread of its own: the synchronous client drives its own
/// runtime and must not run on a thread of the test's async runtime.
fn off_runtime<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| scope.spawn(work).join().expect("database thread"))
}

fn connect(url: &str) -> postgres::Client {
    postgres::Client::connect(url, postgres::NoTls).expect("connect to PostgreSQL")
}

/// The machine's server (`IOC_TEST_POSTGRES`, default the local one, trust auth).
pub fn admin_url() -> String {
    std::env::var("IOC_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

/// A database created for one test and dropped (with its connections) when it ends.
pub struct TestDatabase {
    /// The database name.
    pub name: String,
    /// URL of the server it lives on (any database).
    server: String,
}

impl TestDatabase {
    /// Creates `ioc_<test>_<pid>` on the machine's server.
    pub fn create(test: &str) -> TestDatabase {
        Self::create_on(&admin_url(), test)
    }

    /// Creates the database on the server `server` points at.
    pub fn create_on(server: &str, test: &str) -> TestDatabase {
        let name = format!("ioc_{}_{}", test.replace('-', "_"), std::process::id());
        off_runtime(|| {
            let mut admin = connect(server);
            admin
                .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .expect("drop old database");
            admin
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .expect("create database");
        });
        TestDatabase {
            name,
            server: server.to_string(),
        }
    }

    /// The database's URL, as `--database-url` takes it.
    pub fn url(&self) -> String {
        match self.server.rsplit_once('/') {
            Some((base, _)) => format!("{base}/{}", self.name),
            None => format!("{}/{}", self.server, self.name),
        }
    }

    /// A connection for checking what the journal holds (from a test's own thread only;
    /// async tests use [`TestDatabase::count`] and [`TestDatabase::strings`]).
    pub fn client(&self) -> postgres::Client {
        connect(&self.url())
    }

    /// The single number `sql` selects.
    pub fn count(&self, sql: &str) -> i64 {
        off_runtime(|| self.client().query_one(sql, &[]).expect(sql).get(0))
    }

    /// The first column of every row `sql` selects, as text.
    pub fn strings(&self, sql: &str) -> Vec<String> {
        off_runtime(|| {
            self.client()
                .query(sql, &[])
                .expect(sql)
                .iter()
                .map(|row| row.get(0))
                .collect()
        })
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (server, name) = (&self.server, &self.name);
        off_runtime(|| {
            if let Ok(mut admin) = postgres::Client::connect(server, postgres::NoTls) {
                let _ =
                    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        });
    }
}

/// A PostgreSQL server of one test (initdb + pg_ctl, run as the `postgres` user), on a free
/// port, that the test may stop and start; removed on drop.
pub struct PrivatePostgres {
    dir: PathBuf,
    bin: PathBuf,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

/// Runs a PostgreSQL tool as the `postgres` user (initdb refuses root).
fn as_postgres(tool: &std::path::Path, args: &[&str]) {
    let output = Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(tool)
        .args(args)
        .output()
        .expect("runuser");
    assert!(
        output.status.success(),
        "{} {args:?}: {}{}",
        tool.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

impl PrivatePostgres {
    /// Initialises a cluster under the temp dir and starts it.
    pub fn start(test: &str) -> PrivatePostgres {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL installed under /usr/lib/postgresql")
            .filter_map(|entry| entry.ok().map(|e| e.path().join("bin")))
            .find(|bin| bin.join("initdb").exists())
            .expect("initdb");
        let dir = std::env::temp_dir().join(format!("ioc-pg-{}", crate::unique_root(test)));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("pg dir");
        let status = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(&dir)
            .status()
            .expect("chown");
        assert!(status.success());
        let data = dir.join("data");
        let data_arg = data.display().to_string();
        as_postgres(
            &bin.join("initdb"),
            &[
                "-D",
                &data_arg,
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
            ],
        );
        let server = PrivatePostgres {
            dir,
            bin,
            port: crate::free_port(),
        };
        server.start_again();
        server
    }

    fn pg_ctl(&self, args: &[&str]) {
        let data = self.dir.join("data").display().to_string();
        let mut all = vec!["-D", data.as_str(), "-w", "-t", "60"];
        all.extend(args);
        as_postgres(&self.bin.join("pg_ctl"), &all);
    }

    /// Starts the (stopped) server and waits until it accepts connections.
    pub fn start_again(&self) {
        let log = self.dir.join("log").display().to_string();
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.display()
        );
        self.pg_ctl(&["-l", &log, "-o", &options, "start"]);
        let deadline = Instant::now() + Duration::from_secs(30);
        let url = self.url("postgres");
        while off_runtime(|| postgres::Client::connect(&url, postgres::NoTls).is_err()) {
            assert!(
                Instant::now() < deadline,
                "private PostgreSQL did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the server (fast: open transactions are rolled back, commits are kept).
    pub fn stop(&self) {
        self.pg_ctl(&["-m", "fast", "stop"]);
    }

    /// URL of a database on this server.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let data = self.dir.join("data").display().to_string();
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .args(["-D", &data, "-m", "immediate", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
