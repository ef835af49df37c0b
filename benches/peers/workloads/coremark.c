/* A CoreMark-style integer workload (not CoreMark itself, whose license forbids
 * publishing modified versions): per iteration a linked-list pass (find, reverse, merge
 * sort), a matrix pass (multiply-add with bit extraction), a state machine scanning
 * numbers in text, each folded into a CRC-16 that is the checksum. */
#include "bench.h"

/* ---- CRC-16 (CCITT, bitwise, as CoreMark's crcu8) ---- */
static uint16_t crc8(uint8_t data, uint16_t crc) {
    for (int i = 0; i < 8; i++) {
        uint8_t x16 = (uint8_t)((data & 1) ^ ((uint8_t)crc & 1));
        data >>= 1;
        if (x16 == 1) {
            crc ^= 0x4002;
            crc = (uint16_t)((crc >> 1) | 0x8000);
        } else {
            crc >>= 1;
        }
    }
    return crc;
}
static uint16_t crc16(uint16_t v, uint16_t crc) { return crc8((uint8_t)(v >> 8), crc8((uint8_t)v, crc)); }
static uint16_t crc32v(uint32_t v, uint16_t crc) { return crc16((uint16_t)(v >> 16), crc16((uint16_t)v, crc)); }

/* ---- linked list ---- */
#define LIST_LEN 200
typedef struct node { struct node *next; int16_t key, value; } node;
static node nodes[LIST_LEN];

static node *list_init(uint32_t seed) {
    for (int i = 0; i < LIST_LEN; i++) {
        seed = seed * 1103515245u + 12345u;
        nodes[i].key = (int16_t)(i);
        nodes[i].value = (int16_t)(seed >> 17);
        nodes[i].next = i + 1 < LIST_LEN ? &nodes[i + 1] : NULL;
    }
    return &nodes[0];
}

NOINLINE static node *list_reverse(node *list) {
    node *prev = NULL;
    while (list) { node *next = list->next; list->next = prev; prev = list; list = next; }
    return prev;
}

NOINLINE static node *list_find(node *list, int16_t key) {
    while (list && list->key != key) list = list->next;
    return list;
}

static int cmp_value(const node *a, const node *b) { return a->value - b->value; }
static int cmp_key(const node *a, const node *b) { return a->key - b->key; }

/* Bottom-up merge sort of a singly linked list (as CoreMark's core_list_mergesort). */
NOINLINE static node *list_sort(node *list, int (*cmp)(const node *, const node *)) {
    for (int insize = 1;; insize *= 2) {
        node *p = list, *tail = NULL;
        list = NULL;
        int merges = 0;
        while (p) {
            merges++;
            node *q = p;
            int psize = 0;
            for (int i = 0; i < insize && q; i++) { psize++; q = q->next; }
            int qsize = insize;
            while (psize > 0 || (qsize > 0 && q)) {
                node *e;
                if (psize == 0) { e = q; q = q->next; qsize--; }
                else if (qsize == 0 || !q) { e = p; p = p->next; psize--; }
                else if (cmp(p, q) <= 0) { e = p; p = p->next; psize--; }
                else { e = q; q = q->next; qsize--; }
                if (tail) tail->next = e; else list = e;
                tail = e;
            }
            p = q;
        }
        tail->next = NULL;
        if (merges <= 1) return list;
    }
}

static uint16_t bench_list(uint32_t seed, uint16_t crc) {
    node *list = list_init(seed);
    list = list_reverse(list);
    for (int16_t k = 0; k < 40; k++) {
        node *n = list_find(list, (int16_t)((k * 7 + seed) % (LIST_LEN + 20)));
        crc = crc16(n ? (uint16_t)n->value : 0xffff, crc);
    }
    list = list_sort(list, cmp_value);
    for (node *n = list; n; n = n->next) crc = crc16((uint16_t)n->value, crc);
    list = list_sort(list, cmp_key);
    crc = crc16((uint16_t)list_find(list, LIST_LEN / 2)->value, crc);
    return crc;
}

/* ---- matrix ---- */
#define N 24
static int16_t ma[N][N], mb[N][N];
static int32_t mc[N][N];

static uint16_t bench_matrix(uint32_t seed, uint16_t crc) {
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            seed = seed * 1664525u + 1013904223u;
            ma[i][j] = (int16_t)((seed >> 20) & 0xff);
            mb[i][j] = (int16_t)((seed >> 8) & 0xff);
        }
    int16_t k = (int16_t)(seed & 0x7);
    for (int i = 0; i < N; i++) /* add constant */
        for (int j = 0; j < N; j++) ma[i][j] += k;
    for (int i = 0; i < N; i++) /* matrix * matrix */
        for (int j = 0; j < N; j++) {
            int32_t sum = 0;
            for (int x = 0; x < N; x++) sum += (int32_t)ma[i][x] * mb[x][j];
            mc[i][j] = sum;
        }
    int32_t acc = 0;
    for (int i = 0; i < N; i++) /* bit extraction, as CoreMark's matrix_mul_matrix_bitextract */
        for (int j = 0; j < N; j++) {
            int32_t bits = (mc[i][j] >> 2) & 0xf;
            int32_t mul = (mc[i][j] >> 5) & 0x7f;
            acc += bits * mul;
        }
    return crc32v((uint32_t)acc, crc);
}

/* ---- state machine ---- */
enum state { START, INT, S1, FLOAT, S2, EXPONENT, SCIENTIFIC, INVALID, NSTATES };

static enum state next_state(enum state s, char c) {
    int digit = c >= '0' && c <= '9';
    switch (s) {
    case START:
        if (digit) return c == '0' ? INT : INT;
        if (c == '+' || c == '-') return S1;
        if (c == '.') return FLOAT;
        return INVALID;
    case S1: return digit ? INT : c == '.' ? FLOAT : INVALID;
    case INT: return digit ? INT : c == '.' ? FLOAT : (c == 'e' || c == 'E') ? S2 : INVALID;
    case FLOAT: return digit ? FLOAT : (c == 'e' || c == 'E') ? S2 : INVALID;
    case S2: return (c == '+' || c == '-') ? EXPONENT : digit ? SCIENTIFIC : INVALID;
    case EXPONENT: return digit ? SCIENTIFIC : INVALID;
    case SCIENTIFIC: return digit ? SCIENTIFIC : INVALID;
    default: return INVALID;
    }
}

static const char *const words[] = {"5012", "1234", "-874", "+122", "35.54", "0.0123", "-110.7",
                                    "5.500e+3", "-.123e-2", "-87e+832", "+0.6e-12", "T0.3e-1F",
                                    "-T.T++Tq", "1T3.4e4z", "34.0e-T^", "9.9e9"};

static uint16_t bench_state(uint32_t seed, uint16_t crc) {
    char text[512];
    size_t len = 0;
    for (int i = 0; len + 12 < sizeof text; i++) {
        seed = seed * 1103515245u + 12345u;
        const char *w = words[(seed >> 16) % 16];
        size_t wl = strlen(w);
        memcpy(text + len, w, wl);
        len += wl;
        text[len++] = ',';
    }
    uint32_t counts[NSTATES] = {0};
    enum state s = START;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ',') { counts[s]++; s = START; continue; }
        s = next_state(s, text[i]);
    }
    for (int i = 0; i < NSTATES; i++) crc = crc16((uint16_t)counts[i], crc);
    return crc;
}

int main(int argc, char **argv) {
    uint32_t iterations = (uint32_t)scale_arg(argc, argv, 2000);
    bench_start();
    uint16_t crc = 0;
    for (uint32_t i = 0; i < iterations; i++) {
        crc = bench_list(i, crc);
        crc = bench_matrix(i * 31u + 7u, crc);
        crc = bench_state(i * 17u + 3u, crc);
    }
    bench_end();
    printf("coremark(%u) = %04x\n", iterations, crc);
    return 0;
}
