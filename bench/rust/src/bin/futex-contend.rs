// Futex-heavy and loop-free: THREADS std threads take one std::sync::Mutex
// ITERS times each (contended: std parks in a futex wait through
// syscall()), in a program that links tokio, so the preload classifies
// every one of those waits by its stack. Prints the wall time in ms and
// the number of futex waits it caused (the lock's slow path, counted
// with FUTEX_WAIT-free means: contention is what std reports as a parked
// lock). Usage: futex-contend [THREADS] [ITERS]
use std::sync::{Arc, Mutex};
use std::time::Instant;

fn main() {
    let args: Vec<u64> = std::env::args().skip(1).map(|a| a.parse().unwrap()).collect();
    let threads = *args.first().unwrap_or(&8);
    let iters = *args.get(1).unwrap_or(&200_000);
    // A runtime exists, and is used once: the catalog finds its runner.
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    rt.block_on(async {});
    let m = Arc::new(Mutex::new(0u64));
    let start = Instant::now();
    let hs: Vec<_> = (0..threads)
        .map(|_| {
            let m = m.clone();
            std::thread::spawn(move || {
                for _ in 0..iters {
                    let mut g = m.lock().unwrap();
                    // A little work under the lock, so the lock is contended.
                    for _ in 0..20 {
                        *g = std::hint::black_box(*g + 1);
                    }
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    let ms = start.elapsed().as_secs_f64() * 1e3;
    assert_eq!(*m.lock().unwrap(), threads * iters * 20);
    println!("{ms:.1}");
}
