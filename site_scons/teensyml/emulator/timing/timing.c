/*
 * The calibrated timing model's hot path: a Unicorn block hook and a data
 * access hook that advance the modelled cycle count. Python (calibrated.py)
 * owns every array and constant here and explains the model; this file only
 * applies it, so the per-block and per-access work stays at a few
 * nanoseconds. Built by machine/native.py into the same library as
 * ../machine/hooks.c.
 *
 *   block:  static cost of the block (learned once, through a Python
 *           callback), the previous block's conditional branch against a
 *           2-bit predictor, instruction fetch through the I-cache
 *   access: data reads and writes through the D-cache, line fills from
 *           FlexSPI flash (a prefetching burst) or OCRAM, uncached accesses
 */
#include <stdint.h>

#define LINE_SHIFT 5
#define PAGE_SHIFT 15                 /* one attribute byte per 32 KB */
#define RING 64                       /* FlexSPI burst bookkeeping, lines */

/* Page attribute byte: cacheability and the kind of memory behind it. */
#define ATTR_ICACHE 1u
#define ATTR_DCACHE 2u
#define ATTR_WRITE_ALLOCATE 4u
#define KIND_SHIFT 4
enum { KIND_TCM, KIND_FLASH, KIND_OCRAM, KIND_OTHER };

/* Statistics, in this order (calibrated.py STATS). stats[0] is "now". */
enum {
    S_CYCLES, S_STATIC, S_FETCH_STALL, S_DATA_STALL, S_BRANCH_STALL,
    S_ICACHE_HITS, S_ICACHE_MISSES, S_DCACHE_HITS, S_DCACHE_MISSES, S_WRITE_BACKS,
    S_FLASH_BURSTS, S_FLASH_LINES, S_UNCACHED, S_CONDITIONALS, S_MISPREDICTS,
    S_PAIRED_ACROSS, N_STATS
};

/* Block flags (core.py ENDS_*). */
#define ENDS_CONDITIONAL 1u
#define ENDS_BACKWARD 2u
#define ENDS_OPEN 4u
#define STARTS_ALONE 8u

typedef int (*emu_stop_function)(void *uc);
typedef int (*register_function)(void *uc, int id, void *value);
typedef int (*learn_function)(uint64_t address, uint32_t size, uint64_t slot);

struct cache {
    uint32_t *tags;                   /* sets x ways: line number + 1; 0 = invalid */
    uint8_t *dirty;
    uint8_t *ages;                    /* 0 = most recently used in its set */
    uint32_t sets, ways;
    int32_t enabled;
};

struct flexspi {
    uint64_t setup;                   /* cycles before a new burst's first line */
    uint64_t line;                    /* cycles to stream one line */
    uint64_t hit;                     /* cycles to hand over a line the buffer holds */
    uint64_t depth;                   /* lines the prefetch may run ahead */
    uint64_t base, last;              /* first and last line of the burst */
    int64_t active;
    uint64_t done[RING];              /* line arrival times */
    uint64_t taken[RING];             /* when the reader took the line */
};

struct timing {
    uint64_t *stats;
    uint64_t *before_block;           /* stats as they were before the current block */
    uint64_t *data_counts;            /* data accesses per region (counters.py) */
    uint8_t *pages;
    struct cache icache, dcache;
    struct flexspi flash;
    uint64_t ocram_fill, ocram_uncached, ocram_write_back;
    uint64_t taken_branch, mispredict;
    /* blocks: open addressing, fixed capacity */
    uint64_t mask, used, limit;
    uint64_t *keys;
    uint32_t *costs;
    uint8_t *flags;
    uint8_t *predictor;
    learn_function learn;
    volatile int32_t *stop;
    emu_stop_function emu_stop;
    int64_t failed;                   /* the table is full or learning failed */
    uint64_t previous;                /* slot + 1 of the previous block; 0: none */
    uint64_t previous_end;
    uint64_t current;                 /* start of the executing block */
    /* regions for data counts: [start, end) of FLASH ITCM DTCM OCRAM */
    uint64_t region_start[4], region_end[4];
    register_function reg_read, reg_write;
    int32_t xpsr;
};

static inline uint64_t later(uint64_t a, uint64_t b) { return a > b ? a : b; }

/* --- caches ------------------------------------------------------------------ */

static int cache_find(struct cache *c, uint32_t line)
{
    uint32_t base = (line & (c->sets - 1)) * c->ways;
    for (uint32_t way = 0; way < c->ways; ++way)
        if (c->tags[base + way] == line + 1)
            return (int)(base + way);
    return -1;
}

/* Make `entry` the most recently used of its set (a refilled entry first
   becomes the oldest, so every other line of the set ages by one). */
static void cache_touch(struct cache *c, uint32_t entry)
{
    uint32_t base = entry - entry % c->ways;
    uint8_t age = c->ages[entry];
    for (uint32_t way = 0; way < c->ways; ++way)
        if (c->ages[base + way] < age)
            c->ages[base + way]++;
    c->ages[entry] = 0;
}

/* The entry to refill for `line`: an invalid way, else the least recently used. */
static uint32_t cache_victim(struct cache *c, uint32_t line)
{
    uint32_t base = (line & (c->sets - 1)) * c->ways, pick = base;
    for (uint32_t way = 0; way < c->ways; ++way) {
        if (c->tags[base + way] == 0)
            return base + way;
        if (c->ages[base + way] > c->ages[pick])
            pick = base + way;
    }
    return pick;
}

/* --- FlexSPI: a burst that prefetches ahead of its reader --------------------- */

static uint64_t flexspi_read(struct timing *t, uint64_t line, uint64_t now)
{
    struct flexspi *f = &t->flash;
    uint64_t arrival;

    if (f->active && line <= f->last && line >= f->base && f->last - line < f->depth) {
        arrival = f->done[line % RING];           /* still in the AHB buffer */
    } else if (f->active && line > f->last && line - f->last <= f->depth) {
        for (uint64_t next = f->last + 1; next <= line; ++next) {
            uint64_t start = f->done[(next - 1) % RING];
            if (next - f->base >= f->depth)     /* the buffer is full until ... */
                start = later(start, f->taken[(next - f->depth) % RING]);
            f->done[next % RING] = start + f->line;
            f->taken[next % RING] = f->done[next % RING];   /* skipped: passed */
            t->stats[S_FLASH_LINES]++;
        }
        f->last = line;
        arrival = f->done[line % RING];
    } else {
        f->active = 1;
        f->base = f->last = line;
        arrival = now + f->setup + f->line;
        f->done[line % RING] = arrival;
        t->stats[S_FLASH_BURSTS]++;
        t->stats[S_FLASH_LINES]++;
    }
    uint64_t stall = (arrival > now ? arrival - now : 0) + f->hit;
    f->taken[line % RING] = now + stall;
    return stall;
}

/* A line fill (or an uncached line read) from the memory behind `kind`. */
static uint64_t fill(struct timing *t, int kind, uint64_t line, uint64_t now)
{
    if (kind == KIND_FLASH)
        return flexspi_read(t, line, now);
    if (kind == KIND_OCRAM)
        return t->ocram_fill;
    return 0;
}

static uint64_t write_back(struct timing *t, uint32_t tag)
{
    uint8_t attr = t->pages[(uint64_t)(tag - 1) << LINE_SHIFT >> PAGE_SHIFT];
    t->stats[S_WRITE_BACKS]++;
    return (attr >> KIND_SHIFT) == KIND_OCRAM ? t->ocram_write_back : 0;
}

/* --- the block hook ------------------------------------------------------------ */

static int64_t find_block(struct timing *t, void *uc, uint64_t address, uint32_t size)
{
    uint64_t key = address | 1u;
    uint64_t slot = ((key * 0x9E3779B97F4A7C15ull) >> 32) & t->mask;
    for (;;) {
        if (t->keys[slot] == key)
            return (int64_t)slot;
        if (t->keys[slot] == 0)
            break;
        slot = (slot + 1) & t->mask;
    }
    if (t->used >= t->limit || t->learn(address, size, slot) != 0) {
        t->failed = 1;
        *t->stop = 1;
        t->emu_stop(uc);
        return -1;
    }
    t->keys[slot] = key;
    t->used++;
    /* Backward branches start predicted taken, forward ones not taken. */
    t->predictor[slot] = (t->flags[slot] & ENDS_BACKWARD) ? 2 : 1;
    return (int64_t)slot;
}

void time_block(void *uc, uint64_t address, uint32_t size, void *user)
{
    struct timing *t = (struct timing *)user;
    uint64_t *stats = t->stats;

    if (*t->stop)                     /* the counting hook stopped the run here */
        return;
    int64_t slot = find_block(t, uc, address, size);
    if (slot < 0)
        return;
    for (int index = 0; index < N_STATS; ++index)
        t->before_block[index] = stats[index];
    uint64_t now = stats[S_CYCLES], stall = 0, cost = t->costs[slot];

    /* The first instruction pairs with the previous block's last one, in its
       free slot: the block takes a cycle less. */
    if (t->previous && (t->flags[t->previous - 1] & ENDS_OPEN) &&
            (t->flags[slot] & STARTS_ALONE) && cost > 1) {
        cost--;
        stats[S_PAIRED_ACROSS]++;
    }

    if (t->previous && (t->flags[t->previous - 1] & ENDS_CONDITIONAL)) {
        uint8_t *counter = &t->predictor[t->previous - 1];
        int taken = address != t->previous_end;
        stats[S_CONDITIONALS]++;
        if (taken)
            stall += t->taken_branch;
        if (taken != (*counter >= 2)) {
            stall += t->mispredict;
            stats[S_MISPREDICTS]++;
        }
        if (taken && *counter < 3)
            ++*counter;
        else if (!taken && *counter > 0)
            --*counter;
        stats[S_BRANCH_STALL] += stall;
    }

    uint8_t attr = t->pages[address >> PAGE_SHIFT];
    int kind = attr >> KIND_SHIFT;
    if (kind != KIND_TCM) {
        uint64_t fetch = 0;
        uint64_t last = (address + size - 1) >> LINE_SHIFT;
        for (uint64_t line = address >> LINE_SHIFT; line <= last; ++line) {
            if (t->icache.enabled && (attr & ATTR_ICACHE)) {
                int entry = cache_find(&t->icache, (uint32_t)line);
                if (entry >= 0) {
                    stats[S_ICACHE_HITS]++;
                } else {
                    stats[S_ICACHE_MISSES]++;
                    entry = (int)cache_victim(&t->icache, (uint32_t)line);
                    t->icache.tags[entry] = (uint32_t)line + 1;
                    t->icache.ages[entry] = (uint8_t)(t->icache.ways - 1);
                    fetch += fill(t, kind, line, now + stall + fetch);
                }
                cache_touch(&t->icache, (uint32_t)entry);
            } else {
                stats[S_UNCACHED]++;
                fetch += kind == KIND_OCRAM ? t->ocram_uncached
                                            : fill(t, kind, line, now + stall + fetch);
            }
        }
        stats[S_FETCH_STALL] += fetch;
        stall += fetch;
    }
    stats[S_STATIC] += cost;
    stats[S_CYCLES] = now + stall + cost;
    t->previous = (uint64_t)slot + 1;
    t->previous_end = address + size;
    t->current = address;
}

/* --- the data access hook -------------------------------------------------------- */

#define UC_MEM_WRITE 17
#define XPSR_IT_BITS ((3u << 25) | (0x3Fu << 10))

static uint64_t data_line(struct timing *t, uint64_t line, int write, uint8_t attr,
                          uint64_t now)
{
    int kind = attr >> KIND_SHIFT;
    if (kind == KIND_TCM || kind == KIND_OTHER)
        return 0;
    if (!(t->dcache.enabled && (attr & ATTR_DCACHE))) {
        t->stats[S_UNCACHED]++;
        if (kind == KIND_OCRAM)
            return t->ocram_uncached;
        return write ? 0 : fill(t, kind, line, now);
    }
    struct cache *c = &t->dcache;
    int entry = cache_find(c, (uint32_t)line);
    if (entry >= 0) {
        t->stats[S_DCACHE_HITS]++;
        if (write)
            c->dirty[entry] = 1;
        cache_touch(c, (uint32_t)entry);
        return 0;
    }
    t->stats[S_DCACHE_MISSES]++;
    if (write && !(attr & ATTR_WRITE_ALLOCATE))
        return kind == KIND_OCRAM ? t->ocram_uncached : 0;   /* to the bus */
    uint64_t stall = 0;
    uint32_t victim = cache_victim(c, (uint32_t)line);
    if (c->tags[victim] && c->dirty[victim])
        stall += write_back(t, c->tags[victim]);
    c->tags[victim] = (uint32_t)line + 1;
    c->dirty[victim] = (uint8_t)write;
    c->ages[victim] = (uint8_t)(c->ways - 1);
    cache_touch(c, victim);
    return stall + fill(t, kind, line, now + stall);
}

void time_access(void *uc, int type, uint64_t address, int size, int64_t value, void *user)
{
    struct timing *t = (struct timing *)user;
    uint32_t xpsr = 0;
    (void)value;

    for (int region = 0; region < 4; ++region)
        if (address >= t->region_start[region] && address < t->region_end[region]) {
            t->data_counts[region]++;
            break;
        }
    uint8_t attr = t->pages[address >> PAGE_SHIFT];
    uint64_t now = t->stats[S_CYCLES];
    uint64_t first = address >> LINE_SHIFT, last = (address + (uint64_t)size - 1) >> LINE_SHIFT;
    uint64_t stall = data_line(t, first, type == UC_MEM_WRITE, attr, now);
    if (last != first)
        stall += data_line(t, last, type == UC_MEM_WRITE, attr, now + stall);
    t->stats[S_DATA_STALL] += stall;
    t->stats[S_CYCLES] = now + stall;

    /* unicorn-engine/unicorn#2309: see count_access in ../hooks.c. */
    t->reg_read(uc, t->xpsr, &xpsr);
    if (xpsr & XPSR_IT_BITS) {
        xpsr &= ~XPSR_IT_BITS;
        t->reg_write(uc, t->xpsr, &xpsr);
    }
}
