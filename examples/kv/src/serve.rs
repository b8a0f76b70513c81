//! The store over HTTP on port 80: `PUT /kv/KEY` (the body is the value), `GET /kv/KEY`,
//! `DELETE /kv/KEY`, and `GET /stats`. A PUT or DELETE is answered `200` only after its record is
//! on the disk and flushed; a failed write is answered `500`. One task per connection (keep-alive);
//! the store is used by one request at a time ([`Lock`]).

use alloc::format;
use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::Cell;

use xenolith::executor::LocalSet;
use xenolith::net::{self, Net, TcpListener, TcpStream};
use xenolith::println;

use crate::http::{read_request, response, ReadError, Request};
use crate::lock::Lock;
use crate::record::{MAX_KEY, MAX_VALUE};
use crate::store::Store;

pub const PORT: u16 = 80;

#[derive(Default)]
pub struct Counters {
    pub connections: Cell<u64>,
    pub puts: Cell<u64>,
    pub gets: Cell<u64>,
    pub deletes: Cell<u64>,
    pub errors: Cell<u64>,
}

fn bump(c: &Cell<u64>) {
    c.set(c.get() + 1);
}

/// The answer to one request: (status, body).
async fn handle(store: &Lock<Store<'_>>, counters: &Counters, req: &Request) -> (&'static str, Vec<u8>) {
    if req.path == "/stats" && req.method == "GET" {
        let s = store.lock().await;
        let body = format!(
            "keys {}\nlog_sectors {}\nconnections {}\nputs {}\ngets {}\ndeletes {}\nerrors {}\n",
            s.len(),
            s.log_sectors(),
            counters.connections.get(),
            counters.puts.get(),
            counters.gets.get(),
            counters.deletes.get(),
            counters.errors.get()
        );
        return ("200 OK", body.into_bytes());
    }
    let Some(key) = req.path.strip_prefix("/kv/").map(str::as_bytes) else {
        return ("404 Not Found", b"not found\n".to_vec());
    };
    if key.is_empty() || key.len() > MAX_KEY {
        return ("400 Bad Request", b"bad key\n".to_vec());
    }
    match req.method.as_str() {
        "GET" => {
            bump(&counters.gets);
            match store.lock().await.get(key) {
                Some(v) => ("200 OK", v.to_vec()),
                None => ("404 Not Found", b"no such key\n".to_vec()),
            }
        }
        "PUT" => {
            let mut s = store.lock().await;
            match s.put(key, &req.body).await {
                Ok(()) => {
                    bump(&counters.puts);
                    ("200 OK", b"stored\n".to_vec())
                }
                Err(e) => {
                    bump(&counters.errors);
                    println!("kv: PUT failed: {e}");
                    ("500 Internal Server Error", format!("{e}\n").into_bytes())
                }
            }
        }
        "DELETE" => {
            let mut s = store.lock().await;
            if s.get(key).is_none() {
                return ("404 Not Found", b"no such key\n".to_vec());
            }
            match s.delete(key).await {
                Ok(()) => {
                    bump(&counters.deletes);
                    ("200 OK", b"deleted\n".to_vec())
                }
                Err(e) => {
                    bump(&counters.errors);
                    println!("kv: DELETE failed: {e}");
                    ("500 Internal Server Error", format!("{e}\n").into_bytes())
                }
            }
        }
        _ => ("405 Method Not Allowed", b"method not allowed\n".to_vec()),
    }
}

async fn connection(mut stream: TcpStream, store: Rc<Lock<Store<'static>>>, counters: Rc<Counters>) {
    bump(&counters.connections);
    let mut buf = Vec::new();
    loop {
        let req = match read_request(&mut stream, &mut buf, MAX_VALUE).await {
            Ok(r) => r,
            Err(ReadError::Closed) => break,
            Err(ReadError::Bad(status)) => {
                let _ = stream.write_all(&response(status, b"", false)).await;
                break;
            }
        };
        let (status, body) = handle(&store, &counters, &req).await;
        if stream.write_all(&response(status, &body, req.keep_alive)).await.is_err() || !req.keep_alive {
            break;
        }
    }
    let _ = stream.flush().await;
    stream.close();
}

/// Accepts connections forever, a task each.
pub async fn serve(net: Net, local: LocalSet, store: Rc<Lock<Store<'static>>>, counters: Rc<Counters>) -> Result<(), net::Error> {
    let mut listener = TcpListener::bind(&net, PORT)?;
    loop {
        let (stream, _peer) = listener.accept().await?;
        drop(local.spawn(connection(stream, store.clone(), counters.clone())));
    }
}
