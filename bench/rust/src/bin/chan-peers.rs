// chan-peers tokio|crossbeam PRODUCERS SIZE MESSAGES: lg_chan's peers in
// Rust, for bench/run-chan-peers.sh, measured as bench-chanrate measures
// lg_chan: PRODUCERS std threads send MESSAGES messages of SIZE (8 or 64)
// bytes in all, as fast as they can, into a channel of capacity 1024; one
// receiver takes them; the rate is MESSAGES over the time from the
// producers' start to the last receipt, and each producer's messages must
// arrive complete and in order (exit 1 otherwise).
//   tokio      tokio::sync::mpsc: blocking_send from the threads, recv()
//              in a current_thread runtime on the main thread (the seed's
//              shape, done right).
//   crossbeam  crossbeam_channel::bounded: send from the threads, recv on
//              the main thread.
// Prints "RESULT impl=... prod=P size=S msgs=M secs=T rate=R".
use std::sync::{Arc, Barrier};
use std::time::Instant;

const CAP: usize = 1024;
const SEQ_BITS: u32 = 56;

struct Check {
    next: Vec<u64>,
    bad: u64,
}

impl Check {
    fn take(&mut self, tag: u64) {
        let p = (tag >> SEQ_BITS) as usize;
        let seq = tag & ((1u64 << SEQ_BITS) - 1);
        if p < self.next.len() && self.next[p] == seq {
            self.next[p] += 1;
        } else {
            self.bad += 1;
        }
    }
}

fn producers<F>(n: usize, per: u64, go: &Arc<Barrier>, send: F) -> Vec<std::thread::JoinHandle<()>>
where
    F: Fn(u64) + Send + Clone + 'static,
{
    let _ = per;
    (0..n)
        .map(|p| {
            let send = send.clone();
            let go = go.clone();
            std::thread::spawn(move || {
                go.wait();
                for seq in 0..per {
                    send((p as u64) << SEQ_BITS | seq);
                }
            })
        })
        .collect()
}

fn run<const W: usize>(kind: &str, n: usize, per: u64) -> (f64, Check) {
    let total = per * n as u64;
    let go = Arc::new(Barrier::new(n + 1));
    let mut check = Check { next: vec![0; n], bad: 0 };
    let start;
    let hs;
    if kind == "tokio" {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::channel::<[u64; W]>(CAP);
        hs = producers(n, per, &go, move |tag| {
            let mut m = [tag; W];
            m[0] = tag;
            tx.blocking_send(m).unwrap();
        });
        go.wait();
        start = Instant::now();
        rt.block_on(async {
            for _ in 0..total {
                let m = rx.recv().await.unwrap();
                check.take(m[0]);
            }
        });
    } else {
        let (tx, rx) = crossbeam_channel::bounded::<[u64; W]>(CAP);
        hs = producers(n, per, &go, move |tag| {
            tx.send([tag; W]).unwrap();
        });
        go.wait();
        start = Instant::now();
        for _ in 0..total {
            let m = rx.recv().unwrap();
            check.take(m[0]);
        }
    }
    let secs = start.elapsed().as_secs_f64();
    for h in hs {
        h.join().unwrap();
    }
    (secs, check)
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() != 5 || (a[1] != "tokio" && a[1] != "crossbeam") {
        eprintln!("usage: chan-peers tokio|crossbeam PRODUCERS SIZE MESSAGES");
        std::process::exit(2);
    }
    let n: usize = a[2].parse().unwrap();
    let size: usize = a[3].parse().unwrap();
    let per = a[4].parse::<u64>().unwrap() / n as u64;
    let (secs, check) = match size {
        8 => run::<1>(&a[1], n, per),
        64 => run::<8>(&a[1], n, per),
        _ => {
            eprintln!("chan-peers: SIZE is 8 or 64");
            std::process::exit(2);
        }
    };
    let total = per * n as u64;
    let got: u64 = check.next.iter().sum();
    if check.bad != 0 || got != total {
        eprintln!("chan-peers: {} of {} in order, {} out of order", got, total, check.bad);
        std::process::exit(1);
    }
    println!(
        "RESULT impl={} prod={} size={} msgs={} secs={:.4} rate={:.0}",
        a[1], n, size, total, secs, total as f64 / secs
    );
}
