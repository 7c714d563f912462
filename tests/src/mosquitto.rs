//! A private Mosquitto for one test: its own port, config, password file, TLS certificates
//! and persistence directory, so a test can stop, restart or misconfigure it without touching
//! the machine's broker or other tests.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How to configure a private broker.
#[derive(Debug, Clone, Default)]
pub struct MosquittoOptions {
    /// Users allowed in (anonymous access is off when there is at least one).
    pub users: Vec<(String, String)>,
    /// Serve TLS with a certificate for `localhost`/`127.0.0.1` signed by a test CA.
    pub tls: bool,
    /// Keep sessions and queued messages on disk across a restart.
    pub persistence: bool,
}

/// PEM files made for one test by the `openssl` command line.
#[derive(Debug, Clone)]
pub struct TestPki {
    /// The CA that signed the broker's certificate.
    pub ca: PathBuf,
    /// Another CA, which signed nothing the broker shows.
    pub other_ca: PathBuf,
    /// The broker's certificate and key.
    pub server_cert: PathBuf,
    /// The broker's private key.
    pub server_key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

impl TestPki {
    /// Makes two CAs (P-256) and a server certificate for `localhost` and `127.0.0.1`.
    pub fn create(dir: &Path) -> TestPki {
        std::fs::create_dir_all(dir).expect("pki dir");
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
        for name in ["ca", "other-ca"] {
            let mut args = vec!["req", "-x509", "-nodes", "-days", "2"];
            args.extend(ec);
            let (key, cert, subject) = (
                format!("{name}.key"),
                format!("{name}.pem"),
                format!("/CN=IOC test {name}"),
            );
            args.extend(["-keyout", &key, "-out", &cert, "-subj", &subject]);
            args.extend([
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ]);
            openssl(dir, &args);
        }
        let mut args = vec!["req", "-nodes"];
        args.extend(ec);
        args.extend([
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ]);
        openssl(dir, &args);
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
             keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
        )
        .expect("extensions file");
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                "server.ext",
                "-out",
                "server.pem",
            ],
        );
        TestPki {
            ca: dir.join("ca.pem"),
            other_ca: dir.join("other-ca.pem"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server.key"),
        }
    }
}

/// A running private Mosquitto; stopped and its directory removed on drop.
pub struct Mosquitto {
    child: Option<Child>,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Its directory (config, password file, certificates, persistence, log).
    pub dir: PathBuf,
    /// The test PKI, when it serves TLS.
    pub pki: Option<TestPki>,
    options: MosquittoOptions,
}

impl Mosquitto {
    /// Writes the config and starts the broker on a free port; returns once it accepts
    /// connections.
    pub fn start(test: &str, options: MosquittoOptions) -> Mosquitto {
        let dir = std::env::temp_dir().join(format!("ioc-mosq-{}", crate::unique_root(test)));
        std::fs::create_dir_all(dir.join("data")).expect("broker dir");
        let port = crate::free_port();
        let pki = options.tls.then(|| TestPki::create(&dir.join("pki")));
        let mut conf = format!(
            "user root\nlistener {port} 127.0.0.1\nlog_dest file {log}\n\
             log_type error\nlog_type warning\nlog_type notice\nlog_type information\n\
             max_queued_messages 1000000\nmax_queued_bytes 0\nmax_inflight_messages 0\n",
            log = dir.join("mosquitto.log").display()
        );
        if options.persistence {
            conf.push_str(&format!(
                "persistence true\npersistence_location {}/\nautosave_interval 1\n",
                dir.join("data").display()
            ));
        }
        if options.users.is_empty() {
            conf.push_str("allow_anonymous true\n");
        } else {
            let file = dir.join("passwords");
            for (index, (user, password)) in options.users.iter().enumerate() {
                let mut command = Command::new("mosquitto_passwd");
                if index == 0 {
                    command.arg("-c");
                }
                let status = command
                    .arg("-b")
                    .arg(&file)
                    .arg(user)
                    .arg(password)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .expect("mosquitto_passwd");
                assert!(status.success(), "mosquitto_passwd failed");
            }
            conf.push_str(&format!(
                "allow_anonymous false\npassword_file {}\n",
                file.display()
            ));
        }
        if let Some(pki) = &pki {
            conf.push_str(&format!(
                "cafile {}\ncertfile {}\nkeyfile {}\n",
                pki.ca.display(),
                pki.server_cert.display(),
                pki.server_key.display()
            ));
        }
        std::fs::write(dir.join("mosquitto.conf"), conf).expect("broker config");
        let mut broker = Mosquitto {
            child: None,
            port,
            dir,
            pki,
            options,
        };
        broker.spawn();
        broker
    }

    fn spawn(&mut self) {
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(self.dir.join("mosquitto.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mosquitto");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "private mosquitto did not listen on {}: {}",
                self.port,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `mqtt://[user:pass@]127.0.0.1:port`, or `mqtts://[user:pass@]localhost:port` with TLS.
    pub fn url_as(&self, credentials: Option<(&str, &str)>) -> String {
        let credentials = credentials
            .map(|(user, password)| format!("{user}:{password}@"))
            .unwrap_or_default();
        if self.options.tls {
            format!("mqtts://{credentials}localhost:{}", self.port)
        } else {
            format!("mqtt://{credentials}127.0.0.1:{}", self.port)
        }
    }

    /// The URL with the first configured user's credentials (if any).
    pub fn url(&self) -> String {
        let first = self.options.users.first();
        self.url_as(first.map(|(u, p)| (u.as_str(), p.as_str())))
    }

    /// Stops the broker with SIGTERM (it writes its persistence file) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let _ = child.wait();
        }
    }

    /// Starts the broker again on the same port, config and persistence.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// The broker's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("mosquitto.log")).unwrap_or_default()
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
