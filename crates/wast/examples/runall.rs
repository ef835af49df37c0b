//! Development helper: `cargo run --release -p nanoproc-wast --example runall -- FILE...`
fn main() {
    let (mut p, mut f) = (0, 0);
    for arg in std::env::args().skip(1) {
        match nanoproc_wast::run_file(std::path::Path::new(&arg)) {
            Ok(r) => {
                for x in r.failures.iter() {
                    eprintln!("  {x}");
                }
                println!("{arg}: {} passed, {} failed", r.passed, r.failed);
                p += r.passed;
                f += r.failed;
            }
            Err(e) => {
                println!("{arg}: ERROR {e}");
                f += 1;
            }
        }
    }
    println!("{p} passed, {f} failed");
}
