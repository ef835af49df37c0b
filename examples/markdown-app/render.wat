;; An "untrusted third-party library": a tiny markdown-to-HTML renderer exporting the WIT
;; interface `example:text/render` (wit/render.wit) by the canonical ABI, exactly as
;; `wit-bindgen` would lay it out:
;;
;;   render: func(input: string) -> string
;;     export "example:text/render#render"            (param ptr len) (result retptr)
;;     export "cabi_post_example:text/render#render"  (param retptr)   ;; frees everything
;;     export "cabi_realloc", "memory"
;;
;; It imports nothing at all, and the manifest grants it nothing: it can compute on the
;; bytes it is handed and return bytes, and that is all.
;;
;; Rendering, line by line: `# ` to `###### ` make <h1>..<h6>, other non-empty lines
;; make <p>; `*text*` becomes <em>text</em>; `<`, `>` and `&` are escaped; empty lines
;; are dropped.
(module $render
  (memory (export "memory") 1)
  ;; Constant text, then the heap.
  (data (i32.const 16) "<em></em>&lt;&gt;&amp;")
  (global $heap_base i32 (i32.const 1024))
  (global $heap (mut i32) (i32.const 1024))

  ;; A bump allocator (never frees; cabi_post_* resets it after each call).
  (func $realloc (export "cabi_realloc")
    (param $old i32) (param $old_size i32) (param $align i32) (param $size i32) (result i32)
    (local $p i32)
    (local.set $p (i32.and (i32.add (global.get $heap) (i32.sub (local.get $align) (i32.const 1)))
                           (i32.sub (i32.const 0) (local.get $align))))
    (global.set $heap (i32.add (local.get $p) (local.get $size)))
    (if (i32.gt_u (global.get $heap) (i32.mul (memory.size) (i32.const 65536)))
      (then
        (if (i32.eq (memory.grow (i32.add (i32.const 1)
                      (i32.shr_u (i32.sub (global.get $heap) (i32.mul (memory.size) (i32.const 65536)))
                                 (i32.const 16))))
                    (i32.const -1))
          (then unreachable))))
    (local.get $p))

  ;; Output cursor.
  (global $out (mut i32) (i32.const 0))

  (func $byte (param $b i32)
    (i32.store8 (global.get $out) (local.get $b))
    (global.set $out (i32.add (global.get $out) (i32.const 1))))

  (func $text (param $ptr i32) (param $len i32)
    (memory.copy (global.get $out) (local.get $ptr) (local.get $len))
    (global.set $out (i32.add (global.get $out) (local.get $len))))

  ;; `<h1>` … `<h6>`, or `<p>` for level 0; `$close` adds the `/`.
  (func $tag (param $level i32) (param $close i32)
    (call $byte (i32.const 0x3c)) ;; <
    (if (local.get $close) (then (call $byte (i32.const 0x2f)))) ;; /
    (if (local.get $level)
      (then (call $byte (i32.const 0x68)) ;; h
            (call $byte (i32.add (i32.const 0x30) (local.get $level))))
      (else (call $byte (i32.const 0x70)))) ;; p
    (call $byte (i32.const 0x3e))) ;; >

  (func (export "example:text/render#render") (param $in i32) (param $len i32) (result i32)
    (local $i i32) (local $end i32) (local $eol i32) (local $level i32) (local $em i32)
    (local $b i32) (local $start i32) (local $ret i32)
    ;; Worst case: every byte becomes 5 (`&amp;`, `</em>`), plus up to 12 bytes of tags
    ;; per line.
    (local.set $start (call $realloc (i32.const 0) (i32.const 0) (i32.const 1)
                        (i32.add (i32.mul (local.get $len) (i32.const 17)) (i32.const 16))))
    (global.set $out (local.get $start))
    (local.set $end (i32.add (local.get $in) (local.get $len)))
    (local.set $i (local.get $in))
    (block $done
      (loop $line
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        ;; Find the end of the line.
        (local.set $eol (local.get $i))
        (block $found
          (loop $scan
            (br_if $found (i32.ge_u (local.get $eol) (local.get $end)))
            (br_if $found (i32.eq (i32.load8_u (local.get $eol)) (i32.const 0x0a)))
            (local.set $eol (i32.add (local.get $eol) (i32.const 1)))
            (br $scan)))
        (if (i32.ne (local.get $eol) (local.get $i))
          (then
            ;; Heading level: up to six `#` followed by a space.
            (local.set $level (i32.const 0))
            (block $counted
              (loop $hash
                (br_if $counted (i32.ge_u (i32.add (local.get $i) (local.get $level)) (local.get $eol)))
                (br_if $counted (i32.ne (i32.load8_u (i32.add (local.get $i) (local.get $level)))
                                        (i32.const 0x23)))
                (local.set $level (i32.add (local.get $level) (i32.const 1)))
                (br $hash)))
            (if (i32.and
                  (i32.and (i32.ge_u (local.get $level) (i32.const 1))
                           (i32.le_u (local.get $level) (i32.const 6)))
                  (i32.and (i32.lt_u (i32.add (local.get $i) (local.get $level)) (local.get $eol))
                           (i32.eq (i32.load8_u (i32.add (local.get $i) (local.get $level)))
                                   (i32.const 0x20))))
              (then (local.set $i (i32.add (local.get $i) (i32.add (local.get $level) (i32.const 1)))))
              (else (local.set $level (i32.const 0))))
            (call $tag (local.get $level) (i32.const 0))
            (local.set $em (i32.const 0))
            (block $eol_reached
              (loop $char
                (br_if $eol_reached (i32.ge_u (local.get $i) (local.get $eol)))
                (local.set $b (i32.load8_u (local.get $i)))
                (if (i32.eq (local.get $b) (i32.const 0x2a)) ;; *
                  (then
                    (if (local.get $em)
                      (then (call $text (i32.const 20) (i32.const 5)))  ;; </em>
                      (else (call $text (i32.const 16) (i32.const 4)))) ;; <em>
                    (local.set $em (i32.eqz (local.get $em))))
                  (else (if (i32.eq (local.get $b) (i32.const 0x3c))
                    (then (call $text (i32.const 25) (i32.const 4)))    ;; &lt;
                  (else (if (i32.eq (local.get $b) (i32.const 0x3e))
                    (then (call $text (i32.const 29) (i32.const 4)))    ;; &gt;
                  (else (if (i32.eq (local.get $b) (i32.const 0x26))
                    (then (call $text (i32.const 33) (i32.const 5)))    ;; &amp;
                  (else (call $byte (local.get $b))))))))))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br $char)))
            (if (local.get $em) (then (call $text (i32.const 20) (i32.const 5))))
            (call $tag (local.get $level) (i32.const 1))
            (call $byte (i32.const 0x0a))))
        (local.set $i (i32.add (local.get $eol) (i32.const 1)))
        (br $line)))
    ;; The result, `string` = (ptr, len), returned through memory.
    (local.set $ret (call $realloc (i32.const 0) (i32.const 0) (i32.const 4) (i32.const 8)))
    (i32.store (local.get $ret) (local.get $start))
    (i32.store offset=4 (local.get $ret) (i32.sub (global.get $out) (local.get $start)))
    (local.get $ret))

  ;; Called by the runtime once the result was copied out: everything this call allocated
  ;; (the input, the output, the return area) is garbage now.
  (func (export "cabi_post_example:text/render#render") (param $ret i32)
    (global.set $heap (global.get $heap_base))))
