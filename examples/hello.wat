;; The smallest useful module: one exported function, no imports.
;;   nanoproc run --invoke hello examples/hello.wat      prints 42
;;   nanoproc run --invoke add examples/hello.wat 2 -5   prints -3
;; (A real "hello, world" on stdout needs WASI, which comes with a later version.)
(module
  (func (export "hello") (result i32)
    (i32.const 42))
  (func (export "add") (param i32 i32) (result i32)
    (i32.add (local.get 0) (local.get 1))))
