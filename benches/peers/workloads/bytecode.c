/* A bytecode interpreter: a switch over dense opcodes in a loop (a br_table in wasm),
 * running a stack-machine program that sums the Collatz sequence lengths of 1..argv[1]
 * (at most MAX_LIMIT, which keeps every value below 2^31). */
#include "bench.h"

enum { PUSH, LOAD, STORE, ADD, SUB, MUL, AND, SHR, DUP, DROP, JZ, JMP, LT, EQ, HALT, NOP };

#define MAX_LIMIT 100000

/* locals: 0 = i, 1 = limit, 2 = x, 3 = total. Labels: done = 64, body = 31,
 * even = 48, count = 53. */
static const uint32_t program[] = {
    PUSH, 1, STORE, 0,                        /*  0: i = 1 */
    LOAD, 0, LOAD, 1, LT, JZ, 64,             /*  4: while i < limit */
    LOAD, 0, STORE, 2,                        /* 11: x = i */
    LOAD, 2, PUSH, 1, EQ, JZ, 31,             /* 15: if x != 1 goto body */
    LOAD, 0, PUSH, 1, ADD, STORE, 0, JMP, 4,  /* 22: i++, next i */
    LOAD, 2, PUSH, 1, AND, JZ, 48,            /* 31: body: if x even goto even */
    LOAD, 2, PUSH, 3, MUL, PUSH, 1, ADD,      /* 38: 3x + 1 */
    JMP, 53,                                  /* 46 */
    LOAD, 2, PUSH, 1, SHR,                    /* 48: even: x >> 1 */
    STORE, 2, LOAD, 3, PUSH, 1, ADD, STORE, 3, JMP, 15, /* 53: count: x = .., total++ */
    LOAD, 3, HALT,                            /* 64: done */
};

NOINLINE static uint32_t run(const uint32_t *code, uint32_t *locals) {
    uint32_t stack[64];
    uint32_t sp = 0, pc = 0;
    for (;;) {
        switch (code[pc++]) {
        case PUSH: stack[sp++] = code[pc++]; break;
        case LOAD: stack[sp++] = locals[code[pc++]]; break;
        case STORE: locals[code[pc++]] = stack[--sp]; break;
        case ADD: sp--; stack[sp - 1] += stack[sp]; break;
        case SUB: sp--; stack[sp - 1] -= stack[sp]; break;
        case MUL: sp--; stack[sp - 1] *= stack[sp]; break;
        case AND: sp--; stack[sp - 1] &= stack[sp]; break;
        case SHR: sp--; stack[sp - 1] >>= stack[sp]; break;
        case DUP: stack[sp] = stack[sp - 1]; sp++; break;
        case DROP: sp--; break;
        case JZ: { uint32_t target = code[pc++]; if (stack[--sp] == 0) pc = target; break; }
        case JMP: pc = code[pc]; break;
        case LT: sp--; stack[sp - 1] = stack[sp - 1] < stack[sp]; break;
        case EQ: sp--; stack[sp - 1] = stack[sp - 1] == stack[sp]; break;
        case HALT: return stack[sp - 1];
        case NOP: break;
        default: return 0xffffffffu;
        }
    }
}

int main(int argc, char **argv) {
    uint32_t limit = (uint32_t)scale_arg(argc, argv, 30000);
    if (limit > MAX_LIMIT) limit = MAX_LIMIT;
    uint32_t locals[4] = {0, limit, 0, 0};
    bench_start();
    uint32_t total = run(program, locals);
    bench_end();
    printf("bytecode(%u) = %u\n", limit, total);
    return 0;
}
