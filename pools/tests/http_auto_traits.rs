//! Send/Sync/Unpin of every public HTTP type and of the futures its methods return.

#![cfg(feature = "http")]

use asyncperf_pools::http::{
    DnsMetrics, HttpClient, HttpClientBuilder, HttpError, Response, ResponseBody, SystemResolver,
    TimeoutPhase,
};
use static_assertions::assert_impl_all;

assert_impl_all!(HttpClient: Send, Sync, Unpin, Clone);
assert_impl_all!(HttpClientBuilder: Send, Sync, Unpin);
assert_impl_all!(Response: Send, Sync, Unpin);
assert_impl_all!(ResponseBody: Send, Sync, Unpin, http_body::Body);
assert_impl_all!(HttpError: Send, Sync, Unpin, std::error::Error);
assert_impl_all!(TimeoutPhase: Send, Sync, Unpin, Copy);
assert_impl_all!(DnsMetrics: Send, Sync, Unpin, Copy);
assert_impl_all!(SystemResolver: Send, Sync, Unpin, Copy);

fn is_send<T: Send>(_: &T) {}

#[test]
fn the_client_is_also_at_the_crate_root() {
    let client: asyncperf_pools::HttpClient = asyncperf_pools::HttpClientBuilder::new().build();
    let _: Option<asyncperf_pools::HttpError> = None;
    drop(client);
}

#[test]
fn request_futures_are_send() {
    let client = HttpClient::new();
    let get = client.get("http://127.0.0.1:1/");
    is_send(&get);
    let req = client.request(http::Request::new(bytes::Bytes::new()));
    is_send(&req);
}

#[tokio::test]
async fn body_futures_are_send() {
    // A connection to nowhere: only the futures' types matter.
    let client = HttpClient::new();
    if let Ok(mut resp) = client.get("http://127.0.0.1:1/").await {
        is_send(&resp.chunk());
        is_send(&resp.bytes(1));
    }
}
