/* The boot layer's hooks for the code built on it. */
#ifndef TEENSYML_STARTUP_H
#define TEENSYML_STARTUP_H

#ifdef __cplusplus
extern "C" {
#endif

/* Called once after RAM is initialised and before constructors and main():
   clocks, pins, console. Every image defines it (the fixture in its main.c,
   the firmware in src/board/teensy40/board.c). */
void board_init(void);

void Reset_Handler(void);

#ifdef __cplusplus
}
#endif

#endif
