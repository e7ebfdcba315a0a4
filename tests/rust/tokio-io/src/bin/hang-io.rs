// tokio/src/bin/hang.rs, built with tokio's I/O driver; a listener makes
// the runtime use it.
include!("../../../tokio/src/bin/hang.rs");

#[allow(dead_code)]
async fn uses_the_io_driver() {
    let _ = tokio::net::TcpListener::bind("127.0.0.1:0").await;
}
