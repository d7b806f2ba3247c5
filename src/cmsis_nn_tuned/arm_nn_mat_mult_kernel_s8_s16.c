/*
 * Our implementation of CMSIS-NN's arm_nn_mat_mult_kernel_s8_s16(), the
 * matrix multiplication behind arm_convolve_s8() on a Cortex-M7 without MVE
 * (declared in CMSIS-NN's arm_nnsupportfunctions.h). The build compiles this
 * file instead of CMSIS-NN's file of the same name (TUNED_KERNELS=1, the
 * default with USE_CMSIS_NN=1; docs/kernels.md).
 *
 * The arithmetic is CMSIS-NN's, so the results are the same bit for bit: per
 * output, the bias plus the int8 weights times the int16 im2col column (its
 * input offset already added), requantized to the value CMSIS-NN's
 * arm_nn_requantize() gives (double rounding), offset and clamped
 * (tests/test_cmsis_nn_tuned.py checks it against CMSIS-NN's). What differs is the code: GCC 12 compiles the
 * reference loop to 26 instructions per 16 multiply-accumulates (it spills),
 * this one is 20 (6 loads, 4 SXTB16, 8 SMLAD, the loop count); each output's
 * requantization takes its channel's constants once for both columns, and a
 * full int8 output range (a ReLU layer with zero point -128, or none) is one
 * SSAT instead of two comparisons.
 *
 * Layout (CMSIS-NN's; our arm_convolve_s8() uses it when the channel count is
 * not a multiple of 4): `input_a` holds output_ch rows of
 * num_col_a weights; `input_b` two columns of aligned_num_col_a int16 values.
 * In each column the first num_col_a & ~3 values are "unordered": every 4
 * inputs x0..x3 are stored as x0 x2 x1 x3, which is what SXTB16 makes of a
 * word of 4 weights (bytes 0 and 2) and of that word rotated by 8 (1 and 3).
 * The last num_col_a % 4 values are in order. Outputs: channel c of the first
 * column at out_0[c], of the second at out_0[output_ch + c]; returns out_0 +
 * 2 * output_ch.
 *
 * mat_mult_kernel_s8_s16_interleaved() (mat_mult.h) is the same for the
 * layout our arm_convolve_s8() writes when num_col_a is a multiple of 4: the
 * columns interleaved, four values of column 0, the same four of column 1,
 * and so on. Both values of a column that a block needs are then one LDRD,
 * and one pointer serves both columns, which leaves the registers to unroll
 * the loop: 17 instructions per 16 MACs instead of 20, and 11.5 modelled
 * cycles instead of 16.
 */
#include "arm_nnsupportfunctions.h"
#include "mat_mult.h"
#include "requantize.h"

#if !defined(ARM_MATH_DSP) || defined(ARM_MATH_MVEI)
#error "arm_nn_mat_mult_kernel_s8_s16 here is for DSP cores without MVE (Cortex-M7)"
#endif

/* acc[0..3] += row0.col0, row0.col1, row1.col0, row1.col1 over `blocks` x 4
 * unordered values of CMSIS-NN's layout; the pointers advance past them. */
static inline void dot_2x2(const int8_t **row0, const int8_t **row1, const int16_t **col0,
                           const int16_t **col1, int32_t blocks, int32_t acc[4])
{
    int32_t a00 = acc[0], a01 = acc[1], a10 = acc[2], a11 = acc[3];
    const int8_t *r0 = *row0, *r1 = *row1;
    const int16_t *c0 = *col0, *c1 = *col1;
    int32_t w0, w1, b0, b1, t;
    __asm volatile(
        "1:                                 \n"
        "   ldr     %[w0], [%[r0]], #4       \n"
        "   ldr     %[b0], [%[c0]], #4       \n"
        "   ldr     %[b1], [%[c1]], #4       \n"
        "   sxtb16  %[t], %[w0]              \n"
        "   smlad   %[a00], %[t], %[b0], %[a00] \n"
        "   smlad   %[a01], %[t], %[b1], %[a01] \n"
        "   ldr     %[w1], [%[r1]], #4       \n"
        "   sxtb16  %[t], %[w1]              \n"
        "   smlad   %[a10], %[t], %[b0], %[a10] \n"
        "   smlad   %[a11], %[t], %[b1], %[a11] \n"
        "   ldr     %[b0], [%[c0]], #4       \n"
        "   ldr     %[b1], [%[c1]], #4       \n"
        "   sxtb16  %[t], %[w0], ror #8      \n"
        "   smlad   %[a00], %[t], %[b0], %[a00] \n"
        "   smlad   %[a01], %[t], %[b1], %[a01] \n"
        "   sxtb16  %[t], %[w1], ror #8      \n"
        "   smlad   %[a10], %[t], %[b0], %[a10] \n"
        "   smlad   %[a11], %[t], %[b1], %[a11] \n"
        "   subs    %[n], %[n], #1           \n"
        "   bne     1b                       \n"
        : [a00] "+&r"(a00), [a01] "+&r"(a01), [a10] "+&r"(a10), [a11] "+&r"(a11),
          [r0] "+&r"(r0), [r1] "+&r"(r1), [c0] "+&r"(c0), [c1] "+&r"(c1), [n] "+&r"(blocks),
          [w0] "=&r"(w0), [w1] "=&r"(w1), [b0] "=&r"(b0), [b1] "=&r"(b1), [t] "=&r"(t)
        :
        : "cc", "memory");
    acc[0] = a00, acc[1] = a01, acc[2] = a10, acc[3] = a11;
    *row0 = r0, *row1 = r1, *col0 = c0, *col1 = c1;
}

/* The same over interleaved columns (`columns`), two blocks a pass: an odd
 * count enters the first pass at its second half. Each block: one weight
 * word of a row, widened to the pairs (w0, w2) and (w1, w3), against the
 * LDRD of each column; ordered so that the modelled core pairs the loads and
 * SXTB16 with the SMLADs (23 cycles a pass rather than 25; the loads that
 * advance a pointer come last, as an address is needed a cycle early). */
static inline void dot_2x2_interleaved(const int8_t *r0, const int8_t *r1,
                                       const int16_t *columns, int32_t blocks, int32_t acc[4])
{
    int32_t a00 = acc[0], a01 = acc[1], a10 = acc[2], a11 = acc[3];
    int32_t w, t, b0, b0h, b1, b1h;
#define BLOCK                                                                                  \
    "   ldr     %[w], [%[r0]], #4               \n"                                           \
    "   ldrd    %[b1], %[b1h], [%[c], #8]       \n"                                           \
    "   sxtb16  %[t], %[w]                      \n"                                           \
    "   ldrd    %[b0], %[b0h], [%[c]], #16      \n"                                           \
    "   sxtb16  %[w], %[w], ror #8              \n"                                           \
    "   smlad   %[a00], %[t], %[b0], %[a00]     \n"                                           \
    "   smlad   %[a01], %[t], %[b1], %[a01]     \n"                                           \
    "   ldr     %[t], [%[r1]], #4               \n"                                           \
    "   smlad   %[a00], %[w], %[b0h], %[a00]    \n"                                           \
    "   smlad   %[a01], %[w], %[b1h], %[a01]    \n"                                           \
    "   sxtb16  %[w], %[t]                      \n"                                           \
    "   sxtb16  %[t], %[t], ror #8              \n"                                           \
    "   smlad   %[a10], %[w], %[b0], %[a10]     \n"                                           \
    "   smlad   %[a11], %[w], %[b1], %[a11]     \n"                                           \
    "   smlad   %[a10], %[t], %[b0h], %[a10]    \n"                                           \
    "   smlad   %[a11], %[t], %[b1h], %[a11]    \n"
    __asm volatile(
        "   lsrs    %[n], %[n], #1                  \n" /* carry: an odd count */
        "   bcc     1f                              \n"
        "   adds    %[n], %[n], #1                  \n"
        "   b       2f                              \n"
        "1:                                         \n" BLOCK
        "2:                                         \n" BLOCK
        "   subs    %[n], %[n], #1                  \n"
        "   bne     1b                              \n"
        : [a00] "+&r"(a00), [a01] "+&r"(a01), [a10] "+&r"(a10), [a11] "+&r"(a11),
          [r0] "+&r"(r0), [r1] "+&r"(r1), [c] "+&r"(columns), [n] "+&r"(blocks),
          [w] "=&r"(w), [t] "=&r"(t), [b0] "=&r"(b0), [b0h] "=&r"(b0h), [b1] "=&r"(b1),
          [b1h] "=&r"(b1h)
        :
        : "cc", "memory");
#undef BLOCK
    acc[0] = a00, acc[1] = a01, acc[2] = a10, acc[3] = a11;
}

/* Where value i of column j (0 or 1) is in input_b. */
static inline int32_t column_index(int32_t i, int32_t j, int32_t aligned_num_col_a,
                                   const int interleaved)
{
    return interleaved ? (i & ~3) * 2 + j * 4 + (i & 3) : j * aligned_num_col_a + i;
}

/* Both columns' outputs of the channel pairs; `full_range` and `interleaved`
 * are constants at each call, so each gets its own code. Returns the channel
 * it stopped at. */
static inline __attribute__((always_inline)) int32_t
channel_pairs(const int8_t *input_a, const int16_t *input_b, int32_t output_ch,
              const int32_t *out_shift, const int32_t *out_mult, int32_t out_offset,
              int32_t act_min, int32_t act_max, int32_t num_col_a, int32_t aligned_num_col_a,
              const int32_t *output_bias, int8_t *out_0, const int full_range,
              const int interleaved, int backwards)
{
    int8_t *out_1 = out_0 + output_ch;
    const int32_t blocks = num_col_a >> 2;
    const int32_t rest = num_col_a & 3;     /* 0 when interleaved */
    const int32_t pairs = output_ch >> 1;
    const int32_t step = backwards ? -2 : 2;
    int32_t ch = backwards ? 2 * (pairs - 1) : 0;
    const int8_t *row = input_a + ch * num_col_a;
    for (int32_t n = pairs; n > 0; n--, ch += step, row += step * num_col_a)
    {
        const int8_t *r0 = row, *r1 = row + num_col_a;
        const int32_t bias0 = output_bias ? output_bias[ch] : 0;
        const int32_t bias1 = output_bias ? output_bias[ch + 1] : 0;
        int32_t acc[4] = {bias0, bias0, bias1, bias1};
        if (interleaved)
        {
            dot_2x2_interleaved(r0, r1, input_b, blocks, acc);
        }
        else
        {
            const int16_t *c0 = input_b, *c1 = input_b + aligned_num_col_a;
            if (blocks > 0)
            {
                dot_2x2(&r0, &r1, &c0, &c1, blocks, acc);
            }
            for (int32_t i = 0; i < rest; i++)
            {
                acc[0] += r0[i] * c0[i];
                acc[1] += r0[i] * c1[i];
                acc[2] += r1[i] * c0[i];
                acc[3] += r1[i] * c1[i];
            }
        }
        for (int32_t k = 0; k < 2; k++)
        {
            const struct channel c = channel_of(out_mult[ch + k], out_shift[ch + k]);
            out_0[ch + k] = output_value(acc[2 * k], &c, out_offset, act_min, act_max,
                                         full_range);
            out_1[ch + k] = output_value(acc[2 * k + 1], &c, out_offset, act_min, act_max,
                                         full_range);
        }
    }
    return 2 * pairs;
}

static inline __attribute__((always_inline)) int8_t *
mat_mult(const int8_t *input_a, const int16_t *input_b, int32_t output_ch,
         const int32_t *out_shift, const int32_t *out_mult, int32_t out_offset,
         int32_t activation_min, int32_t activation_max, int32_t num_col_a,
         int32_t aligned_num_col_a, const int32_t *output_bias, int8_t *out_0,
         const int interleaved, int backwards)
{
    int8_t *out_1 = out_0 + output_ch;
    const int32_t blocks = num_col_a >> 2;
    const int32_t ch = activation_min == INT8_MIN && activation_max == INT8_MAX
        ? channel_pairs(input_a, input_b, output_ch, out_shift, out_mult, out_offset,
                        activation_min, activation_max, num_col_a, aligned_num_col_a,
                        output_bias, out_0, 1, interleaved, backwards)
        : channel_pairs(input_a, input_b, output_ch, out_shift, out_mult, out_offset,
                        activation_min, activation_max, num_col_a, aligned_num_col_a,
                        output_bias, out_0, 0, interleaved, backwards);
    if (ch < output_ch)        /* an odd last channel: the plain sums */
    {
        const int8_t *row = input_a + ch * num_col_a;
        int32_t acc[2];
        for (int32_t j = 0; j < 2; j++)
        {
            acc[j] = output_bias ? output_bias[ch] : 0;
            for (int32_t i = 0; i < blocks * 4; i += 4)
            {
                /* Unordered columns: weights 0 2 1 3 of each block of four. */
                static const uint8_t order[4] = {0, 2, 1, 3};
                for (int32_t k = 0; k < 4; k++)
                {
                    acc[j] += row[i + order[k]] *
                              input_b[column_index(i + k, j, aligned_num_col_a, interleaved)];
                }
            }
            for (int32_t i = blocks * 4; i < num_col_a; i++)
            {
                acc[j] += row[i] * input_b[column_index(i, j, aligned_num_col_a, interleaved)];
            }
        }
        const struct channel c = channel_of(out_mult[ch], out_shift[ch]);
        out_0[ch] = output_value(acc[0], &c, out_offset, activation_min, activation_max, 0);
        out_1[ch] = output_value(acc[1], &c, out_offset, activation_min, activation_max, 0);
    }
    return out_0 + 2 * output_ch;
}

int8_t *arm_nn_mat_mult_kernel_s8_s16(const int8_t *input_a,
                                      const int16_t *input_b,
                                      const uint16_t output_ch,
                                      const int32_t *out_shift,
                                      const int32_t *out_mult,
                                      const int32_t out_offset,
                                      const int16_t activation_min,
                                      const int16_t activation_max,
                                      const int32_t num_col_a,
                                      const int32_t aligned_num_col_a,
                                      const int32_t *const output_bias,
                                      int8_t *out_0)
{
    return mat_mult(input_a, input_b, output_ch, out_shift, out_mult, out_offset, activation_min,
                    activation_max, num_col_a, aligned_num_col_a, output_bias, out_0, 0, 0);
}

int8_t *mat_mult_kernel_s8_s16_interleaved(const int8_t *input_a, const int16_t *input_b,
                                           int32_t output_ch, const int32_t *out_shift,
                                           const int32_t *out_mult, int32_t out_offset,
                                           int32_t activation_min, int32_t activation_max,
                                           int32_t num_col_a, const int32_t *output_bias,
                                           int8_t *out_0, int backwards)
{
    return mat_mult(input_a, input_b, output_ch, out_shift, out_mult, out_offset, activation_min,
                    activation_max, num_col_a, num_col_a, output_bias, out_0, 1, backwards);
}
