;; No-op `bench.start` / `bench.end` for the sightglass benchmark programs, which import
;; them and call each once around the measured region:
;;   nanoproc run --dir-ro . --preload bench=examples/bench.wat benchmark.wasm
;; (run from the benchmark's folder; nanoproc-bench times the region itself).
(module
  (func (export "start"))
  (func (export "end")))
