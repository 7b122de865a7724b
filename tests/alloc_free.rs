//! A busy connection in steady state allocates nothing on the server's thread: every
//! message is parsed in a pooled read buffer, lent to the handler, and echoed into a
//! pooled write buffer. Proved with a counting global allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use pushwire::client::Client;
use pushwire::{Config, ConnId, Context, Handler, Message, Server};

struct Counting;

static ENABLED: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Only the server's thread is counted; the client's allocations are its own business.
    static SERVER_THREAD: Cell<bool> = const { Cell::new(false) };
}

fn count() {
    if ENABLED.load(Ordering::Relaxed) && SERVER_THREAD.with(Cell::get) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

// The only `unsafe` in the project: a global allocator cannot be written without it.
// The library itself is `#![forbid(unsafe_code)]`; this test crate forwards every call
// to `System` unchanged and only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

struct Echo;

impl Handler for Echo {
    fn on_message(&mut self, ctx: &mut Context<'_>, conn: ConnId, message: Message<'_>) {
        let _ = ctx.send(conn, &message);
    }
}

#[test]
fn echoing_small_messages_allocates_nothing_in_steady_state() {
    let mut server = Server::bind("127.0.0.1:0".parse().unwrap(), Config::default()).unwrap();
    let url = format!("ws://{}/", server.local_addr());
    let handle = server.handle();
    let thread = std::thread::spawn(move || {
        SERVER_THREAD.with(|s| s.set(true));
        server.run(&mut Echo).unwrap();
    });
    // Counted from the start, so that the counter is seen to work: accepting the
    // connection and its first messages do allocate (its slot, the read buffer, ...).
    ENABLED.store(true, Ordering::SeqCst);
    let mut client = Client::connect(&url).unwrap();
    // No read waits forever if the server stops echoing.
    client
        .stream()
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let binary = [7u8; 20];
    let text = "twenty bytes of text".repeat(5);
    let round = |client: &mut Client| {
        client.send_binary(&binary).unwrap();
        assert_eq!(client.recv().unwrap().as_bytes(), binary);
        client.send_text(&text).unwrap();
        assert_eq!(client.recv().unwrap().as_text(), Some(text.as_str()));
    };
    // Warm up: pools, lists and the timer heap reach their working size.
    for _ in 0..2_000 {
        round(&mut client);
    }
    let warm_up = ALLOCATIONS.swap(0, Ordering::SeqCst);
    assert!(
        warm_up > 0,
        "precondition: the counter sees the server thread's allocations"
    );
    for _ in 0..5_000 {
        round(&mut client);
    }
    ENABLED.store(false, Ordering::SeqCst);
    let allocations = ALLOCATIONS.load(Ordering::SeqCst);
    handle.shutdown().unwrap();
    thread.join().unwrap();
    assert_eq!(
        allocations, 0,
        "server-thread allocations during 10,000 echoed messages"
    );
}
