//! Response streaming end to end: `lamina::stream` and `lamina::http::Streaming` functions under
//! the Runtime API emulator in its streaming mode, which checks the chunked framing, the
//! declared trailers and the HTTP prelude as it reads.

mod support;

use std::time::Duration;

use lamina_emulator::{Fnv, HTTP_INTEGRATION};
use serde_json::{Value, json};
use support::*;

const BYTES: &str = env!("CARGO_BIN_EXE_stream_bytes");
const HTTP: &str = env!("CARGO_BIN_EXE_stream_http");

/// The byte at `offset` of the `stream_bytes` fixture's `count` stream.
fn pattern(offset: u64) -> u8 {
    (offset.wrapping_mul(31).wrapping_add(7) % 251) as u8
}

fn expected_checksum(len: u64) -> u64 {
    let mut fnv = Fnv::default();
    let mut chunk = Vec::with_capacity(1 << 20);
    let mut offset = 0;
    while offset < len {
        chunk.clear();
        let n = (len - offset).min(1 << 20);
        chunk.extend((offset..offset + n).map(pattern));
        fnv.update(&chunk);
        offset += n;
    }
    fnv.0
}

fn ask(mode: &str, bytes: u64) -> Event {
    Event::json(json!({"mode": mode, "bytes": bytes}).to_string())
}

/// A Function URL `GET` of `path_and_query`.
fn url_event(path_and_query: &str) -> Event {
    url_like("function-url.json", path_and_query)
}

fn url_like(fixture: &str, path_and_query: &str) -> Event {
    let text = std::fs::read_to_string(format!(
        "{}/fixtures/events/http/{fixture}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let mut event: Value = serde_json::from_str(&text).unwrap();
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    if event.get("rawPath").is_some() {
        event["rawPath"] = json!(path);
        event["rawQueryString"] = json!(query);
        event["requestContext"]["http"]["method"] = json!("GET");
        event["requestContext"]["http"]["path"] = json!(path);
    } else {
        event["path"] = json!(path);
        event["resource"] = json!("/{proxy+}");
        event["httpMethod"] = json!("GET");
        event["requestContext"]["resourcePath"] = json!("/{proxy+}");
        event["requestContext"]["path"] = json!(path);
        let mut params = serde_json::Map::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            params.insert(k.to_owned(), json!([v]));
        }
        event["multiValueQueryStringParameters"] = Value::Object(params);
        event["queryStringParameters"] = Value::Null;
    }
    event["body"] = Value::Null;
    Event::json(event.to_string())
}

#[test]
fn a_byte_stream_goes_out_in_chunks_with_the_documented_headers() {
    let api = Emulator::start();
    let function = Function::start(BYTES, &api, &[("AWS_LAMBDA_LOG_FORMAT", "JSON")]);
    let outcome = api.invoke(ask("count", 1 << 20));
    let streamed = outcome.streamed();
    assert_eq!(streamed.problem, None, "{streamed:?}");
    assert!(streamed.complete);
    assert_eq!(streamed.length, 1 << 20);
    assert_eq!(streamed.checksum, expected_checksum(1 << 20));
    assert_eq!(streamed.chunks, 16, "64 KiB chunks, one each");
    assert_eq!(streamed.error(), None);
    assert_eq!(
        streamed.content_type.as_deref(),
        Some("application/x-export")
    );
    assert_eq!(
        streamed.declared_trailers,
        [
            "Lambda-Runtime-Function-Error-Type",
            "Lambda-Runtime-Function-Error-Body"
        ]
    );

    let requests = api.requests();
    let post = requests
        .iter()
        .find(|r| r.path.ends_with("/response"))
        .unwrap();
    assert!(post.chunked);
    assert_eq!(
        post.header("Lambda-Runtime-Function-Response-Mode"),
        Some("streaming")
    );
    assert_eq!(post.header("Transfer-Encoding"), Some("chunked"));
    assert_eq!(post.header("Content-Length"), None);
    assert!(post.header("Lambda-Runtime-Invocation-Id").is_some());

    // The line logged mid-stream carries the request id, and was written out before the
    // stream ended.
    let output = function.wait_output("streaming the export");
    let line = output
        .lines()
        .find(|l| l.contains("streaming the export"))
        .unwrap();
    let line: Value = serde_json::from_str(line).unwrap();
    let request_id = post.path.split('/').nth_back(1).unwrap();
    assert_eq!(line["requestId"], request_id, "{line}");

    // The docs ask the runtime to close the connection after a stream: the next request comes
    // on a new one.
    let second = api.invoke(ask("count", 10));
    assert_eq!(second.streamed().length, 10);
    let requests = api.requests();
    let posts: Vec<_> = requests
        .iter()
        .filter(|r| r.path.ends_with("/response"))
        .collect();
    let next_after_first = requests
        .iter()
        .skip_while(|r| !r.path.ends_with("/response"))
        .find(|r| r.path.ends_with("/next"))
        .unwrap();
    assert_ne!(next_after_first.connection, posts[0].connection);
}

#[test]
fn an_error_after_the_first_byte_goes_in_the_trailers() {
    let api = Emulator::start();
    let function = Function::start(BYTES, &api, &[]);
    let outcome = api.invoke(ask("fail_after_first", 0));
    let streamed = outcome.streamed();
    assert_eq!(streamed.problem, None, "{streamed:?}");
    assert!(streamed.complete, "the stream ends with its zero chunk");
    assert_eq!(streamed.body, b"first chunk\n");
    let error = streamed.error().expect("the error trailers");
    assert_eq!(error.error_type, "Function.ExportBroken");
    assert_eq!(
        error.document,
        json!({"errorType": "Export.Broken", "errorMessage": "the source went away after row 1"})
    );
    function.wait_output("after its response began streaming");

    // And the function goes on.
    assert_eq!(api.invoke(ask("count", 5)).streamed().length, 5);
}

#[test]
fn an_error_before_the_first_byte_goes_to_the_error_route() {
    let api = Emulator::start();
    let _function = Function::start(BYTES, &api, &[]);
    let posted = api.invoke(ask("fail_before", 0)).error().clone();
    assert_eq!(posted.document["errorType"], "Export.NotFound");
    let posted = api.invoke(ask("error_first", 0)).error().clone();
    assert_eq!(posted.document["errorType"], "Export.Empty");
    assert!(
        api.requests().iter().all(|r| !r.chunked),
        "nothing was streamed"
    );
}

/// Review finding: the content type was written into the request head as it was, so a CRLF in
/// it forged headers of lamina's own request (here the error type Lambda records).
#[test]
fn a_content_type_that_is_not_a_header_value_is_refused_before_any_byte() {
    let api = Emulator::start();
    let _function = Function::start(BYTES, &api, &[]);
    let posted = api.invoke(ask("forged_content_type", 0)).error().clone();
    assert_eq!(posted.document["errorType"], "Runtime.StreamOpen");
    assert_eq!(
        posted.document["errorMessage"],
        "the streamed response's content type \"text/plain\\r\\nLambda-Runtime-Function-Error-Type: Function.Forged\" is not a valid HTTP header value (only visible ASCII, spaces and tabs may appear in one); set a MIME type such as `text/plain; charset=utf-8`"
    );
    assert_eq!(
        posted.error_type_header.as_deref(),
        Some("Runtime.StreamOpen")
    );
    assert!(
        api.requests().iter().all(|r| !r.chunked),
        "nothing was streamed"
    );
    // The function serves on.
    assert!(api.invoke(ask("empty", 0)).streamed().complete);
}

#[test]
fn an_empty_stream_is_a_streamed_response_of_no_bytes() {
    let api = Emulator::start();
    let _function = Function::start(BYTES, &api, &[]);
    let outcome = api.invoke(ask("empty", 0));
    let streamed = outcome.streamed();
    assert!(
        streamed.complete && streamed.problem.is_none(),
        "{streamed:?}"
    );
    assert_eq!((streamed.length, streamed.chunks), (0, 0));
}

#[test]
fn a_panic_mid_stream_ends_it_with_the_panic_in_the_trailers() {
    let api = Emulator::start();
    let _function = Function::start(BYTES, &api, &[]);
    let outcome = api.invoke(ask("panic_mid", 0));
    let streamed = outcome.streamed();
    assert_eq!(streamed.body, b"row 1\n");
    let error = streamed.error().expect("trailers");
    assert_eq!(error.error_type, "Runtime.HandlerPanic");
    let message = error.document["errorMessage"].as_str().unwrap();
    assert!(message.contains("row 2 is corrupt"), "{message}");

    // A panic in the task that feeds the channel: its sender is dropped while unwinding.
    let outcome = api.invoke(ask("producer_panics", 0));
    let streamed = outcome.streamed();
    assert_eq!(streamed.body, b"row 1\n");
    assert_eq!(
        streamed.error().expect("trailers").error_type,
        "Runtime.StreamProducerPanic"
    );
    assert_eq!(api.invoke(ask("count", 3)).streamed().length, 3);
}

#[test]
fn under_panic_abort_the_hook_ends_the_stream_with_the_panic() {
    let api = Emulator::start();
    let mut function = Function::start(abort_build("stream_bytes"), &api, &[]);
    let outcome = api.invoke(ask("panic_mid", 0));
    let streamed = outcome.streamed();
    assert!(streamed.complete, "{streamed:?}");
    assert_eq!(streamed.problem, None);
    assert_eq!(streamed.body, b"row 1\n");
    let error = streamed.error().expect("trailers");
    assert_eq!(error.error_type, "Runtime.HandlerPanic");
    assert!(
        error.document["errorMessage"]
            .as_str()
            .unwrap()
            .contains("row 2 is corrupt")
    );
    let status = function.expect_exit();
    assert!(!status.success(), "the process aborted");
    assert!(
        function
            .output()
            .contains("ended the streamed response with the panic"),
        "{}",
        function.output()
    );
}

#[test]
fn the_handler_learns_when_the_caller_goes_away() {
    let api = Emulator::start();
    api.inject(Route::Response, Fault::DropMidStream(256 * 1024));
    let function = Function::start(BYTES, &api, &[]);
    let id = api.enqueue(Event::json(r#"{"mode":"until_closed"}"#));
    let outcome = api.wait_outcome(&id, WAIT).expect("the stream was read");
    let streamed = outcome.streamed();
    assert!(!streamed.complete);
    assert!(streamed.length >= 256 * 1024);
    let output = function.wait_output("stopping the export");
    assert!(
        output.contains("the caller went away; stopping the export"),
        "{output}"
    );
    assert!(
        output.contains("the Runtime API closed the streamed response"),
        "{output}"
    );
    // The next invocation is served as usual.
    assert_eq!(api.invoke(ask("count", 7)).streamed().length, 7);
}

#[test]
fn a_caller_that_stops_reading_breaks_the_stream_off_before_the_deadline() {
    let api = Emulator::start();
    // One byte a second: once the socket's buffers are full, nothing more goes for good.
    api.set_stream_rate(Some(1));
    let function = Function::start(BYTES, &api, &[]);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let deadline = now_ms + 2_000;
    let started = std::time::Instant::now();
    api.enqueue(ask("until_closed", 0).header("Lambda-Runtime-Deadline-Ms", &deadline.to_string()));
    let output = function.wait_output("the caller stopped reading");
    let took = started.elapsed();
    assert!(
        output.contains("the caller stopped reading"),
        "the write still blocks:\n{output}"
    );
    // Given up 200 ms before the 2 s deadline (and not long after it).
    assert!(took >= Duration::from_millis(1_700), "{took:?}");
    assert!(took < Duration::from_millis(4_000), "{took:?}");
    // The thread is free again: the next invocation is served.
    api.set_stream_rate(None);
    assert_eq!(api.invoke(ask("count", 7)).streamed().length, 7);
}

#[test]
fn a_slow_reader_holds_the_producer_back() {
    const TOTAL: u64 = 20 << 20;
    const RATE: u64 = 5 << 20;
    let api = Emulator::start();
    api.set_stream_rate(Some(RATE));
    api.set_stream_keep(TOTAL as usize);
    let _function = Function::start(BYTES, &api, &[]);
    let outcome = api.invoke(ask("stamped", TOTAL));
    let streamed = outcome.streamed();
    assert_eq!(streamed.length, TOTAL);
    let stamp = |offset: usize| -> u64 {
        std::str::from_utf8(&streamed.body[offset..offset + 16])
            .unwrap()
            .parse()
            .unwrap()
    };
    let first = stamp(0);
    let last = stamp(TOTAL as usize - 64 * 1024);
    let producing = Duration::from_millis(last - first);
    let reading = streamed.ended - streamed.opened;
    // Unheld, the producer would send all 20 MiB in a fraction of a second; held back, it
    // sends the last chunk only once all but what the socket buffers and the channel hold
    // (a few MiB) has been read, at 5 MiB/s.
    assert!(reading >= Duration::from_millis(3500), "{reading:?}");
    assert!(
        producing >= Duration::from_millis(1500),
        "the producer sent its last chunk {producing:?} after its first, while reading took {reading:?}"
    );
}

#[test]
fn two_hundred_megabytes_stream_in_bounded_memory() {
    const TOTAL: u64 = 200 << 20;
    let api = Emulator::start();
    api.set_stream_keep(0);
    let function = Function::start(BYTES, &api, &[]);
    assert_eq!(api.invoke(ask("count", 1 << 20)).streamed().length, 1 << 20);
    let before = function.peak_rss_kib();
    let outcome = api.invoke(ask("count", TOTAL));
    let streamed = outcome.streamed();
    assert!(
        streamed.complete && streamed.problem.is_none(),
        "{streamed:?}"
    );
    assert_eq!(streamed.length, TOTAL);
    assert_eq!(streamed.checksum, expected_checksum(TOTAL));
    let after = function.peak_rss_kib();
    assert!(
        after - before < 4 * 1024,
        "peak RSS grew from {before} KiB to {after} KiB while streaming 200 MiB"
    );
}

#[test]
fn a_function_url_gets_the_prelude_with_status_headers_and_cookies() {
    let api = Emulator::start();
    let _function = Function::start(HTTP, &api, &[]);
    let outcome = api.invoke(url_event("/download?bytes=10000"));
    let streamed = outcome.streamed();
    assert_eq!(streamed.problem, None, "{streamed:?}");
    assert_eq!(streamed.content_type.as_deref(), Some(HTTP_INTEGRATION));
    assert_eq!(
        streamed.prelude().unwrap(),
        json!({
            "statusCode": 200,
            "headers": {"content-type": "application/octet-stream", "x-export": "orders"},
            "cookies": ["session=abc; HttpOnly", "theme=dark"],
        })
    );
    assert_eq!(streamed.http_body(), vec![b'd'; 10000]);
    assert_eq!(streamed.error(), None);
}

#[test]
fn a_rest_api_gets_multi_value_headers_in_its_prelude() {
    let api = Emulator::start();
    let _function = Function::start(HTTP, &api, &[]);
    let outcome = api.invoke(url_like("rest-stage.json", "/download?bytes=3"));
    let streamed = outcome.streamed();
    assert_eq!(streamed.problem, None, "{streamed:?}");
    assert_eq!(
        streamed.prelude().unwrap(),
        json!({
            "statusCode": 200,
            "multiValueHeaders": {
                "content-type": ["application/octet-stream"],
                "x-export": ["orders"],
                "set-cookie": ["session=abc; HttpOnly", "theme=dark"],
            },
        })
    );
    assert_eq!(streamed.http_body(), b"ddd");
}

#[test]
fn with_streaming_off_a_function_url_in_buffered_mode_gets_the_response_whole() {
    let api = Emulator::start();
    let _function = Function::start(HTTP, &api, &[("LAMINA_HTTP_STREAM", "off")]);
    let outcome = api.invoke(url_event("/events"));
    // The whole response document a `BUFFERED` URL expects, not a prelude and eight NULs.
    let document: Value = serde_json::from_slice(outcome.response()).unwrap();
    assert_eq!(document["statusCode"], 200, "{document}");
    assert_eq!(document["headers"]["content-type"], "text/event-stream");
    assert_eq!(
        document["body"],
        "event: tick\ndata: 1\n\nevent: tick\ndata: 2\n\nevent: tick\ndata: 3\n\n"
    );
}

#[test]
fn server_sent_events_reach_the_caller_as_they_are_produced() {
    let api = Emulator::start();
    let _function = Function::start(HTTP, &api, &[]);
    let outcome = api.invoke(url_event("/events"));
    let streamed = outcome.streamed();
    assert_eq!(streamed.problem, None, "{streamed:?}");
    assert_eq!(
        streamed.prelude().unwrap()["headers"]["content-type"],
        "text/event-stream"
    );
    let body = String::from_utf8_lossy(streamed.http_body()).into_owned();
    assert_eq!(
        body,
        "event: tick\ndata: 1\n\nevent: tick\ndata: 2\n\nevent: tick\ndata: 3\n\n"
    );
    // The prelude went out at once; the events 50 ms apart after it.
    let first = streamed.first_byte.unwrap();
    assert!(
        streamed.ended - first >= Duration::from_millis(100),
        "{:?}",
        streamed.ended - first
    );
}

#[test]
fn http_errors_before_and_after_the_first_byte() {
    let api = Emulator::start();
    let _function = Function::start(HTTP, &api, &[]);
    let outcome = api.invoke(url_event("/fail_mid"));
    let streamed = outcome.streamed();
    assert_eq!(streamed.http_body(), b"first\n");
    let error = streamed.error().expect("trailers");
    assert_eq!(error.error_type, "Function.ResponseBody");
    assert!(
        error.document["errorMessage"]
            .as_str()
            .unwrap()
            .contains("the upstream reset")
    );

    let posted = api.invoke(url_event("/missing")).error().clone();
    assert_eq!(posted.document["errorType"], "Orders.NotFound");
}

#[test]
fn a_source_that_cannot_stream_gets_the_response_whole() {
    let api = Emulator::start();
    let _function = Function::start(HTTP, &api, &[]);
    let outcome = api.invoke(url_like("http-api-default.json", "/download?bytes=4"));
    let document = json(&outcome);
    assert_eq!(document["statusCode"], 200);
    assert_eq!(document["body"], "ZGRkZA==", "{document}");
    assert_eq!(
        document["cookies"],
        json!(["session=abc; HttpOnly", "theme=dark"])
    );
}

#[test]
fn local_invoke_prints_the_stream_as_it_arrives() {
    let run = |binary: &str, event: &str| {
        use std::io::Write;
        let mut child = std::process::Command::new(binary)
            .env_remove("AWS_LAMBDA_RUNTIME_API")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(event.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{output:?}");
        output
    };
    let output = run(BYTES, r#"{"mode":"count","bytes":300,"chunk":100}"#);
    let expected: Vec<u8> = (0..300u64).map(pattern).collect();
    assert_eq!(output.stdout, expected, "stdout is the body, byte for byte");

    // An HTTP stream: its prelude on stderr, its body on stdout.
    let output = run(HTTP, &local_url_event("/download?bytes=5"));
    assert_eq!(output.stdout, b"ddddd");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(r#"{"statusCode":200,"headers":{"#),
        "{stderr}"
    );
}

fn local_url_event(path_and_query: &str) -> String {
    let text = std::fs::read_to_string(format!(
        "{}/fixtures/events/http/function-url.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let mut event: Value = serde_json::from_str(&text).unwrap();
    let (path, query) = path_and_query.split_once('?').unwrap();
    event["rawPath"] = json!(path);
    event["rawQueryString"] = json!(query);
    event["requestContext"]["http"]["method"] = json!("GET");
    event["body"] = Value::Null;
    event.to_string()
}

#[test]
fn the_emulator_refuses_broken_chunked_framing() {
    use std::io::{Read, Write};
    let api = Emulator::start();
    let id = api.enqueue(Event::json("{}"));
    let mut next = std::net::TcpStream::connect(api.address()).unwrap();
    next.write_all(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut answer = [0u8; 4096];
    let _ = next.read(&mut answer).unwrap();
    let mut post = std::net::TcpStream::connect(api.address()).unwrap();
    let head = format!(
        "POST /2018-06-01/runtime/invocation/{id}/response HTTP/1.1\r\nHost: x\r\n\
         Lambda-Runtime-Function-Response-Mode: streaming\r\nTransfer-Encoding: chunked\r\n\r\n\
         5\r\nabcde\r\nzz\r\n"
    );
    post.write_all(head.as_bytes()).unwrap();
    let mut answer = String::new();
    post.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    let outcome = api.wait_outcome(&id, WAIT).unwrap();
    assert_eq!(
        outcome.streamed().problem.as_deref(),
        Some("malformed chunk size line \"zz\"")
    );
}

#[test]
fn the_deadline_guard_ends_a_stream_that_runs_out_of_time() {
    let api = Emulator::start();
    // The emulator's deadline is 30 s away: a 29.6 s margin leaves the handler 400 ms.
    let _function = Function::start(BYTES, &api, &[("LAMINA_DEADLINE_MARGIN_MS", "29600")]);
    let outcome = api.invoke(Event::json(r#"{"mode":"slow"}"#));
    let streamed = outcome.streamed();
    assert!(streamed.complete, "{streamed:?}");
    assert!(streamed.body.starts_with(b"tick\ntick\n"), "{streamed:?}");
    let error = streamed.error().expect("trailers");
    assert_eq!(error.error_type, "Runtime.HandlerTimeout");
}

#[test]
fn managed_instances_workers_stream_side_by_side() {
    const EACH: u64 = 4 << 20;
    let api = Emulator::start();
    api.set_stream_keep(0);
    let _function = Function::start(BYTES, &api, &[("AWS_LAMBDA_MAX_CONCURRENCY", "4")]);
    assert!(api.wait_next_polls(4, WAIT), "four workers poll /next");
    let ids: Vec<String> = (0..8).map(|_| api.enqueue(ask("count", EACH))).collect();
    let expected = expected_checksum(EACH);
    let mut overlapping = 0;
    let streams: Vec<_> = ids
        .iter()
        .map(|id| {
            api.wait_outcome(id, WAIT)
                .expect("an outcome")
                .streamed()
                .clone()
        })
        .collect();
    for (i, a) in streams.iter().enumerate() {
        assert!(a.complete && a.problem.is_none(), "{a:?}");
        assert_eq!((a.length, a.checksum), (EACH, expected));
        if streams[i + 1..]
            .iter()
            .any(|b| b.opened < a.ended && a.opened < b.ended)
        {
            overlapping += 1;
        }
    }
    assert!(overlapping > 0, "no two streams were in flight at once");
}

#[test]
fn the_stream_example_streams_its_rows_under_the_emulator_and_locally() {
    let api = Emulator::start();
    let _function = Function::start(env!("CARGO_BIN_EXE_stream_example"), &api, &[]);
    let outcome = api.invoke(Event::json(r#"{"rows":3,"pause_ms":30}"#));
    let streamed = outcome.streamed();
    assert_eq!(streamed.problem, None);
    assert_eq!(streamed.content_type.as_deref(), Some("text/csv"));
    assert_eq!(streamed.body, b"id,square\n1,1\n2,4\n3,9\n");
    assert_eq!(streamed.chunks, 4);
    let posted = api
        .invoke(Event::json(r#"{"rows":2000000}"#))
        .error()
        .clone();
    assert_eq!(posted.document["errorType"], "Export.TooLarge");

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_stream_example"))
        .args([
            "--event",
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../examples/stream/event.json"
            ),
        ])
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(output.stdout, b"id,square\n1,1\n2,4\n3,9\n4,16\n5,25\n");
}

#[test]
fn a_stream_the_runtime_api_cuts_off_past_its_limit_stops_the_producer() {
    let api = Emulator::start();
    api.set_stream_limit(1 << 20);
    let function = Function::start(BYTES, &api, &[]);
    let id = api.enqueue(Event::json(r#"{"mode":"until_closed"}"#));
    let outcome = api.wait_outcome(&id, WAIT).expect("the stream was read");
    let streamed = outcome.streamed();
    assert!(!streamed.complete);
    assert!(streamed.length > 1 << 20, "{}", streamed.length);
    let output = function.wait_output("stopping the export");
    assert!(
        output.contains("the caller went away; stopping the export"),
        "{output}"
    );
    assert_eq!(api.invoke(ask("count", 9)).streamed().length, 9);
}

#[test]
fn xray_subsegments_of_a_streamed_invocation_are_sent() {
    use std::net::UdpSocket;
    let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
    daemon
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let address = daemon.local_addr().unwrap().to_string();
    let api = Emulator::start();
    let _function = Function::start(BYTES, &api, &[("AWS_XRAY_DAEMON_ADDRESS", &address)]);
    let trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    let id =
        api.enqueue(Event::json(r#"{"mode":"traced"}"#).header("Lambda-Runtime-Trace-Id", trace));
    let outcome = api.wait_outcome(&id, WAIT).expect("an outcome");
    // The datagrams wait in the socket's buffer.
    let mut documents = Vec::new();
    let mut buf = vec![0u8; 70_000];
    while let Ok(n) = daemon.recv(&mut buf) {
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        let (_, document) = text.split_once('\n').expect("the protocol header line");
        documents.push(serde_json::from_str::<Value>(document).unwrap());
    }
    let streamed = outcome.streamed();
    assert_eq!(streamed.body, b"row 1\nrow 2\n");
    let rows: Vec<_> = documents.iter().filter(|d| d["name"] == "row").collect();
    assert_eq!(rows.len(), 2, "{documents:#?}");
    for document in rows {
        assert_eq!(document["trace_id"], "1-5759e988-bd862e3fe1be46a994272793");
        assert_eq!(document["parent_id"], "53995c3f42cd8ad8");
    }
}
