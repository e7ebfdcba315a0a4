// A std::sync::Mutex held by a thread while a task locks it: the task's
// lock waits on a futex, and the runtime thread with it. The hand-shake
// happens before the runtime starts, where blocking is fine.
use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

fn take(m: &Mutex<u32>) -> u32 {
    *m.lock().unwrap()
}

fn main() {
    let m = Arc::new(Mutex::new(7u32));
    let held = Arc::new(Barrier::new(2));
    let holder = {
        let (m, held) = (m.clone(), held.clone());
        std::thread::spawn(move || {
            let g = m.lock().unwrap();
            held.wait();
            std::thread::sleep(Duration::from_millis(200));
            drop(g);
        })
    };
    held.wait();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let v = rt.block_on(async move { tokio::spawn(async move { take(&m) }).await.unwrap() });
    println!("took {v}");
    holder.join().unwrap();
}
