/*
 * CoreMark on the Teensy 4.0 (i.MX RT1062, Cortex-M7 at 600 MHz): the port
 * header that coremark.h includes. Written for this project from what the
 * benchmark's core files use; the core files themselves come from
 * third_party/coremark (an optional dependency, see src/coremark/SConscript).
 *
 * Set-up: one context, the data block a static array (in DTCM, like every
 * .bss), seeds in volatile variables (core_portme.c), the time from the DWT
 * cycle counter at the core clock, the report on the board's console.
 *
 * The build defines PERFORMANCE_RUN=1 (or VALIDATION_RUN=1) and ITERATIONS,
 * and generates coremark_flags.h with the compiler flags it used.
 */
#ifndef TEENSYML_CORE_PORTME_H
#define TEENSYML_CORE_PORTME_H

#include <stddef.h>
#include <stdint.h>

#include "coremark_flags.h"     /* generated: COREMARK_COMPILER_FLAGS */

/* --- What the platform offers ----------------------------------------------- */
#define HAS_FLOAT 1             /* seconds as a double; %f through newlib-nano */
#define HAS_TIME_H 0
#define USE_CLOCK 0
#define HAS_STDIO 0             /* the report goes through ee_printf below */
#define HAS_PRINTF 0
#define MAIN_HAS_NOARGC 1       /* int main(void): our reset path calls it */
#define MAIN_HAS_NORETURN 0

/* --- Types ---------------------------------------------------------------------- */
typedef int16_t ee_s16;
typedef uint16_t ee_u16;
typedef int32_t ee_s32;
typedef uint32_t ee_u32;
typedef uint8_t ee_u8;
typedef float ee_f32;
typedef double ee_f64;
typedef uintptr_t ee_ptr_int;   /* holds a pointer: 32 bits here */
typedef size_t ee_size_t;

/* Round a pointer up to the next multiple of 4 bytes. */
#define align_mem(x) ((void *)(4 + (((ee_ptr_int)(x) - 1) & ~(ee_ptr_int)3)))

/* --- Time: DWT CYCCNT, one tick a core cycle ------------------------------------- */
/* 32 bits: a timed run must stay under 2^32 cycles (7.1 s at 600 MHz). */
typedef ee_u32 CORE_TICKS;

/* --- Run configuration -------------------------------------------------------- */
#define SEED_METHOD SEED_VOLATILE
#define MEM_METHOD MEM_STATIC
#define MULTITHREAD 1
#define default_num_contexts 1

#if !defined(PERFORMANCE_RUN) && !defined(VALIDATION_RUN) && !defined(PROFILE_RUN)
#define PERFORMANCE_RUN 1
#endif
#ifndef ITERATIONS
#define ITERATIONS 0            /* 0: CoreMark finds a count that runs > 10 s */
#endif

/* --- What the report says about the build ------------------------------------- */
#define COMPILER_VERSION "GCC" __VERSION__
#define COMPILER_FLAGS COREMARK_COMPILER_FLAGS
#define MEM_LOCATION "STATIC: data, stack in DTCM; code in ITCM"

/* --- Per-context state and hooks ----------------------------------------------- */
typedef struct CORE_PORTABLE_S {
    ee_u8 portable_id;          /* 1 between portable_init and portable_fini */
} core_portable;

void portable_init(core_portable *p, int *argc, char *argv[]);
void portable_fini(core_portable *p);

/* printf on the board's console; "\n" goes out as CR LF. */
int ee_printf(const char *format, ...) __attribute__((format(printf, 1, 2)));

#endif
