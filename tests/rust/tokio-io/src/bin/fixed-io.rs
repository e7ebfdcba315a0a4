// tokio/src/bin/fixed.rs with tokio's I/O driver: the runtime parks in
// epoll_wait between messages, its own wait, never reported.
include!("../../../tokio/src/bin/fixed.rs");
