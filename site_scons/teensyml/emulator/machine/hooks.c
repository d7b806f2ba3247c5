/*
 * The emulator's two hot Unicorn hooks, in C: counting executed translation
 * blocks and data accesses. They do what the Python fallbacks in
 * blocktables.py and counters.py do, about 80 times cheaper per call (7 ns
 * instead of 550 ns a block), which is most of the cost of an emulated
 * inference. native.py compiles this file with the host C compiler on first
 * use and caches the library; without a compiler the Python hooks run.
 */
#include <stdint.h>

typedef int (*emu_stop_function)(void *uc);

struct block_table {
    uint64_t mask;               /* capacity - 1; capacity is a power of two */
    uint64_t *keys;              /* block start | 1 (Thumb code is 2-aligned); 0: free */
    uint32_t *sizes;             /* bytes of the block */
    uint64_t *counts;            /* executions */
    uint64_t used;               /* slots taken */
    uint64_t limit;              /* at this many, stop: the owner grows the table */
    volatile int32_t *stop;      /* nonzero: stop the run before this block executes */
    emu_stop_function emu_stop;  /* uc_emu_stop */
    uint64_t stopped_at;         /* start | 1 of the block the hook stopped at; 0: none */
};

/* UC_HOOK_BLOCK: called as each translated block starts. A block at which
   the run stops does not execute, so it is not counted. */
void count_block(void *uc, uint64_t address, uint32_t size, void *user)
{
    struct block_table *table = (struct block_table *)user;
    uint64_t key = address | 1u;
    uint64_t slot = ((key * 0x9E3779B97F4A7C15ull) >> 32) & table->mask;

    if (*table->stop) {
        table->stopped_at = key;
        table->emu_stop(uc);
        return;
    }
    for (;;) {
        uint64_t found = table->keys[slot];
        if (found == key) {
            table->counts[slot]++;
            return;
        }
        if (found == 0) {
            if (table->used >= table->limit) {
                *table->stop = 1;
                table->stopped_at = key;
                table->emu_stop(uc);
                return;
            }
            table->keys[slot] = key;
            table->sizes[slot] = size;
            table->counts[slot] = 1;
            table->used++;
            return;
        }
        slot = (slot + 1) & table->mask;
    }
}

/* The ITSTATE bits of xPSR (IT[1:0] at 26:25, IT[7:2] at 15:10). */
#define XPSR_IT_BITS ((3u << 25) | (0x3Fu << 10))

typedef int (*register_function)(void *uc, int id, void *value);

struct access_counter {
    uint64_t *count;             /* this region's data accesses */
    register_function reg_read;  /* uc_reg_read */
    register_function reg_write; /* uc_reg_write */
    int32_t xpsr;                /* UC_ARM_REG_XPSR */
};

/* UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE over one region. Also works around a
   Unicorn 2.1 bug (unicorn-engine/unicorn#2309): to give a memory hook a
   precise PC, Unicorn restores the CPU state of the accessing instruction,
   which leaves that instruction's IT state in the CPU when it sits in an IT
   block. QEMU keeps that state at 0 between blocks, so the next block would
   be translated as if inside the IT block, and instructions after it skipped.
   Clearing it here restores QEMU's invariant. */
void count_access(void *uc, int type, uint64_t address, int size, int64_t value, void *user)
{
    struct access_counter *counter = (struct access_counter *)user;
    uint32_t xpsr = 0;

    (void)type;
    (void)address;
    (void)size;
    (void)value;
    ++*counter->count;
    counter->reg_read(uc, counter->xpsr, &xpsr);
    if (xpsr & XPSR_IT_BITS) {
        xpsr &= ~XPSR_IT_BITS;
        counter->reg_write(uc, counter->xpsr, &xpsr);
    }
}
