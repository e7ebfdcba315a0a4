// std::thread::sleep inside a task: the whole runtime sleeps with it.
use std::time::Duration;

fn nap() {
    std::thread::sleep(Duration::from_millis(30));
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    tokio::spawn(async { nap() }).await.unwrap();
    println!("slept");
}
