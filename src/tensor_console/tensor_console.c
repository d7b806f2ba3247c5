/* The tensor commands of the console protocol (tensor_console.h). Prints
 * through console.h only: no printf, so the fixture can share it. */
#include "tensor_console.h"

#include <string.h>

#include "console.h"
#include "cycle_counter.h"
#include "float_format.h"

enum { RECORD_HEADER_BYTES = 5 };          /* index, then a 32-bit length */

static const struct {
    const char *name;
    uint8_t size;                          /* bytes per element */
} TYPES[] = {
    [TENSOR_OTHER] = {"other", 1},
    [TENSOR_FLOAT32] = {"float32", 4}, [TENSOR_FLOAT16] = {"float16", 2},
    [TENSOR_FLOAT64] = {"float64", 8},
    [TENSOR_INT8] = {"int8", 1}, [TENSOR_UINT8] = {"uint8", 1},
    [TENSOR_INT16] = {"int16", 2}, [TENSOR_UINT16] = {"uint16", 2},
    [TENSOR_INT32] = {"int32", 4}, [TENSOR_UINT32] = {"uint32", 4},
    [TENSOR_INT64] = {"int64", 8}, [TENSOR_UINT64] = {"uint64", 8},
    [TENSOR_BOOL] = {"bool", 1},
};

static const char *type_name(const struct tensor_view *tensor)
{
    if (tensor->type == TENSOR_OTHER && tensor->type_name)
        return tensor->type_name;
    return TYPES[tensor->type].name;
}

/* Decimal integers (float_format.h: no 64-bit division). */
static void put_uint64(uint64_t value)
{
    char text[UINT64_TEXT_SIZE];
    console_write(text, (size_t)format_uint64(value, text));
}

static void put_int(int64_t value)
{
    if (value < 0)
        console_write("-", 1);
    put_uint64(value < 0 ? 0u - (uint64_t)value : (uint64_t)value);
}

static void put_shape(const struct tensor_view *tensor)
{
    console_puts("[");
    for (int i = 0; i < tensor->rank; ++i) {
        if (i)
            console_puts(",");
        put_int(tensor->dims[i]);
    }
    console_puts("]");
}

static void put_role(const char *role, int index)
{
    console_puts(role);
    console_puts(" ");
    put_int(index);
}

void tensor_describe(const char *role, int index, const struct tensor_view *tensor)
{
    char scale[FLOAT_G9_SIZE];
    put_role(role, index);
    console_puts(": ");
    console_puts(type_name(tensor));
    console_puts(" ");
    put_shape(tensor);
    console_puts(" scale=");
    console_puts(format_float_g9(tensor->scale, scale));
    console_puts(" zero_point=");
    put_int(tensor->zero_point);
    console_puts(" bytes=");
    put_int(tensor->bytes);
    if (tensor->name && tensor->name[0]) {
        console_puts(" name=");
        console_puts(tensor->name);
    }
    console_puts("\r\n");
}

/* One byte of the payload, or -1 after `timeout_cycles` without one. */
static int read_byte(uint32_t timeout_cycles)
{
    const uint32_t start = cycle_counter_read();
    int byte;
    while ((byte = console_read_byte()) < 0) {
        if (cycle_counter_read() - start > timeout_cycles)
            return -1;
    }
    return byte;
}

/* Reads `length` bytes into `data` (or drops them when data is NULL);
   returns how many arrived before a pause. */
static uint32_t read_bytes(uint8_t *data, uint32_t length, uint32_t timeout_cycles)
{
    for (uint32_t received = 0; received < length; ++received) {
        const int byte = read_byte(timeout_cycles);
        if (byte < 0)
            return received;
        if (data)
            data[received] = (uint8_t)byte;
    }
    return length;
}

static void error_incomplete(int index, uint32_t received, uint32_t expected)
{
    console_puts("error: input ");
    put_int(index);
    console_puts(" incomplete: ");
    put_int(received);
    console_puts(" of ");
    put_int(expected);
    console_puts(" bytes arrived\r\n");
}

int tensor_read_inputs(struct tensor_view *inputs, int count, uint32_t timeout_cycles)
{
    const int records = read_byte(timeout_cycles);
    if (records < 0) {
        console_puts("error: command 4 incomplete: no record count arrived\r\n");
        return 0;
    }
    int failed = 0;                        /* an error line was printed */
    for (int record = 0; record < records; ++record) {
        uint8_t header[RECORD_HEADER_BYTES];
        const uint32_t got = read_bytes(header, RECORD_HEADER_BYTES, timeout_cycles);
        if (got < RECORD_HEADER_BYTES) {
            if (!failed) {
                console_puts("error: command 4 incomplete: record ");
                put_int(record);
                console_puts(" of ");
                put_int(records);
                console_puts(" stopped after ");
                put_int(got);
                console_puts(" of 5 header bytes\r\n");
            }
            return 0;
        }
        const int index = header[0];
        const uint32_t length = (uint32_t)header[1] | (uint32_t)header[2] << 8 |
                                (uint32_t)header[3] << 16 | (uint32_t)header[4] << 24;
        struct tensor_view *input = index < count ? &inputs[index] : NULL;
        const int fits = input && length == input->bytes;
        const uint32_t received =
            read_bytes(fits && !failed ? input->data : NULL, length, timeout_cycles);
        if (!failed && !input) {
            console_puts("error: input ");
            put_int(index);
            console_puts(" does not exist: the model has ");
            put_int(count);
            console_puts(count == 1 ? " input\r\n" : " inputs\r\n");
            failed = 1;
        } else if (!failed && !fits) {
            console_puts("error: input ");
            put_int(index);
            console_puts(" takes ");
            put_int(input->bytes);
            console_puts(" bytes (");
            console_puts(type_name(input));
            console_puts(" ");
            put_shape(input);
            console_puts("), not ");
            put_uint64(length);
            console_puts("\r\n");
            failed = 1;
        } else if (!failed && received < length) {
            error_incomplete(index, received, length);
            failed = 1;
        }
        if (received < length)
            return 0;                      /* the host stopped sending */
    }
    return !failed;
}

static void put_value(const struct tensor_view *tensor, uint32_t element)
{
    const uint8_t *at = tensor->data + element * TYPES[tensor->type].size;
    char text[FLOAT_G9_SIZE];
    switch (tensor->type) {
    case TENSOR_FLOAT32: {
        float value;
        memcpy(&value, at, sizeof value);
        console_puts(format_float_g9(value, text));
        break;
    }
    case TENSOR_INT8: put_int(*(const int8_t *)at); break;
    case TENSOR_UINT8: put_int(*at); break;
    case TENSOR_BOOL: put_int(*at != 0); break;
    case TENSOR_INT16: { int16_t v; memcpy(&v, at, sizeof v); put_int(v); break; }
    case TENSOR_UINT16: { uint16_t v; memcpy(&v, at, sizeof v); put_int(v); break; }
    case TENSOR_INT32: { int32_t v; memcpy(&v, at, sizeof v); put_int(v); break; }
    case TENSOR_UINT32: { uint32_t v; memcpy(&v, at, sizeof v); put_int(v); break; }
    case TENSOR_INT64: { int64_t v; memcpy(&v, at, sizeof v); put_int(v); break; }
    case TENSOR_UINT64: { uint64_t v; memcpy(&v, at, sizeof v); put_uint64(v); break; }
    default: break;
    }
}

static int has_decimal_form(tensor_type type)
{
    return type != TENSOR_OTHER && type != TENSOR_FLOAT16 && type != TENSOR_FLOAT64;
}

void tensor_print_values(const char *role, int index, const struct tensor_view *tensor)
{
    put_role(role, index);
    if (has_decimal_form(tensor->type)) {
        console_puts(" values:");
        const uint32_t elements = tensor->bytes / TYPES[tensor->type].size;
        for (uint32_t i = 0; i < elements; ++i) {
            console_puts(" ");
            put_value(tensor, i);
        }
    } else {
        static const char HEX[] = "0123456789abcdef";
        console_puts(" hex: ");
        for (uint32_t i = 0; i < tensor->bytes; ++i) {
            const char pair[2] = {HEX[tensor->data[i] >> 4], HEX[tensor->data[i] & 0xFu]};
            console_write(pair, 2);
        }
    }
    console_puts("\r\n");
}

void tensor_print_time(uint32_t cycles, uint32_t cycles_per_us)
{
    /* floor(cycles x 1000 / rate) in 32 bits: whole microseconds, then the
       thousandths of the remainder (below rate x 1000). */
    const uint32_t thousandths = cycles % cycles_per_us * 1000u / cycles_per_us;
    const char decimals[4] = {'.', (char)('0' + thousandths / 100u),
                              (char)('0' + thousandths / 10u % 10u),
                              (char)('0' + thousandths % 10u)};
    console_puts("cycles=");
    console_put_uint(cycles);
    console_puts(" us=");
    console_put_uint(cycles / cycles_per_us);
    console_write(decimals, sizeof decimals);
}
