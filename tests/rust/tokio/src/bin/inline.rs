// A task's helper, inlined into it, receives from a std channel: the
// runtime's only thread waits 50 ms for a std thread's send. Built with
// debug info (Cargo.toml: debug = 1 in release), the report names
// wait_value as an inlined frame at the recv() line, then the task at its
// call (test-rust.sh).
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

#[inline(always)]
fn wait_value(rx: &mpsc::Receiver<u32>) -> u32 {
    rx.recv().unwrap()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let (tx, rx) = mpsc::channel::<u32>();
    // Not joined: a join in main would be a wait on the runtime's thread.
    thread::spawn(move || {
        thread::sleep(Duration::from_millis(50));
        tx.send(7).unwrap();
    });
    let task = tokio::spawn(async move {
        let v = wait_value(&rx);
        println!("got {v}");
    });
    task.await.unwrap();
}
