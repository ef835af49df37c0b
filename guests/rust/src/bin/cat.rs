//! cat: copies each file named on the command line to stdout, in order. A file that
//! cannot be opened or read is reported on stderr as `cat: PATH: errno=N` (the WASI errno)
//! and makes the exit code 1. Same behaviour as guests/c/cat.c.

use nanoproc_guests::errno;
use std::io::Write;

fn main() {
    let mut status = 0;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for path in std::env::args().skip(1) {
        let copied = std::fs::File::open(&path).and_then(|mut f| std::io::copy(&mut f, &mut out));
        if let Err(e) = copied {
            eprintln!("cat: {path}: errno={}", errno(&e));
            status = 1;
        }
    }
    out.flush().expect("flush stdout");
    std::process::exit(status);
}
