/*
 * Test harness: one convolution (from `harness`) or one max pooling (from
 * `harness_pool`) through our tuned CMSIS-NN files and through CMSIS-NN's own
 * (compiled as upstream_*), on data the test writes into these buffers. Run
 * in Unicorn to the BKPT; tests/test_cmsis_nn_tuned.py compares the outputs.
 */
#include <string.h>

#include "arm_nnfunctions.h"
#include "upstream.h"

#define CAPACITY 16384

struct harness_case
{
    cmsis_nn_conv_params conv;
    cmsis_nn_dims input, filter, bias, output;
    int32_t with_bias;
};

struct harness_pool_case
{
    cmsis_nn_pool_params pool;
    cmsis_nn_dims input, filter, output;
};

struct harness_case harness_case;
struct harness_pool_case harness_pool_case;
int8_t harness_input[CAPACITY];
int8_t harness_filter[CAPACITY];
int32_t harness_bias[256];
int32_t harness_multiplier[256];
int32_t harness_shift[256];
int8_t harness_ours[CAPACITY];
int8_t harness_upstream[CAPACITY];
int16_t harness_scratch[CAPACITY];
int32_t harness_status[2];

void harness(void)
{
    const struct harness_case *c = &harness_case;
    const cmsis_nn_context ctx = {harness_scratch, sizeof(harness_scratch)};
    const cmsis_nn_per_channel_quant_params quant = {harness_multiplier, harness_shift};
    const int32_t *bias = c->with_bias ? harness_bias : NULL;
    memset(harness_scratch, 0x55, sizeof(harness_scratch));   /* no reliance on zeros */
    harness_status[0] = arm_convolve_s8(&ctx, &c->conv, &quant, &c->input, harness_input,
                                        &c->filter, harness_filter, &c->bias, bias, NULL,
                                        &c->output, harness_ours);
    memset(harness_scratch, 0x55, sizeof(harness_scratch));
    harness_status[1] = upstream_arm_convolve_s8(&ctx, &c->conv, &quant, &c->input,
                                                 harness_input, &c->filter, harness_filter,
                                                 &c->bias, bias, NULL, &c->output,
                                                 harness_upstream);
    __asm volatile("bkpt #0");
}

void harness_pool(void)
{
    const struct harness_pool_case *c = &harness_pool_case;
    const cmsis_nn_context ctx = {NULL, 0};
    harness_status[0] = arm_max_pool_s8(&ctx, &c->pool, &c->input, harness_input, &c->filter,
                                        &c->output, harness_ours);
    harness_status[1] = upstream_arm_max_pool_s8(&ctx, &c->pool, &c->input, harness_input,
                                                 &c->filter, &c->output, harness_upstream);
    __asm volatile("bkpt #0");
}
