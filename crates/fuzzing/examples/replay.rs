//! Runs one oracle on saved inputs and prints the outcome:
//! `cargo run --release -p nanoproc-fuzzing --example replay -- ORACLE FILE...`
//! (ORACLE: decode_validate_translate, differential, wasi_paths). With `--wasm OUT`
//! after ORACLE=differential, also writes the generated module to OUT.

fn main() {
    let mut args = std::env::args().skip(1);
    let oracle = args.next().unwrap_or_default();
    let f: fn(&[u8]) -> Result<(), nanoproc_fuzzing::Failure> = match oracle.as_str() {
        "decode_validate_translate" => nanoproc_fuzzing::decode_validate_translate,
        "differential" => nanoproc_fuzzing::differential,
        "wasi_paths" => nanoproc_fuzzing::wasi_paths,
        _ => {
            eprintln!("usage: replay ORACLE [--wasm OUT] FILE...");
            std::process::exit(2);
        }
    };
    let mut wasm_out = None;
    let mut failed = false;
    while let Some(a) = args.next() {
        if a == "--wasm" {
            wasm_out = args.next();
            continue;
        }
        let input = std::fs::read(&a).expect("read input");
        if let Some(out) = wasm_out.take() {
            let m = nanoproc_fuzzing::smith_module(&input).expect("seed too short");
            std::fs::write(&out, m).expect("write module");
        }
        match f(&input) {
            Ok(()) => println!("{a}: ok"),
            Err(e) => {
                failed = true;
                println!("{a}: FAILURE: {e}");
            }
        }
    }
    std::process::exit(i32::from(failed));
}
