//! The loopback CodeConnections endpoint that `replay` and `serve-scenario` run (and tests
//! and the benchmark use): a real HTTP server on `127.0.0.1` speaking Smithy RPC v2 CBOR, so
//! the real SDK client talks to it over TCP. The same server is the loopback CloudFormation
//! endpoint (awsQuery XML, in a file of its own).
//!
//! [`serve`] is the one accept loop of every loopback server, this one and the test-only
//! stand-ins (webhook receivers, the Lambda Runtime API) in `tests/support`.

mod cloudformation;
mod codeconnections;

pub use cloudformation::{
    CloudFormationFault, CloudFormationOptions, CloudFormationStandIn,
    loopback_cloudformation_client,
};
pub use codeconnections::{
    Fault, LoopbackCodeConnections, LoopbackOptions, access_key_for, account_of_access_key,
    loopback_client,
};

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{Request, Response};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// An account and Region: `("111122223333", "us-east-1")`.
pub type ScopeKey = (String, String);

/// Every answer's body of the AWS stand-ins: whole, or trickled.
pub(crate) type Body = http_body_util::combinators::UnsyncBoxBody<Bytes, Infallible>;

/// A whole body.
pub(crate) fn full(bytes: impl Into<Bytes>) -> Body {
    use http_body_util::BodyExt;
    http_body_util::Full::new(bytes.into()).boxed_unsync()
}

/// Waits until `due`, to a tenth of a millisecond. Tokio's timer fires on whole
/// milliseconds: a 20 ms sleep lasts about 21, and every answer due within the same
/// millisecond leaves together, so the stand-in would be slower and burstier than the
/// latency it models. A thread of the blocking pool sleeps each call's own time instead; it
/// holds no CPU.
pub(crate) async fn wait_until(due: Instant) {
    let left = due.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return;
    }
    let waited = tokio::task::spawn_blocking(move || std::thread::sleep(left)).await;
    if waited.is_err() {
        // The pool is shutting down with the endpoint: the answer no longer matters.
        tokio::time::sleep(left).await;
    }
}

/// The address a request came from (in its extensions): one per client connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peer(pub SocketAddr);

/// Serves `handle` on a loopback port (0: a fresh one) until the returned task is aborted.
/// Each request carries the [`Peer`] it came from.
pub async fn serve<F, Fut, B>(port: u16, handle: F) -> std::io::Result<(SocketAddr, JoinHandle<()>)>
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<B>> + Send + 'static,
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let address = listener.local_addr()?;
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, peer)) = listener.accept().await else {
                continue;
            };
            let handle = handle.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
                    request.extensions_mut().insert(Peer(peer));
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
