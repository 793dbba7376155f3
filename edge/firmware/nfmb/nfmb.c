/* nfmb: the noisefleet MCU bridge framing; see nfmb.h and docs/mcu-bridge.md. */
#include "nfmb.h"

#include <string.h>

static void put_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)((v >> 8) & 0xFFu);
    p[2] = (uint8_t)((v >> 16) & 0xFFu);
    p[3] = (uint8_t)((v >> 24) & 0xFFu);
}

static void put_u64(uint8_t *p, uint64_t v) {
    put_u32(p, (uint32_t)(v & 0xFFFFFFFFu));
    put_u32(p + 4, (uint32_t)(v >> 32));
}

void nfmb_stream_init(nfmb_stream *stream, uint32_t mcu_id, uint32_t sample_rate_hz,
                      nfmb_format format) {
    stream->mcu_id = mcu_id;
    stream->sample_rate_hz = sample_rate_hz;
    stream->format = format;
    stream->frame_counter = 0;
    stream->next_sample = 0;
}

size_t nfmb_sample_width(nfmb_format format) {
    switch (format) {
    case NFMB_INT16:
        return 2;
    case NFMB_INT32:
    case NFMB_FLOAT32:
        return 4;
    default:
        return 0;
    }
}

size_t nfmb_frame_size(const nfmb_stream *stream, size_t samples) {
    return NFMB_HEADER_SIZE + samples * nfmb_sample_width(stream->format) + NFMB_CRC_SIZE;
}

uint32_t nfmb_crc32(uint32_t crc, const uint8_t *data, size_t length) {
    crc = ~crc;
    for (size_t i = 0; i < length; i++) {
        crc ^= data[i];
        for (int bit = 0; bit < 8; bit++) {
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
        }
    }
    return ~crc;
}

static void put_samples(uint8_t *out, const void *samples, size_t count, nfmb_format format) {
    if (format == NFMB_INT16) {
        const int16_t *s = (const int16_t *)samples;
        for (size_t i = 0; i < count; i++) {
            uint16_t v = (uint16_t)s[i];
            out[2 * i] = (uint8_t)(v & 0xFFu);
            out[2 * i + 1] = (uint8_t)(v >> 8);
        }
    } else if (format == NFMB_INT32) {
        const int32_t *s = (const int32_t *)samples;
        for (size_t i = 0; i < count; i++) {
            put_u32(out + 4 * i, (uint32_t)s[i]);
        }
    } else {
        const float *s = (const float *)samples;
        for (size_t i = 0; i < count; i++) {
            uint32_t v;
            memcpy(&v, &s[i], sizeof v); /* the bits, without aliasing trouble */
            put_u32(out + 4 * i, v);
        }
    }
}

size_t nfmb_encode(nfmb_stream *stream, const void *samples, size_t samples_count,
                   uint8_t *out, size_t out_capacity) {
    size_t width = nfmb_sample_width(stream->format);
    if (width == 0 || samples_count == 0 || samples_count > NFMB_MAX_PAYLOAD_BYTES / width) {
        return 0;
    }
    size_t payload = samples_count * width;
    size_t total = NFMB_HEADER_SIZE + payload + NFMB_CRC_SIZE;
    if (out_capacity < total) {
        return 0;
    }
    out[0] = 'N';
    out[1] = 'F';
    out[2] = 'M';
    out[3] = 'B';
    out[4] = (uint8_t)NFMB_VERSION;
    out[5] = (uint8_t)stream->format;
    out[6] = 1u; /* channels: mono only */
    out[7] = 0u; /* flags: reserved */
    put_u32(out + 8, stream->mcu_id);
    put_u32(out + 12, stream->frame_counter);
    put_u64(out + 16, stream->next_sample);
    put_u32(out + 24, stream->sample_rate_hz);
    put_u32(out + 28, (uint32_t)payload);
    put_samples(out + NFMB_HEADER_SIZE, samples, samples_count, stream->format);
    put_u32(out + NFMB_HEADER_SIZE + payload,
            nfmb_crc32(0, out, NFMB_HEADER_SIZE + payload));
    stream->frame_counter += 1u; /* wraps at 2^32 */
    stream->next_sample += samples_count;
    return total;
}

void nfmb_skip(nfmb_stream *stream, uint64_t samples) {
    stream->next_sample += samples;
}
