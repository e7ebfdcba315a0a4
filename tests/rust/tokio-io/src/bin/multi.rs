// A multi_thread runtime (two workers): one task receives from a std
// channel, blocking its worker (reported); another does the same inside
// tokio::task::block_in_place, which hands the worker's other tasks to
// another thread first (allowed: not reported). Prints two lines.
use std::sync::mpsc;
use std::time::Duration;

fn recv_plain(rx: mpsc::Receiver<u32>) -> u32 {
    rx.recv().unwrap()
}

fn recv_in_place(rx: mpsc::Receiver<u32>) -> u32 {
    tokio::task::block_in_place(move || rx.recv().unwrap())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let (tx1, rx1) = mpsc::channel::<u32>();
    let (tx2, rx2) = mpsc::channel::<u32>();
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        tx1.send(1).unwrap();
        tx2.send(2).unwrap();
    });
    let a = tokio::spawn(async move { recv_plain(rx1) });
    let b = tokio::spawn(async move { recv_in_place(rx2) });
    println!("plain {}", a.await.unwrap());
    println!("in place {}", b.await.unwrap());
    tokio::task::spawn_blocking(move || sender.join().unwrap()).await.unwrap();
}
