//! Loopback stand-ins for what the function talks to, on `127.0.0.1:0`:
//! a CodeConnections endpoint speaking Smithy RPC v2 CBOR (for `replay`, tests and
//! benchmarks), an HTTP receiver that records requests, and a Lambda Runtime API that
//! drives the real binary in Lambda mode (for tests and benchmarks).
//!
//! These are real HTTP servers: the real SDK client and reqwest talk to them over TCP.

mod codeconnections;
mod receiver;
mod runtime_api;

pub use codeconnections::{LoopbackCodeConnections, LoopbackOptions, loopback_client};
pub use receiver::{Receiver, Recorded, Reply};
pub use runtime_api::{Answer, LoopbackRuntimeApi};

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Serves `handle` on a loopback port (0: a fresh one) until the returned task is aborted.
async fn serve<F, Fut>(port: u16, handle: F) -> std::io::Result<(SocketAddr, JoinHandle<()>)>
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let address = listener.local_addr()?;
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let handle = handle.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let handle = handle.clone();
                    async move { Ok::<_, Infallible>(handle(request).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok((address, task))
}
