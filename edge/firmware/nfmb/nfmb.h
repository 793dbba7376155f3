/*
 * nfmb: the noisefleet MCU bridge framing (docs/mcu-bridge.md), portable C99.
 *
 * A sender owns one nfmb_stream: it keeps the MCU id, the sample rate, the sample format, the
 * frame counter (+1 per frame, wraps at 2^32) and the index of the next frame's first sample
 * (+ samples per frame, never reset while the MCU runs, also not across Wi-Fi drops: the
 * gateway fills the gap with NaN). nfmb_encode() writes one complete frame (32-byte header,
 * payload, CRC-32) into a caller's buffer and advances the stream; the caller sends it as one
 * UDP datagram, or writes it to a TCP socket or a UART.
 *
 * No allocation, no globals, no I/O, no floating point unless the float32 format is used:
 * builds for ESP32, RP2040, STM32 or a desktop alike. All multi-byte fields are written
 * little-endian byte by byte, so the host's endianness does not matter.
 */
#ifndef NFMB_H
#define NFMB_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NFMB_VERSION 1u
#define NFMB_HEADER_SIZE 32u
#define NFMB_CRC_SIZE 4u
#define NFMB_MAX_PAYLOAD_BYTES 65000u

/* Sample formats (header byte 5). */
typedef enum {
    NFMB_INT16 = 1,   /* x / 32768 */
    NFMB_INT32 = 2,   /* the I2S word as read: 24 significant bits at the top, x / 2^31 */
    NFMB_FLOAT32 = 3  /* IEEE 754 binary32, full scale 1.0; never NaN or infinity */
} nfmb_format;

typedef struct {
    uint32_t mcu_id;
    uint32_t sample_rate_hz;
    nfmb_format format;
    uint32_t frame_counter;   /* counter of the next frame */
    uint64_t next_sample;     /* index of the next frame's first sample */
} nfmb_stream;

/* Start a stream at frame 0, sample 0 (call once after boot). */
void nfmb_stream_init(nfmb_stream *stream, uint32_t mcu_id, uint32_t sample_rate_hz,
                      nfmb_format format);

/* Bytes per sample of a format (2 or 4; 0 for an unknown format). */
size_t nfmb_sample_width(nfmb_format format);

/* Bytes of a whole frame holding `samples` samples. */
size_t nfmb_frame_size(const nfmb_stream *stream, size_t samples);

/*
 * Write one frame of `samples` samples into `out` (capacity `out_capacity`) and advance the
 * stream. `samples_le` points to the samples in the stream's format, in host order
 * (int16_t *, int32_t * or float *); they are written little-endian. Returns the frame's size,
 * or 0 (stream unchanged) if samples is 0, the payload would exceed NFMB_MAX_PAYLOAD_BYTES or
 * the buffer is too small.
 */
size_t nfmb_encode(nfmb_stream *stream, const void *samples, size_t samples_count,
                   uint8_t *out, size_t out_capacity);

/* Skip `samples` samples that could not be sent (e.g. a DMA overrun): the next frame's index
 * jumps, and the gateway fills the hole with NaN instead of shifting time. */
void nfmb_skip(nfmb_stream *stream, uint64_t samples);

/* CRC-32 (IEEE 802.3, zlib's crc32): pass 0 as `crc` to start; "123456789" gives 0xCBF43926.
 * Table-free (bitwise): about 8 cycles a bit; fine for a few kB per 10 ms. */
uint32_t nfmb_crc32(uint32_t crc, const uint8_t *data, size_t length);

#ifdef __cplusplus
}
#endif

#endif /* NFMB_H */
