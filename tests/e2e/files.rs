//! Files and images: upload for a conversation, send a message naming the file, download it
//! (whole and by range) as a participant; everyone else is refused.

use crate::harness::{Harness, eventually};
use serde_json::{Value, json};
use tidings_store::plan::cache::DEFAULT_CAPACITY as CACHE;
use tidings_testkit::ServerApi;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A PNG signature and header, then `len` bytes in all (the content check reads the signature).
fn png(len: usize) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\x02\x80\0\0\x01\xe0\x08\x06\0\0\0".to_vec();
    bytes.extend((0..len - bytes.len()).map(|i| (i * 7 % 251) as u8));
    bytes
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    bytes: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes)
            .unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(&self.bytes)))
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }

    /// Asserts a refusal in the protocol's shape.
    fn refused(&self, status: u16, code: &str) {
        assert_eq!(
            self.status,
            status,
            "{:?}",
            String::from_utf8_lossy(&self.bytes)
        );
        assert_eq!(self.header("content-type"), "application/json");
        let body = self.json();
        assert_eq!(body["code"], code, "{body}");
        assert!(body["message"].is_string(), "{body}");
    }
}

async fn answer(request: reqwest::RequestBuilder) -> Answer {
    let response = request.send().await.expect("server reachable");
    Answer {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        bytes: response.bytes().await.unwrap().to_vec(),
    }
}

async fn upload(
    base: &str,
    token: &str,
    conv: &str,
    name: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> Answer {
    let name: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let request = tidings_runtime::outbound::client()
        .build()
        .unwrap()
        .post(format!("{base}/v1/conversations/{conv}/files?name={name}"))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(bytes);
    answer(request).await
}

async fn download(base: &str, token: &str, file_id: &str, range: Option<&str>) -> Answer {
    let mut request = tidings_runtime::outbound::client()
        .build()
        .unwrap()
        .get(format!("{base}/v1/files/{file_id}"))
        .bearer_auth(token);
    if let Some(range) = range {
        request = request.header("range", range);
    }
    answer(request).await
}

fn file_body(uploaded: &Value) -> Value {
    json!({
        "type": "image",
        "file_id": uploaded["file_id"],
        "name": uploaded["name"],
        "size": uploaded["size"],
        "mime": uploaded["mime"],
        "width": 640,
        "height": 480,
    })
}

#[tokio::test]
async fn an_image_is_uploaded_sent_and_downloaded_by_the_peer_whole_and_by_range() {
    let h = Harness::start().await;
    let (mut bob, _) = h.online("bob", 0).await;
    let (mut alice, _) = h.online("alice", 0).await;
    let alice_token = h.api.user_token("alice").await;
    let bob_token = h.api.user_token("bob").await;
    let carol_token = h.api.user_token("carol").await;

    // Three object-store chunks (128 KiB each), so ranges cross chunk boundaries.
    let bytes = png(300_000);
    let up = upload(
        &h.base,
        &alice_token,
        "d~alice~bob",
        "cat.png",
        "image/png",
        bytes.clone(),
    )
    .await;
    assert_eq!(up.status, 200, "{:?}", String::from_utf8_lossy(&up.bytes));
    let uploaded = up.json();
    assert_eq!(uploaded["size"], 300_000);
    assert_eq!(uploaded["mime"], "image/png");
    assert_eq!(uploaded["name"], "cat.png");
    assert_eq!(uploaded["conv"], "d~alice~bob");
    let file_id = uploaded["file_id"].as_str().unwrap().to_owned();

    let body = file_body(&uploaded);
    alice
        .send(json!({
            "t": "send", "id": "f1", "to": { "user": "bob" },
            "client_msg_id": "file-1", "body": body,
        }))
        .await;
    let sent = alice.expect_answer("f1").await;
    assert_eq!(sent["t"], "sent", "{sent}");
    let entry = bob.expect("entry").await;
    assert_eq!(entry["body"], body);

    // History keeps the body as sent (the stored row round-trips it).
    eventually("history holds the image", || async {
        let history = h
            .api
            .get_as(&bob_token, "/v1/conversations/d~alice~bob/messages")
            .await;
        history.body["messages"][0]["body"] == body
    })
    .await;

    let whole = download(&h.base, &bob_token, &file_id, None).await;
    assert_eq!(whole.status, 200);
    assert_eq!(whole.bytes, bytes);
    assert_eq!(whole.header("content-type"), "image/png");
    assert_eq!(whole.header("content-length"), "300000");
    assert_eq!(whole.header("accept-ranges"), "bytes");
    assert_eq!(whole.header("x-content-type-options"), "nosniff");
    assert_eq!(
        whole.header("content-disposition"),
        "inline; filename=\"cat.png\"; filename*=UTF-8''cat.png"
    );

    let head = answer(
        tidings_runtime::outbound::client()
            .build()
            .unwrap()
            .head(format!("{}/v1/files/{file_id}", h.base))
            .bearer_auth(&bob_token),
    )
    .await;
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), "300000");
    assert!(head.bytes.is_empty());

    for (range, start, end) in [
        ("bytes=0-99", 0, 99),
        ("bytes=131000-131199", 131_000, 131_199),
        ("bytes=299990-", 299_990, 299_999),
        ("bytes=-10", 299_990, 299_999),
        ("bytes=299000-400000", 299_000, 299_999),
    ] {
        let part = download(&h.base, &bob_token, &file_id, Some(range)).await;
        assert_eq!(part.status, 206, "{range}");
        assert_eq!(
            part.header("content-range"),
            format!("bytes {start}-{end}/300000"),
            "{range}"
        );
        assert_eq!(part.bytes, &bytes[start..=end], "{range}");
    }
    // A range for another version of the file (If-Range not our ETag) gets the whole file.
    assert_eq!(whole.header("etag"), format!("\"{file_id}\""));
    let stale = answer(
        tidings_runtime::outbound::client()
            .build()
            .unwrap()
            .get(format!("{}/v1/files/{file_id}", h.base))
            .bearer_auth(&bob_token)
            .header("range", "bytes=0-9")
            .header("if-range", "\"something-else\""),
    )
    .await;
    assert_eq!((stale.status, stale.bytes.len()), (200, 300_000));
    let outside = download(&h.base, &bob_token, &file_id, Some("bytes=300000-")).await;
    outside.refused(416, "invalid_request");
    assert_eq!(outside.header("content-range"), "bytes */300000");

    // carol is in no conversation with the file: she can neither read it nor upload there.
    download(&h.base, &carol_token, &file_id, None)
        .await
        .refused(403, "forbidden");
    upload(
        &h.base,
        &carol_token,
        "d~alice~bob",
        "x.png",
        "image/png",
        png(100),
    )
    .await
    .refused(403, "forbidden");
    // Unknown files and bad ids.
    download(
        &h.base,
        &bob_token,
        "019b7b1c-3a00-7000-8000-0000000000f1",
        None,
    )
    .await
    .refused(404, "not_found");
    download(&h.base, &bob_token, "not-a-file", None)
        .await
        .refused(400, "invalid_id");
}

/// Sends an upload head (and `rest`: the last headers and any body) over a raw socket; returns
/// the answer's text once its JSON message has arrived.
async fn raw_upload(h: &Harness, token: &str, rest: &str) -> String {
    let addr = h.base.trim_start_matches("http://");
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /v1/conversations/d~alice~bob/files HTTP/1.1\r\nhost: {addr}\r\n\
         authorization: Bearer {token}\r\ncontent-type: application/pdf\r\n{rest}"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&answer).contains("\"message\"") {
        let n = tcp.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed: {:?}", String::from_utf8_lossy(&answer));
        answer.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn uploads_are_limited_in_size_and_checked_for_type() {
    let mut small = tidings_api::apps::AppConfig::new("small", "0123456789abcdef0123");
    small.settings.max_file_bytes = 64 * 1024;
    let h = Harness::start_on(
        tidings_testkit::TestNats::start(),
        tempfile::tempdir().unwrap(),
        |config| config.api.apps.push(small.clone()),
    )
    .await;
    let token = h.api.user_token("alice").await;
    let small_api = ServerApi::new(&h.base, &small.key, &small.secret);
    let small_token = small_api.user_token("alice").await;

    // The app's own limit.
    upload(
        &h.base,
        &small_token,
        "d~alice~bob",
        "big.bin",
        "application/octet-stream",
        vec![7; 64 * 1024 + 1],
    )
    .await
    .refused(413, "too_large");
    let fits = upload(
        &h.base,
        &small_token,
        "d~alice~bob",
        "fits.bin",
        "application/octet-stream",
        vec![7; 64 * 1024],
    )
    .await;
    assert_eq!(fits.status, 200);

    // Over the default 20 MiB: refused from the head alone, before any of the body is sent.
    let text = raw_upload(
        &h,
        &token,
        &format!("content-length: {}\r\n\r\n", 20 * 1024 * 1024 + 1),
    )
    .await;
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains(r#""code":"too_large""#), "{text}");
    // A body without a length (chunked) is refused: the limit is checked before reading.
    let text = raw_upload(
        &h,
        &token,
        "transfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    )
    .await;
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    assert!(text.contains(r#""code":"invalid_request""#), "{text}");

    // Types: an image must be the image it claims; active types are refused; a type is needed.
    let conv = "d~alice~bob";
    for (content_type, bytes) in [
        ("image/png", b"GIF89a not a png at all".to_vec()),
        ("image/jpeg", png(100)),
        (
            "image/svg+xml",
            b"<svg xmlns='http://www.w3.org/2000/svg'/>".to_vec(),
        ),
        ("text/html", b"<html></html>".to_vec()),
        ("not a type", b"x".to_vec()),
    ] {
        upload(&h.base, &token, conv, "f", content_type, bytes)
            .await
            .refused(400, "invalid_request");
    }
    let no_type = tidings_runtime::outbound::client()
        .build()
        .unwrap()
        .post(format!("{}/v1/conversations/{conv}/files", h.base))
        .bearer_auth(&token)
        .body(png(100));
    answer(no_type).await.refused(400, "invalid_request");
    upload(&h.base, &token, conv, "", "image/png", png(100))
        .await
        .refused(400, "invalid_request");
    upload(&h.base, &token, conv, "empty.txt", "text/plain", Vec::new())
        .await
        .refused(400, "invalid_request");
    // The name and type as given come back, parameters dropped.
    let pdf = upload(
        &h.base,
        &token,
        conv,
        "résumé.pdf",
        "Application/PDF; charset=binary",
        b"%PDF-1.7".to_vec(),
    )
    .await;
    assert_eq!(pdf.status, 200);
    let pdf = pdf.json();
    assert_eq!(
        (pdf["name"].as_str(), pdf["mime"].as_str()),
        (Some("résumé.pdf"), Some("application/pdf"))
    );
    let got = download(&h.base, &token, pdf["file_id"].as_str().unwrap(), None).await;
    assert_eq!(got.bytes, b"%PDF-1.7");
    assert_eq!(
        got.header("content-disposition"),
        "attachment; filename=\"r_sum_.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf"
    );
}

#[tokio::test]
async fn a_send_must_name_a_file_of_its_own_conversation_as_uploaded() {
    let h = Harness::start().await;
    h.api.register("bob").await;
    h.api.register("carol").await;
    let (mut alice, _) = h.online("alice", 0).await;
    let token = h.api.user_token("alice").await;
    let up = upload(
        &h.base,
        &token,
        "d~alice~bob",
        "cat.png",
        "image/png",
        png(1000),
    )
    .await;
    assert_eq!(up.status, 200);
    let uploaded = up.json();
    let body = file_body(&uploaded);

    let mut n = 0;
    let mut send = async |to: &str, body: Value| {
        n += 1;
        let id = format!("s{n}");
        alice
            .send(json!({
                "t": "send", "id": id, "to": { "user": to },
                "client_msg_id": id, "body": body,
            }))
            .await;
        alice.expect_answer(&id).await
    };
    // Another conversation's file.
    let other = send("carol", body.clone()).await;
    assert_eq!(
        (other["t"].as_str(), other["code"].as_str()),
        (Some("error"), Some("forbidden")),
        "{other}"
    );
    // Stated facts that differ from the upload's.
    for (field, value) in [
        ("size", json!(999)),
        ("mime", json!("image/gif")),
        ("name", json!("dog.png")),
    ] {
        let mut wrong = body.clone();
        wrong[field] = value;
        let answer = send("bob", wrong).await;
        assert_eq!(answer["code"], "invalid_request", "{field}: {answer}");
    }
    // An image body must name an image; an unknown file is not found.
    let mut as_pdf = body.clone();
    as_pdf["mime"] = json!("application/pdf");
    assert_eq!(send("bob", as_pdf).await["code"], "invalid_request");
    let mut unknown = body.clone();
    unknown["file_id"] = json!("019b7b1c-3a00-7000-8000-0000000000f1");
    assert_eq!(send("bob", unknown).await["code"], "not_found");
    // The same file as a plain file body is fine; so is the image.
    let mut as_file = body.clone();
    as_file["type"] = json!("file");
    assert_eq!(send("bob", as_file).await["t"], "sent");
    assert_eq!(send("bob", body.clone()).await["t"], "sent");

    // The server API is checked the same way.
    let reply = h
        .api
        .post(
            "/v1/messages",
            &json!({"from": "alice", "to": {"user": "carol"}, "client_msg_id": "srv-1", "body": body}),
        )
        .await;
    assert_eq!(
        (reply.status, reply.body["code"].as_str()),
        (403, Some("forbidden")),
        "{:?}",
        reply.body
    );
    // System messages have no conversation to bind a file to.
    let reply = h
        .api
        .post("/v1/system/messages", &json!({"to": ["bob"], "body": body}))
        .await;
    assert_eq!(
        (reply.status, reply.body["code"].as_str()),
        (400, Some("invalid_request")),
        "{:?}",
        reply.body
    );
}

#[tokio::test]
async fn a_group_file_is_for_current_members_only() {
    let h = Harness::start().await;
    let alice = h.api.user_token("alice").await;
    let bob = h.api.user_token("bob").await;
    let carol = h.api.user_token("carol").await;
    let created = h
        .api
        .post_as(
            &alice,
            "/v1/groups",
            &json!({"group_id": "team", "name": "Team", "members": ["bob"]}),
        )
        .await;
    assert_eq!(created.status, 200, "{:?}", created.body);

    let up = upload(
        &h.base,
        &bob,
        "g~team",
        "notes.txt",
        "text/plain",
        b"minutes".to_vec(),
    )
    .await;
    assert_eq!(up.status, 200);
    let file_id = up.json()["file_id"].as_str().unwrap().to_owned();
    upload(
        &h.base,
        &carol,
        "g~team",
        "x.txt",
        "text/plain",
        b"x".to_vec(),
    )
    .await
    .refused(403, "forbidden");
    download(&h.base, &carol, &file_id, None)
        .await
        .refused(403, "forbidden");
    let got = download(&h.base, &alice, &file_id, None).await;
    assert_eq!((got.status, got.bytes.as_slice()), (200, &b"minutes"[..]));

    // A kick applies to the very next download: it is decided on the group's subject.
    let kicked = h
        .api
        .post_as(
            &alice,
            "/v1/groups/team/ops",
            &json!({"op": "kick", "user": "bob"}),
        )
        .await;
    assert_eq!(kicked.status, 200, "{:?}", kicked.body);
    download(&h.base, &bob, &file_id, None)
        .await
        .refused(403, "forbidden");
}

#[tokio::test]
async fn file_messages_replay_to_the_same_digest() {
    use tidings_store::ProjectionStore;
    let h = Harness::start().await;
    let (mut alice, _) = h.online("alice", 0).await;
    let alice_token = h.api.user_token("alice").await;
    h.api.register("bob").await;
    let created = h
        .api
        .post_as(
            &alice_token,
            "/v1/groups",
            &json!({"group_id": "team", "name": "Team", "members": ["bob"]}),
        )
        .await;
    assert_eq!(created.status, 200, "{:?}", created.body);
    for (i, (conv, to)) in [
        ("d~alice~bob", json!({"user": "bob"})),
        ("g~team", json!({"group": "team"})),
    ]
    .into_iter()
    .enumerate()
    {
        let up = upload(
            &h.base,
            &alice_token,
            conv,
            "cat.png",
            "image/png",
            png(5000),
        )
        .await;
        assert_eq!(up.status, 200);
        let mut body = file_body(&up.json());
        if i == 1 {
            body["type"] = json!("file");
            body.as_object_mut().unwrap().remove("width");
        }
        let id = format!("r{i}");
        alice
            .send(json!({"t": "send", "id": id, "to": to, "client_msg_id": id, "body": body}))
            .await;
        assert_eq!(alice.expect_answer(&id).await["t"], "sent");
    }

    let client = async_nats::connect(h.nats.url()).await.unwrap();
    let js = async_nats::jetstream::new(client.clone());
    let last = crate::harness::last_seq(&js).await;
    eventually("the live projection catches up", || async {
        h.store.checkpoint("inbox").await.unwrap() == last
    })
    .await;
    let live = h.store.digest().await.unwrap();
    let into = tempfile::tempdir().unwrap();
    let store = tidings_store::FjallStore::open(&into.path().join("store")).unwrap();
    let report = tidings::replay::replay(&client, store, 200, CACHE, false)
        .await
        .unwrap();
    assert_eq!(report.through_seq, last);
    assert_eq!(report.digest, live);
}

/// Messages in the files bucket's stream (chunks and object infos).
async fn bucket_messages(h: &Harness) -> u64 {
    let client = async_nats::connect(h.nats.url()).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let mut stream = js.get_stream("OBJ_TIDINGS_FILES").await.unwrap();
    stream.info().await.unwrap().state.messages
}

#[tokio::test]
async fn a_cut_off_upload_leaves_nothing_behind() {
    let h = Harness::start().await;
    let token = h.api.user_token("alice").await;
    let addr = h.base.trim_start_matches("http://");
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /v1/conversations/d~alice~bob/files HTTP/1.1\r\nhost: {addr}\r\n\
         authorization: Bearer {token}\r\ncontent-type: application/octet-stream\r\n\
         content-length: 600000\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    // Three chunks' worth, then the client goes away.
    tcp.write_all(&vec![1u8; 400_000]).await.unwrap();
    eventually("the first chunks are stored", || async {
        bucket_messages(&h).await >= 2
    })
    .await;
    drop(tcp);
    eventually("the cut-off upload's chunks are purged", || async {
        bucket_messages(&h).await == 0
    })
    .await;

    // A whole upload is three chunks and its info, and reads back.
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    let up = upload(
        &h.base,
        &token,
        "d~alice~bob",
        "a.bin",
        "application/octet-stream",
        bytes.clone(),
    )
    .await;
    assert_eq!(up.status, 200);
    assert_eq!(bucket_messages(&h).await, 4);
    let file_id = up.json()["file_id"].as_str().unwrap().to_owned();
    assert_eq!(download(&h.base, &token, &file_id, None).await.bytes, bytes);
}

#[tokio::test]
async fn a_file_stops_being_readable_once_every_message_naming_it_is_recalled() {
    use tidings_store::ProjectionStore;
    let h = Harness::start().await;
    let (mut alice, _) = h.online("alice", 0).await;
    let alice_token = h.api.user_token("alice").await;
    let bob_token = h.api.user_token("bob").await;
    let carol_token = h.api.user_token("carol").await;
    let conv = "d~alice~bob";
    let up = upload(
        &h.base,
        &alice_token,
        conv,
        "cat.png",
        "image/png",
        png(5000),
    )
    .await;
    assert_eq!(up.status, 200, "{:?}", String::from_utf8_lossy(&up.bytes));
    let uploaded = up.json();
    let file_id = uploaded["file_id"].as_str().unwrap().to_owned();
    let body = file_body(&uploaded);
    let mut sent = Vec::new();
    for id in ["m1", "m2"] {
        alice
            .send(json!({"t": "send", "id": id, "to": {"user": "bob"}, "client_msg_id": id, "body": body}))
            .await;
        let answer = alice.expect_answer(id).await;
        assert_eq!(answer["t"], "sent", "{answer}");
        sent.push(answer);
    }
    let status = |token: String, method: reqwest::Method| {
        let url = format!("{}/v1/files/{file_id}", h.base);
        async move {
            answer(
                tidings_runtime::outbound::client()
                    .build()
                    .unwrap()
                    .request(method, url)
                    .bearer_auth(token),
            )
            .await
            .status
        }
    };
    let readable_by_both = || async {
        for token in [&alice_token, &bob_token] {
            assert_eq!(status(token.clone(), reqwest::Method::GET).await, 200);
            assert_eq!(status(token.clone(), reqwest::Method::HEAD).await, 200);
        }
    };
    let recall = |answer: &Value| {
        let path = format!(
            "/v1/conversations/{conv}/messages/{}/recall",
            answer["msg_id"].as_str().unwrap()
        );
        let (api, token) = (&h.api, alice_token.clone());
        async move {
            let reply = api.post_as(&token, &path, &json!({})).await;
            assert_eq!(reply.status, 200, "{:?}", reply.body);
        }
    };

    // Delete for me hides the message from bob only and leaves the file alone.
    let hidden = h
        .api
        .post_as(
            &bob_token,
            &format!("/v1/conversations/{conv}/hide"),
            &json!({"conv_seq": sent[0]["conv_seq"]}),
        )
        .await;
    assert_eq!(hidden.status, 200, "{:?}", hidden.body);
    readable_by_both().await;

    // One of two messages recalled: the other still names the file (decided at once, on the
    // conversation's subject, so no waiting).
    recall(&sent[0]).await;
    readable_by_both().await;

    // The last one recalled: nobody reads the file any more, from the very next request.
    recall(&sent[1]).await;
    for token in [&alice_token, &bob_token] {
        download(&h.base, token, &file_id, None)
            .await
            .refused(404, "not_found");
        assert_eq!(status(token.clone(), reqwest::Method::HEAD).await, 404);
    }
    // Someone outside the conversation is refused as before (and learns nothing more).
    download(&h.base, &carol_token, &file_id, None)
        .await
        .refused(403, "forbidden");
    // Recalled files are not sent again.
    alice
        .send(json!({"t": "send", "id": "m3", "to": {"user": "bob"}, "client_msg_id": "m3", "body": body}))
        .await;
    let again = alice.expect_answer("m3").await;
    assert_eq!(
        (&again["t"], &again["code"]),
        (&json!("error"), &json!("not_found")),
        "{again}"
    );
    // A file uploaded since, and not sent yet, is readable to the conversation as before.
    let fresh = upload(
        &h.base,
        &alice_token,
        conv,
        "dog.png",
        "image/png",
        png(800),
    )
    .await;
    assert_eq!(fresh.status, 200);
    let fresh_id = fresh.json()["file_id"].as_str().unwrap().to_owned();
    assert_eq!(
        download(&h.base, &bob_token, &fresh_id, None).await.status,
        200
    );

    // The read models replay to the same digest.
    let client = async_nats::connect(h.nats.url()).await.unwrap();
    let js = async_nats::jetstream::new(client.clone());
    let last = crate::harness::last_seq(&js).await;
    eventually("the live projection catches up", || async {
        h.store.checkpoint("inbox").await.unwrap() == last
    })
    .await;
    let live = h.store.digest().await.unwrap();
    let into = tempfile::tempdir().unwrap();
    let store = tidings_store::FjallStore::open(&into.path().join("store")).unwrap();
    let report = tidings::replay::replay(&client, store, 200, CACHE, false)
        .await
        .unwrap();
    assert_eq!(report.through_seq, last);
    assert_eq!(report.digest, live);
}
