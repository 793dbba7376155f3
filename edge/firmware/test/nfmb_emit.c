/*
 * Test driver for nfmb (built and run by tests/edge/firmware/test_nfmb_firmware.py):
 *
 *   nfmb_emit crc TEXT           print the CRC-32 of TEXT as 8 hex digits
 *   nfmb_emit vector             write the docs/mcu-bridge.md test vector frame to stdout
 *   nfmb_emit stream FORMAT MCU_ID RATE FRAMES SAMPLES_PER_FRAME SEED FIRST_COUNTER
 *            SKIP_AFTER_FRAME SKIP_SAMPLES
 *                                write FRAMES frames of generated samples to stdout; frame k
 *                                holds SAMPLES_PER_FRAME + (k % 3) samples (frames may vary in
 *                                length); after frame SKIP_AFTER_FRAME, SKIP_SAMPLES samples
 *                                are skipped (nfmb_skip)
 *
 * Samples come from a 32-bit LCG (s = 1664525 s + 1013904223), so the test can recompute them:
 * int16: the top 16 bits; int32: the top 24 bits, low byte 0 (I2S word); float32: the top 24
 * bits as a signed integer / 2^23 (exact in binary32).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nfmb.h"

#define MAX_SAMPLES 4096

static uint32_t next_random(uint32_t *state) {
    *state = *state * 1664525u + 1013904223u;
    return *state;
}

static int emit(const uint8_t *frame, size_t size) {
    return size > 0 && fwrite(frame, 1, size, stdout) == size ? 0 : 1;
}

static int run_stream(char **argv) {
    nfmb_format format = (nfmb_format)strtoul(argv[0], NULL, 10);
    uint32_t mcu_id = (uint32_t)strtoul(argv[1], NULL, 10);
    uint32_t rate = (uint32_t)strtoul(argv[2], NULL, 10);
    unsigned long frames = strtoul(argv[3], NULL, 10);
    unsigned long per_frame = strtoul(argv[4], NULL, 10);
    uint32_t state = (uint32_t)strtoul(argv[5], NULL, 10);
    uint32_t first_counter = (uint32_t)strtoul(argv[6], NULL, 10);
    unsigned long skip_after = strtoul(argv[7], NULL, 10);
    unsigned long skip_samples = strtoul(argv[8], NULL, 10);
    static int16_t s16[MAX_SAMPLES];
    static int32_t s32[MAX_SAMPLES];
    static float f32[MAX_SAMPLES];
    static uint8_t frame[NFMB_HEADER_SIZE + 4 * MAX_SAMPLES + NFMB_CRC_SIZE];
    nfmb_stream stream;
    nfmb_stream_init(&stream, mcu_id, rate, format);
    stream.frame_counter = first_counter;
    for (unsigned long k = 0; k < frames; k++) {
        size_t count = per_frame + k % 3;
        if (count > MAX_SAMPLES) {
            return 2;
        }
        for (size_t i = 0; i < count; i++) {
            uint32_t r = next_random(&state);
            s16[i] = (int16_t)(uint16_t)(r >> 16);
            s32[i] = (int32_t)(r & 0xFFFFFF00u);
            f32[i] = (float)((int32_t)(r & 0xFFFFFF00u) / 256) / 8388608.0f;
        }
        const void *samples = format == NFMB_INT16 ? (const void *)s16
                              : format == NFMB_INT32 ? (const void *)s32
                                                     : (const void *)f32;
        if (emit(frame, nfmb_encode(&stream, samples, count, frame, sizeof frame)) != 0) {
            return 1;
        }
        if (k == skip_after) {
            nfmb_skip(&stream, skip_samples);
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "crc") == 0) {
        printf("%08lx\n", (unsigned long)nfmb_crc32(0, (const uint8_t *)argv[2], strlen(argv[2])));
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "vector") == 0) {
        const int16_t samples[2] = {16384, -8192}; /* 0.5, -0.25 */
        uint8_t frame[64];
        nfmb_stream stream;
        nfmb_stream_init(&stream, 7, 48000, NFMB_INT16);
        stream.frame_counter = 1;
        stream.next_sample = 480;
        return emit(frame, nfmb_encode(&stream, samples, 2, frame, sizeof frame));
    }
    if (argc == 11 && strcmp(argv[1], "stream") == 0) {
        return run_stream(argv + 2);
    }
    fprintf(stderr, "usage: nfmb_emit crc TEXT | vector | stream FORMAT MCU_ID RATE FRAMES "
                    "SAMPLES_PER_FRAME SEED FIRST_COUNTER SKIP_AFTER_FRAME SKIP_SAMPLES\n");
    return 2;
}
