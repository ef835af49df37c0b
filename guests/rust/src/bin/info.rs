//! info: prints what the program was given and what it sees, in the same format as
//! guests/c/info.c: `argc=N`, `argv[i]=...`, `envc=N`, `env[i]=NAME=VALUE`,
//! `realtime=SECONDS.NANOS`, `monotonic=NANOS`, `random=HEX` (16 bytes).

use std::time::SystemTime;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    println!("argc={}", args.len());
    for (i, a) in args.iter().enumerate() {
        println!("argv[{i}]={a}");
    }
    let vars: Vec<(String, String)> = std::env::vars().collect();
    println!("envc={}", vars.len());
    for (i, (k, v)) in vars.iter().enumerate() {
        println!("env[{i}]={k}={v}");
    }
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("the clock is after 1970");
    println!("realtime={}.{:09}", now.as_secs(), now.subsec_nanos());
    let mono = nanoproc_guests::monotonic().expect("clock_time_get");
    println!("monotonic={mono}");
    let mut random = [0u8; 16];
    nanoproc_guests::random(&mut random).expect("random_get");
    let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
    println!("random={hex}");
}
