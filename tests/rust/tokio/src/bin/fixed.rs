// The fix: a tokio channel. A std thread sends with blocking_send (it may
// block: it is not a runtime thread); the task awaits recv(), so the runtime
// thread only ever waits in its own park. Prints three lines and exits.
use tokio::sync::mpsc;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let (tx, mut rx) = mpsc::channel::<u32>(1);
    let producer = std::thread::spawn(move || {
        for i in 0..3 {
            std::thread::sleep(std::time::Duration::from_millis(20));
            tx.blocking_send(i).unwrap();
        }
    });
    let task = tokio::spawn(async move {
        while let Some(v) = rx.recv().await {
            println!("got {v}");
        }
    });
    task.await.unwrap();
    // Joining is blocking too: on a blocking-pool thread, not the runtime's.
    tokio::task::spawn_blocking(move || producer.join().unwrap())
        .await
        .unwrap();
}
