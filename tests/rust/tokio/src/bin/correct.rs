// Correct use of a std channel: the runtime sends (never blocks), a std
// thread blocks in recv(), which is what threads are for. Nothing to report.
use std::sync::mpsc;
use std::time::Duration;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let (tx, rx) = mpsc::channel::<u32>();
    let consumer = std::thread::spawn(move || {
        while let Ok(v) = rx.recv() {
            println!("got {v}");
        }
    });
    tokio::spawn(async move {
        for i in 0..3 {
            tx.send(i).unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
    tokio::task::spawn_blocking(move || consumer.join().unwrap())
        .await
        .unwrap();
}
