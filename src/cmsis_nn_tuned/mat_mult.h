/*
 * Beyond CMSIS-NN's API: arm_nn_mat_mult_kernel_s8_s16() for the column layout
 * our arm_convolve_s8() writes when a column's length is a multiple of 4
 * (see arm_nn_mat_mult_kernel_s8_s16.c). num_col_a > 0 and a multiple of 4;
 * the same arguments and results as CMSIS-NN's kernel otherwise.
 *
 * `backwards`: take the channel pairs last to first. A caller alternating it
 * from one call to the next reads first the weights it read last: those the
 * D-cache still holds when the weights are larger than it (the third
 * convolution's 36 KB against 32 KB).
 */
#ifndef TEENSYML_CMSIS_NN_MAT_MULT_H
#define TEENSYML_CMSIS_NN_MAT_MULT_H

#include <stdint.h>

int8_t *mat_mult_kernel_s8_s16_interleaved(const int8_t *input_a, const int16_t *input_b,
                                           int32_t output_ch, const int32_t *out_shift,
                                           const int32_t *out_mult, int32_t out_offset,
                                           int32_t activation_min, int32_t activation_max,
                                           int32_t num_col_a, const int32_t *output_bias,
                                           int8_t *out_0, int backwards);

#endif
