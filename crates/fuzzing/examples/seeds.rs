//! Writes N wasm-smith modules (from a fixed pseudo-random stream) into DIR, a seed corpus
//! for the `decode_validate_translate` fuzz target:
//! `cargo run --release -p nanoproc-fuzzing --example seeds -- DIR N`

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(n)) = (
        args.next(),
        args.next().and_then(|n| n.parse::<usize>().ok()),
    ) else {
        eprintln!("usage: seeds DIR N");
        std::process::exit(2);
    };
    std::fs::create_dir_all(&dir).expect("create DIR");
    let mut state = 0x5eed_u64;
    let mut written = 0;
    for i in 0..n {
        let seed: Vec<u8> = (0..512 + (i % 8) * 256)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        if let Some(m) = nanoproc_fuzzing::smith_module(&seed) {
            std::fs::write(format!("{dir}/smith-{i:04}.wasm"), m).expect("write module");
            written += 1;
        }
    }
    println!("{written} modules written to {dir}");
}
