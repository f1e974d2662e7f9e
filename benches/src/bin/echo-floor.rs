//! The floor: the least a Runtime API loop can do. One blocking keep-alive socket, no runtime,
//! no logging, no error handling beyond exiting; the same serde_json echo.

use std::io::{Read, Write};
use std::net::TcpStream;

fn main() {
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API").expect("AWS_LAMBDA_RUNTIME_API");
    let mut stream = TcpStream::connect(&api).expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let mut buf = vec![0u8; 1 << 20];
    let mut out = Vec::with_capacity(1 << 16);
    loop {
        let request =
            format!("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: {api}\r\n\r\n");
        if stream.write_all(request.as_bytes()).is_err() {
            return;
        }
        let (id, event) = match read_response(&mut stream, &mut buf) {
            Some(found) => found,
            None => return,
        };
        let value: serde_json::Value = serde_json::from_slice(&event).expect("json");
        let body = serde_json::to_vec(&value).expect("encode");
        out.clear();
        write!(
            out,
            "POST /2018-06-01/runtime/invocation/{id}/response HTTP/1.1\r\nHost: {api}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .unwrap();
        out.extend_from_slice(&body);
        if stream.write_all(&out).is_err() || read_response(&mut stream, &mut buf).is_none() {
            return;
        }
    }
}

/// Reads one response; returns the request id header (if any) and the body.
fn read_response(stream: &mut TcpStream, buf: &mut [u8]) -> Option<(String, Vec<u8>)> {
    let mut len = 0;
    loop {
        let n = stream.read(&mut buf[len..]).ok()?;
        if n == 0 {
            return None;
        }
        len += n;
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut response = httparse::Response::new(&mut headers);
        if let httparse::Status::Complete(head) = response.parse(&buf[..len]).ok()? {
            let mut id = String::new();
            let mut body_len = 0;
            for h in response.headers.iter() {
                if h.name.eq_ignore_ascii_case("content-length") {
                    body_len = std::str::from_utf8(h.value).ok()?.parse().ok()?;
                } else if h.name.eq_ignore_ascii_case("lambda-runtime-aws-request-id") {
                    id = String::from_utf8_lossy(h.value).into_owned();
                }
            }
            while len < head + body_len {
                let n = stream.read(&mut buf[len..]).ok()?;
                if n == 0 {
                    return None;
                }
                len += n;
            }
            return Some((id, buf[head..head + body_len].to_vec()));
        }
    }
}
