/*
 * CoreMark on the Teensy 4.0: the port's functions (see core_portme.h).
 * The board is up before main(): the reset path ran board_init() (SDK
 * SystemInit, caches on, clocks at 600 MHz, console, DWT cycle counter).
 */
#include <stdarg.h>
#include <stdio.h>

#include "console.h"
#include "coremark.h"
#include "cycle_counter.h"
#include "memory_map.h"

/* --- Seeds: volatile, so the compiler cannot fold the benchmark's inputs ------- */
#if defined(VALIDATION_RUN)
volatile ee_s32 seed1_volatile = 0x3415;
volatile ee_s32 seed2_volatile = 0x3415;
volatile ee_s32 seed3_volatile = 0x66;
#elif defined(PROFILE_RUN)
volatile ee_s32 seed1_volatile = 0x8;
volatile ee_s32 seed2_volatile = 0x8;
volatile ee_s32 seed3_volatile = 0x8;
#else /* PERFORMANCE_RUN */
volatile ee_s32 seed1_volatile = 0x0;
volatile ee_s32 seed2_volatile = 0x0;
volatile ee_s32 seed3_volatile = 0x66;
#endif
volatile ee_s32 seed4_volatile = ITERATIONS;
volatile ee_s32 seed5_volatile = 0;    /* 0: every algorithm */

/* --- Time ------------------------------------------------------------------------ */
static CORE_TICKS started, stopped;

void start_time(void)
{
    started = cycle_counter_read();
}

void stop_time(void)
{
    stopped = cycle_counter_read();
}

CORE_TICKS get_time(void)
{
    return stopped - started;            /* modulo 2^32: one wrap is fine */
}

secs_ret time_in_secs(CORE_TICKS ticks)
{
    return (secs_ret)ticks / (secs_ret)CORE_CLOCK_HZ;
}

/* --- Console --------------------------------------------------------------------- */
int ee_printf(const char *format, ...)
{
    char text[256];
    va_list arguments;
    va_start(arguments, format);
    int length = vsnprintf(text, sizeof text, format, arguments);
    va_end(arguments);
    if (length < 0)
        return length;
    /* Lines end with CR LF on this console, as everywhere in the project. */
    const char *line = text;
    for (const char *c = text; *c; ++c) {
        if (*c == '\n') {
            console_write(line, (size_t)(c - line));
            console_write("\r\n", 2);
            line = c + 1;
        }
    }
    console_puts(line);
    return length;
}

/* --- Start and end ------------------------------------------------------------- */
void portable_init(core_portable *p, int *argc, char *argv[])
{
    (void)argc;
    (void)argv;
    console_puts("coremark: start, core clock ");
    console_put_uint(CORE_CLOCK_HZ);
    console_puts(" Hz\r\n");
    p->portable_id = 1;
}

void portable_fini(core_portable *p)
{
    p->portable_id = 0;
    /* The end of the report, for tools: nothing follows. */
    console_puts("coremark: done\r\n");
}
