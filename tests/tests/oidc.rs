//! Sign-in through an OpenID Connect identity provider: key pairs made here with the openssl
//! command, their public halves served as a JWKS by a small HTTP server in this test, tokens
//! signed like Keycloak's (roles under `realm_access.roles`). An operator token for two areas
//! gets exactly an operator's rights on exactly those areas; expired, wrongly signed, foreign
//! issuer or audience → 401; a token naming a key the engine does not know yet makes it read
//! the key set again.

use ioc_tests::open311::Open311Client;
use ioc_tests::publish::Publisher;
use ioc_tests::{Engine, EngineOptions};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ISSUER: &str = "https://sso.hanoi.test/realms/ioc";
const AUDIENCE: &str = "ioc-dashboard";
const KEY: &str = "oidc-app";

/// A private key made by `openssl`, in the DER form jsonwebtoken reads.
fn openssl_key(dir: &Path, name: &str, algorithm: Algorithm) -> EncodingKey {
    let pem = dir.join(format!("{name}.pem"));
    let der = dir.join(format!("{name}.der"));
    let run = |args: &[&str]| {
        let output = Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl");
        assert!(
            output.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let (pem_s, der_s) = (pem.to_string_lossy(), der.to_string_lossy());
    match algorithm {
        Algorithm::RS256 => {
            run(&[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-out",
                &pem_s,
            ]);
            // PKCS#1, the RSA DER form jsonwebtoken takes.
            run(&[
                "rsa",
                "-in",
                &pem_s,
                "-traditional",
                "-outform",
                "DER",
                "-out",
                &der_s,
            ]);
            EncodingKey::from_rsa_der(&std::fs::read(&der).expect("der"))
        }
        _ => {
            run(&[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                &pem_s,
            ]);
            // PKCS#8, the EC DER form jsonwebtoken takes (genpkey's own DER is SEC1).
            run(&[
                "pkcs8", "-topk8", "-nocrypt", "-in", &pem_s, "-outform", "DER", "-out", &der_s,
            ]);
            EncodingKey::from_ec_der(&std::fs::read(&der).expect("der"))
        }
    }
}

/// The public JWK of a private key, under `kid`.
fn jwk(key: &EncodingKey, algorithm: Algorithm, kid: &str) -> Jwk {
    let mut jwk = Jwk::from_encoding_key(key, algorithm).expect("jwk");
    jwk.common.key_id = Some(kid.to_string());
    jwk
}

/// An identity provider's two endpoints: its discovery document at
/// `/realms/ioc/.well-known/openid-configuration` (naming the key set's URL) and, for every
/// other path, the current key set. Counts the requests of each.
struct JwksServer {
    /// The issuer this server stands for: `http://<addr>/realms/ioc`.
    issuer: String,
    url: String,
    keys: Arc<Mutex<JwkSet>>,
    requests: Arc<AtomicUsize>,
    discoveries: Arc<AtomicUsize>,
}

impl JwksServer {
    async fn start(keys: JwkSet) -> JwksServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let issuer = format!("http://{}/realms/ioc", listener.local_addr().expect("addr"));
        let url = format!("{issuer}/protocol/openid-connect/certs");
        let keys = Arc::new(Mutex::new(keys));
        let requests = Arc::new(AtomicUsize::new(0));
        let discoveries = Arc::new(AtomicUsize::new(0));
        let (served, counter, discovered) = (
            Arc::clone(&keys),
            Arc::clone(&requests),
            Arc::clone(&discoveries),
        );
        let document = json!({"issuer": issuer, "jwks_uri": url}).to_string();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut head = Vec::new();
                let mut buffer = [0_u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buffer[..n]),
                    }
                }
                let path = String::from_utf8_lossy(&head)
                    .split(' ')
                    .nth(1)
                    .unwrap_or_default()
                    .to_string();
                let body = if path == "/realms/ioc/.well-known/openid-configuration" {
                    discovered.fetch_add(1, Ordering::SeqCst);
                    document.clone()
                } else {
                    counter.fetch_add(1, Ordering::SeqCst);
                    serde_json::to_string(&*served.lock().expect("keys")).expect("json")
                };
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                     connection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
                let _ = stream.shutdown().await;
            }
        });
        JwksServer {
            issuer,
            url,
            keys,
            requests,
            discoveries,
        }
    }

    /// Requests for the key set.
    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// Requests for the discovery document.
    fn discoveries(&self) -> usize {
        self.discoveries.load(Ordering::SeqCst)
    }
}

/// The flags of an engine signing in through `issuer` with Keycloak-shaped claims; keys from
/// `jwks` (a URL or a file), or from the issuer's discovery document when `None`.
fn oidc_args(issuer: &str, jwks: Option<&str>) -> Vec<String> {
    let mut args = vec![
        "--oidc-issuer",
        issuer,
        "--oidc-role-claim",
        "realm_access.roles",
        "--oidc-areas-claim",
        "ioc_areas",
    ];
    if let Some(jwks) = jwks {
        args.extend(["--oidc-jwks", jwks]);
    }
    args.into_iter().map(String::from).collect()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Keycloak-shaped claims: realm roles, an `ioc_areas` list, issuer and audience.
fn claims(roles: &[&str], areas: &[&str], exp: i64) -> Value {
    json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": "c2f1-operator-hoa", "iat": now(), "exp": exp,
        "preferred_username": "hoa.nguyen",
        "realm_access": {"roles": roles},
        "ioc_areas": areas,
    })
}

fn sign(key: &EncodingKey, algorithm: Algorithm, kid: &str, claims: &Value) -> String {
    let mut header = Header::new(algorithm);
    header.kid = Some(kid.to_string());
    jsonwebtoken::encode(&header, claims, key).expect("sign")
}

async fn status(
    engine: &Engine,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> u16 {
    engine
        .call(method, path, Some(token), body.as_ref())
        .await
        .0
}

async fn get(engine: &Engine, path: &str, token: &str) -> Value {
    let (status, body) = engine.call("GET", path, Some(token), None).await;
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

/// A report at `lat`/`long` that must be accepted; its id.
async fn post_report(client: &Open311Client, lat: &str, long: &str) -> String {
    client
        .create(&[
            ("api_key", KEY),
            ("service_code", "environment"),
            ("lat", lat),
            ("long", long),
            ("description", "Rác thải chưa thu gom"),
        ])
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_tokens_carry_exactly_their_role_and_areas() {
    let keys_dir = ioc_tests::scratch_dir("oidc-keys");
    let rsa = openssl_key(&keys_dir, "rsa", Algorithm::RS256);
    let intruder = openssl_key(&keys_dir, "intruder", Algorithm::RS256);
    let ec = openssl_key(&keys_dir, "ec", Algorithm::ES256);
    let jwks = JwksServer::start(JwkSet {
        keys: vec![jwk(&rsa, Algorithm::RS256, "rsa-1")],
    })
    .await;

    let mut options = EngineOptions::new("oidc").with_env("IOC_OPEN311_API_KEYS", KEY);
    options.extra_args = oidc_args(ISSUER, Some(&jwks.url));
    options
        .extra_args
        .extend(["--oidc-audience".to_string(), AUDIENCE.to_string()]);
    // Every unknown key id may refresh the set at once (the default waits 10 s in between).
    let engine = Engine::start(options.with_env("IOC_OIDC_REFRESH_MIN_INTERVAL", "0s")).await;

    // Telemetry in the token's two areas and outside them.
    let root = engine.options.topic_root.clone();
    let (host, port) = engine.options.broker.address();
    let mut publisher = Publisher::connect(&host, port).await;
    let sent = [("dong-da", 3_u64), ("ba-dinh", 2), ("hoan-kiem", 4)];
    for (area, n) in sent {
        for k in 0..n {
            let body = json!({"id": format!("{area}-{k}"), "source": format!("{area}-noise"),
                "ts": chrono::Utc::now().timestamp_millis() - k as i64, "values": {"laeq": 60.0}});
            publisher
                .publish(
                    &format!("{root}/{area}/noise/{area}-noise"),
                    body.to_string(),
                )
                .await;
        }
    }
    publisher.wait_acked().await;
    engine
        .wait_for(Duration::from_secs(30), |o| {
            o["events_total"].as_u64() == Some(9)
        })
        .await;
    let client = Open311Client::new(&engine.url(""));
    let in_scope = post_report(&client, "21.013", "105.825").await; // dong-da
    let outside = post_report(&client, "21.029", "105.853").await; // hoan-kiem

    let operator = sign(
        &rsa,
        Algorithm::RS256,
        "rsa-1",
        &claims(
            &["offline_access", "operator"],
            &["dong-da", "ba-dinh"],
            now() + 3600,
        ),
    );
    assert_eq!(jwks.requests(), 0, "keys are read at the first OIDC token");

    // Exactly the two areas, with what was sent to them.
    let overview = get(&engine, "/api/views/overview", &operator).await;
    let areas: BTreeSet<&str> = overview["areas"]
        .as_array()
        .expect("areas")
        .iter()
        .filter_map(|a| a["id"].as_str())
        .collect();
    assert_eq!(areas, BTreeSet::from(["ba-dinh", "dong-da"]));
    assert_eq!(ioc_tests::engine::count(&overview, "dong-da", "noise"), 3);
    assert_eq!(ioc_tests::engine::count(&overview, "ba-dinh", "noise"), 2);
    assert_eq!(jwks.requests(), 1);

    // Exactly an operator's rights: acts on reports in scope, not outside it, no admin reads.
    let assign = json!({"agency": "URENCO Hà Nội"});
    let rights = [
        ("GET", "/api/views/area?area=ba-dinh".to_string(), None, 200),
        (
            "GET",
            "/api/views/area?area=hoan-kiem".to_string(),
            None,
            403,
        ),
        (
            "POST",
            format!("/api/reports/{in_scope}/assign"),
            Some(assign.clone()),
            200,
        ),
        (
            "POST",
            format!("/api/reports/{outside}/assign"),
            Some(assign),
            403,
        ),
        ("POST", "/api/alerts/AL-0-none/ack".to_string(), None, 404),
        ("GET", "/api/deadletter".to_string(), None, 403),
    ];
    for (method, path, body, expected) in rights {
        assert_eq!(
            status(&engine, method, &path, &operator, body).await,
            expected,
            "{method} {path}"
        );
    }

    // A viewer role only reads.
    let viewer = sign(
        &rsa,
        Algorithm::RS256,
        "rsa-1",
        &claims(&["viewer"], &["dong-da"], now() + 3600),
    );
    assert_eq!(
        status(
            &engine,
            "POST",
            &format!("/api/reports/{in_scope}/assign"),
            &viewer,
            Some(json!({"agency": "x"}))
        )
        .await,
        403
    );

    // Refused outright: expired, signed by another key under the known kid, another issuer,
    // another audience, no known role.
    let mut foreign_issuer = claims(&["operator"], &["dong-da"], now() + 3600);
    foreign_issuer["iss"] = json!("https://evil.example/realms/ioc");
    let mut foreign_audience = claims(&["operator"], &["dong-da"], now() + 3600);
    foreign_audience["aud"] = json!("another-client");
    let refused = [
        (
            "expired",
            sign(
                &rsa,
                Algorithm::RS256,
                "rsa-1",
                &claims(&["operator"], &["dong-da"], now() - 60),
            ),
        ),
        (
            "wrong key",
            sign(
                &intruder,
                Algorithm::RS256,
                "rsa-1",
                &claims(&["operator"], &["dong-da"], now() + 3600),
            ),
        ),
        (
            "issuer",
            sign(&rsa, Algorithm::RS256, "rsa-1", &foreign_issuer),
        ),
        (
            "audience",
            sign(&rsa, Algorithm::RS256, "rsa-1", &foreign_audience),
        ),
        (
            "no role",
            sign(
                &rsa,
                Algorithm::RS256,
                "rsa-1",
                &claims(&["offline_access"], &[], now() + 3600),
            ),
        ),
    ];
    for (what, token) in refused {
        assert_eq!(
            status(&engine, "GET", "/api/views/overview", &token, None).await,
            401,
            "{what}"
        );
    }
    assert_eq!(jwks.requests(), 1, "known key ids need no refresh");

    // The provider adds an ES256 key: a token under the new kid makes the engine read the set
    // again. Before the key is published the refresh finds nothing: 401.
    // A city-wide admin: no areas claim at all.
    let mut city_admin = claims(&["admin"], &[], now() + 3600);
    city_admin
        .as_object_mut()
        .map(|claims| claims.remove("ioc_areas"));
    let es_token = sign(&ec, Algorithm::ES256, "ec-2", &city_admin);
    assert_eq!(
        status(&engine, "GET", "/api/deadletter", &es_token, None).await,
        401
    );
    assert_eq!(jwks.requests(), 2);
    jwks.keys
        .lock()
        .expect("keys")
        .keys
        .push(jwk(&ec, Algorithm::ES256, "ec-2"));
    assert_eq!(
        status(&engine, "GET", "/api/deadletter", &es_token, None).await,
        200
    );
    assert_eq!(jwks.requests(), 3);
    // The engine's own HS256 tokens still work next to OIDC.
    let admin = engine.overview().await;
    assert_eq!(admin["areas"].as_array().map(Vec::len), Some(30));
    let _ = std::fs::remove_dir_all(&keys_dir);
}

/// Without `--oidc-jwks` the engine finds the keys through the issuer's discovery document;
/// with a JWKS file it reads the file and asks no server at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_come_from_discovery_or_from_a_jwks_file() {
    let keys_dir = ioc_tests::scratch_dir("oidc-discovery");
    let rsa = openssl_key(&keys_dir, "rsa", Algorithm::RS256);
    let set = JwkSet {
        keys: vec![jwk(&rsa, Algorithm::RS256, "rsa-1")],
    };
    let provider = JwksServer::start(set.clone()).await;
    let file = keys_dir.join("jwks.json");
    std::fs::write(&file, serde_json::to_string(&set).expect("json")).expect("jwks file");

    for jwks in [None, Some(file.to_string_lossy().to_string())] {
        let mut options = EngineOptions::new("oidc-discovery");
        options.extra_args = oidc_args(&provider.issuer, jwks.as_deref());
        let engine = Engine::start(options).await;
        let before = (provider.discoveries(), provider.requests());
        let mut operator = claims(&["operator"], &["tay-ho"], now() + 3600);
        operator["iss"] = json!(provider.issuer);
        operator.as_object_mut().map(|claims| claims.remove("aud"));
        let token = sign(&rsa, Algorithm::RS256, "rsa-1", &operator);
        let overview = get(&engine, "/api/views/overview", &token).await;
        let areas: Vec<&str> = overview["areas"]
            .as_array()
            .expect("areas")
            .iter()
            .filter_map(|a| a["id"].as_str())
            .collect();
        assert_eq!(areas, ["tay-ho"], "jwks {jwks:?}");
        let asked = (
            provider.discoveries() - before.0,
            provider.requests() - before.1,
        );
        let expected = if jwks.is_none() { (1, 1) } else { (0, 0) };
        assert_eq!(
            asked, expected,
            "jwks {jwks:?}: (discovery, key set) requests"
        );
    }
    let _ = std::fs::remove_dir_all(&keys_dir);
}
