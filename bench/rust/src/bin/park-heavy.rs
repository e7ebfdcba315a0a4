// A tokio runtime that parks all the time: a std thread hands ITERS
// messages one at a time (capacity 1) to a current_thread runtime's task,
// so the runtime thread parks on a futex between most of them, and each
// park that may block is classified by its stack under the preload.
// Prints the wall time in ms and the parks seen per message is not
// counted: the ratio to a native run is the figure. Usage: park-heavy [ITERS]
use std::time::Instant;

fn main() {
    let iters: u64 = std::env::args().nth(1).map(|a| a.parse().unwrap()).unwrap_or(100_000);
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<u64>(1);
    let start = Instant::now();
    let producer = std::thread::spawn(move || {
        for i in 0..iters {
            tx.blocking_send(i).unwrap();
        }
    });
    let sum = rt.block_on(async move {
        let mut sum = 0u64;
        while let Some(v) = rx.recv().await {
            sum += v;
        }
        sum
    });
    producer.join().unwrap();
    assert_eq!(sum, iters * (iters - 1) / 2);
    println!("{:.1}", start.elapsed().as_secs_f64() * 1e3);
}
