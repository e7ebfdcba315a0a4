// The classic bug: a task of a current_thread runtime receives from a std
// channel. The first recv() finds the message, the second blocks the only
// runtime thread, and main's sleep can never end: one line, then a hang.
use std::sync::mpsc;
use std::time::Duration;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let (tx, rx) = mpsc::channel::<u32>();
    tokio::spawn(async move {
        loop {
            let v = rx.recv().unwrap();
            println!("got {v}");
        }
    });
    for i in 0..3 {
        tx.send(i).unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
