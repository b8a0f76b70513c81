//! Just enough HTTP/1.1 for the store: one request at a time from a keep-alive connection (a head,
//! then a body of `Content-Length` bytes), and responses with a length.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use xenolith::net::TcpStream;

/// Longest request head accepted (request line and headers).
const MAX_HEAD: usize = 8 * 1024;

pub struct Request {
    pub method: String,
    pub path: String,
    pub keep_alive: bool,
    pub body: Vec<u8>,
}

/// Why no request was read.
pub enum ReadError {
    /// The peer closed the connection (or it failed) between requests.
    Closed,
    /// Malformed, or too large: answered with this status, then the connection closes.
    Bad(&'static str),
}

struct Head {
    method: String,
    path: String,
    keep_alive: bool,
    body_len: usize,
}

fn parse_head(head: &[u8], max_body: usize) -> Result<Head, &'static str> {
    const BAD: &str = "400 Bad Request";
    let text = core::str::from_utf8(head).map_err(|_| BAD)?;
    let mut lines = text.split("\r\n");
    let mut first = lines.next().ok_or(BAD)?.split(' ');
    let (method, path, version) = (first.next().ok_or(BAD)?, first.next().ok_or(BAD)?, first.next().ok_or(BAD)?);
    if first.next().is_some() || method.is_empty() || !path.starts_with('/') {
        return Err(BAD);
    }
    let mut keep_alive = match version {
        "HTTP/1.1" => true,
        "HTTP/1.0" => false,
        _ => return Err(BAD),
    };
    let mut body_len = 0;
    for line in lines {
        let (name, value) = line.split_once(':').ok_or(BAD)?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("connection") {
            if value.eq_ignore_ascii_case("close") {
                keep_alive = false;
            } else if value.eq_ignore_ascii_case("keep-alive") {
                keep_alive = true;
            }
        } else if name.eq_ignore_ascii_case("content-length") {
            body_len = value.parse().map_err(|_| BAD)?;
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err("501 Not Implemented");
        }
    }
    if body_len > max_body {
        return Err("413 Content Too Large");
    }
    Ok(Head { method: String::from(method), path: String::from(path), keep_alive, body_len })
}

/// Reads one request; `buf` carries bytes already received beyond the previous request.
pub async fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>, max_body: usize) -> Result<Request, ReadError> {
    let mut chunk = [0u8; 2048];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if buf.len() > MAX_HEAD {
            return Err(ReadError::Bad("431 Request Header Fields Too Large"));
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return Err(ReadError::Closed),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = parse_head(&buf[..head_end], max_body).map_err(ReadError::Bad)?;
    buf.drain(..head_end + 4);
    while buf.len() < head.body_len {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return Err(ReadError::Closed),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let body: Vec<u8> = buf.drain(..head.body_len).collect();
    Ok(Request { method: head.method, path: head.path, keep_alive: head.keep_alive, body })
}

/// A whole response with a `Content-Length`.
pub fn response(status: &str, body: &[u8], keep_alive: bool) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 {status}\r\nServer: xenolith-kv\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: {}\r\n\r\n",
        body.len(),
        if keep_alive { "keep-alive" } else { "close" }
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}
