//! Endpoints scripted for what moto cannot do (refuse a token, fail transiently), and the STS and
//! CircleCI documents they answer with.

use super::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

/// A scripted HTTP endpoint: answers each request with the next canned (status, body) and
/// records each request (head and body). For what moto cannot do: refuse a token, fail transiently.
pub struct Scripted {
    pub url: String,
    pub requests: Arc<Mutex<Vec<String>>>,
}

impl Scripted {
    pub fn start(replies: Vec<(u16, String)>) -> Scripted {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        std::thread::spawn(move || {
            for (status, body) in replies {
                let Ok((mut conn, _)) = listener.accept() else {
                    return;
                };
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut len = 0usize;
                let mut head = String::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                    head.push_str(&line);
                }
                let mut req = vec![0; len];
                let _ = reader.read_exact(&mut req);
                seen.lock()
                    .unwrap()
                    .push(format!("{head}\r\n{}", String::from_utf8_lossy(&req)));
                let content_type = if body.starts_with('{') {
                    "application/x-amz-json-1.1"
                } else {
                    "text/xml"
                };
                let _ = write!(
                    conn,
                    "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Scripted { url, requests }
    }

    pub fn request_count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
}

/// An STS awsQuery error document.
pub fn sts_error(code: &str, message: &str) -> String {
    format!("<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>r-1</RequestId></ErrorResponse>")
}

/// A successful AssumeRoleWithWebIdentity reply carrying the given secret values.
pub fn sts_assumed(secret: &str, session: &str) -> String {
    format!(
        "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleWithWebIdentityResult>\
<Credentials><AccessKeyId>ASIASCRIPTED</AccessKeyId><SecretAccessKey>{secret}</SecretAccessKey><SessionToken>{session}</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials>\
<AssumedRoleUser><Arn>arn:aws:sts::{ACCOUNT}:assumed-role/ci/s</Arn><AssumedRoleId>AROA:s</AssumedRoleId></AssumedRoleUser>\
</AssumeRoleWithWebIdentityResult><ResponseMetadata><RequestId>r-2</RequestId></ResponseMetadata></AssumeRoleWithWebIdentityResponse>"
    )
}

/// A CircleCI-shaped JWT (unsigned: moto and the scripted endpoint do not verify) whose
/// signature part is `sig`, so tests can look for it in output.
pub fn circleci_token(project: &str, exp_in_secs: i64, sig: &str) -> String {
    use base64::Engine;
    let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let claims = serde_json::json!({
        "iss": "https://oidc.circleci.com/org/org-1",
        "aud": "org-1",
        "sub": format!("org/org-1/project/{project}/user/user-1/vcs-origin/github.com/acme/app/vcs-ref/refs/heads/main"),
        "exp": now + exp_in_secs,
        "iat": now,
    });
    format!(
        "{}.{}.{sig}",
        e.encode(br#"{"alg":"RS256","typ":"JWT"}"#),
        e.encode(claims.to_string())
    )
}
