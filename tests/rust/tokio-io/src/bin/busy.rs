// A current_thread runtime with its I/O driver: it parks once (so
// loopguard sees its own poll), then four tasks yield to each other for
// 1 s (the runtime is busy but turning: no stall), then one task computes
// for 1 s without an await in spin_in_task (a stall, stall_ms=300).
use std::time::{Duration, Instant};

#[inline(never)]
fn spin_in_task(ms: u64) -> u64 {
    let t0 = Instant::now();
    let mut x = 0u64;
    while t0.elapsed() < Duration::from_millis(ms) {
        x = x.wrapping_add(1);
        // What std::hint::black_box(x) does, in Rust older than 1.66
        // (Debian 12's rustc is 1.63): the work is not optimized away.
        unsafe { std::ptr::read_volatile(&x) };
    }
    x
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    tokio::time::sleep(Duration::from_millis(50)).await;
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..4 {
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while t0.elapsed() < Duration::from_millis(1000) {
                n += 1;
                tokio::task::yield_now().await;
            }
            n
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    println!("turned");
    tokio::spawn(async { spin_in_task(1000) }).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    println!("spun");
}

#[allow(dead_code)]
async fn uses_the_io_driver() {
    let _ = tokio::net::TcpListener::bind("127.0.0.1:0").await;
}
