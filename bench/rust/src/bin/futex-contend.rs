// Futex-heavy and loop-free: THREADS std threads take one std::sync::Mutex
// ITERS times each (contended: std parks in a futex wait through
// syscall()), in a program that links tokio, so the preload classifies
// every one of those waits by its stack. WORK steps under the lock keep it
// contended: 8 threads, 20000 locks each make ~4000 futex waits (strace).
// Prints the wall time in ms. Usage: futex-contend [THREADS] [ITERS]
use std::sync::{Arc, Mutex};
use std::time::Instant;

const WORK: u64 = 2000;

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
                    for _ in 0..WORK {
                        // std::hint::black_box(*g + 1) before Rust 1.66
                        // (Debian 12's is 1.63): the steps are not folded.
                        *g = unsafe { std::ptr::read_volatile(&(*g + 1)) };
                    }
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    let ms = start.elapsed().as_secs_f64() * 1e3;
    assert_eq!(*m.lock().unwrap(), threads * iters * WORK);
    println!("{ms:.1}");
}
