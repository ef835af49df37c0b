//! The untrusted `render` library of `examples/markdown-app`, in Rust: `wit-bindgen`
//! generates the canonical-ABI glue for the WIT world `library` (`../wit/render.wit`) —
//! the export `example:text/render#render`, its `cabi_post_…`, `cabi_realloc` — and this
//! file only implements the function. nanoproc runs it as a nanoprocess granted nothing.
//!
//! Rendering, line by line (exactly as `../render.wat`): `# ` to `###### ` make
//! `<h1>`..`<h6>`, other non-empty lines make `<p>`; `*text*` becomes `<em>text</em>`;
//! `<`, `>` and `&` are escaped; empty lines are dropped.

wit_bindgen::generate!({
    path: "../wit",
    world: "library",
});

struct Render;

impl exports::example::text::render::Guest for Render {
    fn render(input: String) -> String {
        let mut out = String::with_capacity(input.len() * 2);
        for line in input.split('\n').filter(|l| !l.is_empty()) {
            let hashes = line.bytes().take_while(|&b| b == b'#').count();
            let (tag, text) =
                if (1..=6).contains(&hashes) && line.as_bytes().get(hashes) == Some(&b' ') {
                    (format!("h{hashes}"), &line[hashes + 1..])
                } else {
                    ("p".to_string(), line)
                };
            out.push_str(&format!("<{tag}>"));
            let mut em = false;
            for c in text.chars() {
                match c {
                    '*' => {
                        out.push_str(if em { "</em>" } else { "<em>" });
                        em = !em;
                    }
                    '<' => out.push_str("&lt;"),
                    '>' => out.push_str("&gt;"),
                    '&' => out.push_str("&amp;"),
                    c => out.push(c),
                }
            }
            if em {
                out.push_str("</em>");
            }
            out.push_str(&format!("</{tag}>\n"));
        }
        out
    }
}

export!(Render);
