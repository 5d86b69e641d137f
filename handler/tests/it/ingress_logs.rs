//! Secrets, signatures and bodies never reach the logs: the log output of a batch of valid and
//! invalid requests is captured and searched.

use std::io::Write;
use std::sync::{Arc, Mutex};

use tracing_subscriber::fmt::MakeWriter;

use crate::common::faults::faulty_app;
use crate::common::ingress::*;
use crate::common::*;

const MARKER: &str = "MARKER-body-3f9c2a";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

#[tokio::test(flavor = "current_thread")]
async fn secrets_signatures_and_bodies_never_appear_in_the_logs() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(captured.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let (app, faults) = faulty_app();
    let body = format!(r#"{{"event":"push","data":{{"note":"{MARKER}"}}}}"#);
    let sig = sign(body.as_bytes());
    let ts = unix_now(&app);
    let ts_sig = sign_timestamped(&ts, body.as_bytes());
    let sw = standard_signature(SECRET, "msg_log", &ts, body.as_bytes());
    let wrong = sign_with("wrong", body.as_bytes());
    let hub = format!("sha256={sig}");
    let json = ("content-type", "application/json");
    let batches: Vec<Vec<(&str, &str)>> = vec![
        vec![json, ("x-signature", &sig)],
        vec![json, ("x-signature", &sig)],
        vec![json, ("x-signature", &wrong)],
        vec![json, ("x-signature", &ts_sig), ("x-timestamp", &ts)],
        vec![json, ("x-signature", &ts_sig), ("x-timestamp", "12x")],
        vec![json, ("x-hub-signature-256", &hub)],
        vec![
            json,
            ("webhook-id", "msg_log"),
            ("webhook-timestamp", &ts),
            ("webhook-signature", &sw),
        ],
        vec![json, ("x-webhook-secret", SECRET), ("x-delivery-id", "d-1")],
        vec![json, ("x-webhook-secret", "not-the-secret")],
        vec![("content-type", "text/plain"), ("x-webhook-secret", SECRET)],
    ];
    let mut statuses = Vec::new();
    for (i, headers) in batches.iter().enumerate() {
        let (response, _) = send(&app, post("c1", "a1", headers, body.clone())).await;
        statuses.push((i, response.status().as_u16()));
    }
    // Outages log their causes; those lines must be clean too.
    faults.fail_store(true);
    let fresh = format!(r#"{{"data":"{MARKER}-store"}}"#);
    let (response, _) = send(&app, trigger_request("c1", "a1", &fresh)).await;
    statuses.push((100, response.status().as_u16()));
    faults.fail_store(false);
    faults.fail_queue(true);
    let fresh = format!(r#"{{"data":"{MARKER}-queue"}}"#);
    let (response, _) = send(&app, trigger_request("c1", "a1", &fresh)).await;
    statuses.push((101, response.status().as_u16()));
    assert!(statuses.iter().any(|(_, s)| *s == 202), "{statuses:?}");
    assert!(statuses.iter().any(|(_, s)| *s == 401), "{statuses:?}");
    assert!(statuses.iter().any(|(_, s)| *s == 503), "{statuses:?}");

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    // The capture works: accepted webhooks, failed authentications and outages were logged.
    assert!(logs.contains("webhook accepted"), "{logs}");
    assert!(logs.contains("webhook authentication failed"), "{logs}");
    assert!(logs.contains("run queue failed"), "{logs}");
    for (what, needle) in [
        ("the secret", SECRET),
        ("the wrong plaintext secret", "not-the-secret"),
        ("the signature", sig.as_str()),
        ("the signature (upper case)", &sig.to_uppercase()),
        ("the timestamped signature", ts_sig.as_str()),
        ("the wrong signature", wrong.as_str()),
        ("the Standard Webhooks signature", &sw[3..]),
        ("the body", MARKER),
    ] {
        assert!(
            !logs.contains(needle),
            "{what} appears in the logs:\n{logs}"
        );
    }
}
