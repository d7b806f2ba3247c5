/* The console protocol's tensor commands, firmware side: describe a tensor
 * (command 1), take raw bytes for input tensors (command 4's payload), print
 * an output tensor's values so that they round-trip exactly. Plain C on
 * console.h, no TFLM: the app and the CI fixture share it. The host side,
 * and the byte-level description of the protocol, is
 * site_scons/teensyml/console_protocol.py.
 */
#ifndef TEENSYML_TENSOR_CONSOLE_H
#define TEENSYML_TENSOR_CONSOLE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Element types, named on the console as numpy names them. */
typedef enum {
    TENSOR_OTHER,       /* printed as hex bytes (string, int4, complex, ...) */
    TENSOR_FLOAT32,
    TENSOR_FLOAT16,     /* hex */
    TENSOR_FLOAT64,     /* hex */
    TENSOR_INT8,
    TENSOR_UINT8,
    TENSOR_INT16,
    TENSOR_UINT16,
    TENSOR_INT32,
    TENSOR_UINT32,
    TENSOR_INT64,
    TENSOR_UINT64,
    TENSOR_BOOL,
} tensor_type;

#define TENSOR_MAX_RANK 8

struct tensor_view {
    tensor_type type;
    const char *type_name;          /* for TENSOR_OTHER: the runtime's name */
    int rank;
    const int *dims;
    float scale;                    /* 0 and 0 when not quantised */
    int32_t zero_point;
    const char *name;               /* NULL or "" when the model names none */
    uint8_t *data;
    uint32_t bytes;
};

/* "input 0: int8 [1,28,28,1] scale=0.00392156886 zero_point=-128 bytes=784
   name=serving_default_x:0" (role is "input" or "output"). */
void tensor_describe(const char *role, int index, const struct tensor_view *tensor);

/* Reads command 4's payload after the command byte: a record count (one
   byte), then per record an input index (one byte), a length (four bytes,
   little endian) and that many bytes, copied into the input's data. A
   record whose index or length is wrong is read and dropped, so the stream
   stays in step. Returns 1 when every record was taken; otherwise prints
   one "error:" line (the first problem) and returns 0. A pause longer than
   `timeout_cycles` between two bytes ends the command as incomplete (the
   bytes that came are in the input: records are read in place). */
int tensor_read_inputs(struct tensor_view *inputs, int count, uint32_t timeout_cycles);

/* "output 0 values: -128 127 ..." (decimal; floats as %.9g, which
   round-trips float32; bool as 0/1), or "output 0 hex: 0a0b..." for types
   without a decimal form. */
void tensor_print_values(const char *role, int index, const struct tensor_view *tensor);

/* "cycles=1234567 us=2057.611": a duration in core cycles and microseconds
   (three decimals, in integers). */
void tensor_print_time(uint32_t cycles, uint32_t cycles_per_us);

#ifdef __cplusplus
}
#endif

#endif
