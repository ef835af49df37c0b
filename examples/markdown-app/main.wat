;; The application's main program: reads a markdown file from the directory it was
;; granted (`/docs`, read-only), has the untrusted `render` library turn it into HTML
;; through the WIT interface `example:text/render`, and prints the result.
;;
;;   nanoproc run examples/markdown-app/nanoproc.toml [FILE]   (FILE inside /docs,
;;                                                               default hello.md)
;;
;; The call to `render` is an ordinary import, lowered by the canonical ABI exactly as
;; `wit-bindgen` would lower it:
;;
;;   import "example:text/render" "render"  (param ptr len retptr)
;;
;; The runtime copies the input string from this memory into the library's, calls it,
;; and copies the result string back into memory allocated with this module's
;; `cabi_realloc`, writing (ptr, len) at `retptr`.
(module $main
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "example:text/render" "render" (func $render (param i32 i32 i32)))

  ;; 0..64 scratch (iovecs, results), 64..1024 messages, 1024..4096 arguments,
  ;; 4096.. the file, then the heap.
  (memory (export "memory") 4)
  (data (i32.const 64) "hello.md")                                  ;; 8 bytes
  (data (i32.const 80) "main: cannot read /docs/")                  ;; 24 bytes
  (data (i32.const 112) " (WASI errno ")                            ;; 13 bytes
  (data (i32.const 128) ")\n")                                      ;; 2 bytes
  (data (i32.const 136) "main: arguments too long\n")               ;; 25 bytes

  (global $file i32 (i32.const 4096))
  (global $file_max i32 (i32.const 131072))
  (global $heap (mut i32) (i32.const 135168))

  (func (export "cabi_realloc")
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

  (func $write (param $fd i32) (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8))))

  (func $strlen (param $p i32) (result i32)
    (local $n i32)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (i32.load8_u (i32.add (local.get $p) (local.get $n)))))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $next)))
    (local.get $n))

  ;; "main: cannot read /docs/NAME (WASI errno N)" on stderr, then exit 1.
  (func $fail (param $name i32) (param $name_len i32) (param $errno i32)
    (call $write (i32.const 2) (i32.const 80) (i32.const 24))
    (call $write (i32.const 2) (local.get $name) (local.get $name_len))
    (call $write (i32.const 2) (i32.const 112) (i32.const 13))
    (if (i32.ge_u (local.get $errno) (i32.const 10))
      (then
        (i32.store8 (i32.const 32) (i32.add (i32.const 0x30) (i32.div_u (local.get $errno) (i32.const 10))))
        (call $write (i32.const 2) (i32.const 32) (i32.const 1))))
    (i32.store8 (i32.const 32) (i32.add (i32.const 0x30) (i32.rem_u (local.get $errno) (i32.const 10))))
    (call $write (i32.const 2) (i32.const 32) (i32.const 1))
    (call $write (i32.const 2) (i32.const 128) (i32.const 2))
    (call $exit (i32.const 1)))

  (func (export "_start")
    (local $name i32) (local $name_len i32) (local $errno i32) (local $fd i32)
    (local $n i32) (local $got i32)
    ;; argv[1], or hello.md.
    (drop (call $args_sizes_get (i32.const 0) (i32.const 4)))
    (if (i32.or (i32.gt_u (i32.load (i32.const 0)) (i32.const 64))
                (i32.gt_u (i32.load (i32.const 4)) (i32.const 2048)))
      (then (call $write (i32.const 2) (i32.const 136) (i32.const 25))
            (call $exit (i32.const 1))))
    (drop (call $args_get (i32.const 1024) (i32.const 1536)))
    (if (i32.ge_u (i32.load (i32.const 0)) (i32.const 2))
      (then (local.set $name (i32.load (i32.const 1028)))
            (local.set $name_len (call $strlen (local.get $name))))
      (else (local.set $name (i32.const 64))
            (local.set $name_len (i32.const 8))))

    ;; Open it in the first preopened directory (fd 3, /docs) with the right to read.
    (local.set $errno (call $path_open
      (i32.const 3) (i32.const 0) (local.get $name) (local.get $name_len)
      (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 16)))
    (if (local.get $errno)
      (then (call $fail (local.get $name) (local.get $name_len) (local.get $errno))))
    (local.set $fd (i32.load (i32.const 16)))

    ;; Read it whole (up to 128 KiB).
    (block $eof
      (loop $more
        (br_if $eof (i32.ge_u (local.get $n) (global.get $file_max)))
        (i32.store (i32.const 0) (i32.add (global.get $file) (local.get $n)))
        (i32.store (i32.const 4) (i32.sub (global.get $file_max) (local.get $n)))
        (local.set $errno (call $fd_read (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8)))
        (if (local.get $errno)
          (then (call $fail (local.get $name) (local.get $name_len) (local.get $errno))))
        (local.set $got (i32.load (i32.const 8)))
        (br_if $eof (i32.eqz (local.get $got)))
        (local.set $n (i32.add (local.get $n) (local.get $got)))
        (br $more)))

    ;; The cross-nanoprocess call: the result's (ptr, len) lands at 24.
    (call $render (global.get $file) (local.get $n) (i32.const 24))
    (call $write (i32.const 1) (i32.load (i32.const 24)) (i32.load (i32.const 28)))))
