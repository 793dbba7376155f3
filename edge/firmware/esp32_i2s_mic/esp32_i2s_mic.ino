/*
 * ESP32 + I2S MEMS microphone (INMP441, ICS-43434, SPH0645) -> noisefleet gateway over UDP.
 *
 * Example for the Arduino core for ESP32 (2.x/3.x, legacy I2S driver); not built by the
 * project's tests (the framing it uses, ../nfmb, is). Copy nfmb/nfmb.h and nfmb/nfmb.c next
 * to this sketch (Arduino compiles .c files in the sketch folder), set the Wi-Fi, the gateway
 * and MCU_ID, flash, and configure the gateway (docs/mcu-bridge.md):
 *
 *   [[sensors]]
 *   id = "mcu-7"
 *   source = { type = "udp", listen = "0.0.0.0:5000", mcu_id = 7, sample_rate_hz = 48000,
 *              sample_format = "int32" }
 *
 * Wiring (INMP441; see docs/mcu-bridge.md for the table): VDD 3V3, GND GND, L/R GND (left
 * channel), WS GPIO25, SCK GPIO26, SD GPIO33.
 *
 * Each 10 ms of audio (480 samples at 48 kHz) becomes one frame of int32 samples: the I2S
 * word as read, 24 significant bits at the top. If Wi-Fi is down the frame is not sent but
 * the stream still advances, so the gateway sees the gap as lost audio (NaN, reduced
 * coverage) and time stays right. Never reset the stream while the MCU runs.
 */
#include <WiFi.h>
#include <WiFiUdp.h>
#include <driver/i2s.h>

#include "nfmb.h" /* C code with extern "C" guards */

static const char *WIFI_SSID = "your-ssid";
static const char *WIFI_PASSWORD = "your-password";
static const IPAddress GATEWAY(192, 168, 1, 10);
static const uint16_t GATEWAY_PORT = 5000;
static const uint32_t MCU_ID = 7;

static const uint32_t SAMPLE_RATE_HZ = 48000;
static const size_t FRAME_SAMPLES = SAMPLE_RATE_HZ / 100; /* 10 ms per frame */
static const i2s_port_t I2S_PORT = I2S_NUM_0;
static const int PIN_WS = 25, PIN_SCK = 26, PIN_SD = 33;

static int32_t samples[FRAME_SAMPLES];
static uint8_t frame[NFMB_HEADER_SIZE + sizeof samples + NFMB_CRC_SIZE];
static nfmb_stream stream;
static WiFiUDP udp;

static void start_i2s() {
    i2s_config_t config = {};
    config.mode = (i2s_mode_t)(I2S_MODE_MASTER | I2S_MODE_RX);
    config.sample_rate = SAMPLE_RATE_HZ;
    config.bits_per_sample = I2S_BITS_PER_SAMPLE_32BIT; /* 24-bit data, left-justified */
    config.channel_format = I2S_CHANNEL_FMT_ONLY_LEFT;  /* L/R pin to GND */
    config.communication_format = I2S_COMM_FORMAT_STAND_I2S;
    config.intr_alloc_flags = ESP_INTR_FLAG_LEVEL1;
    config.dma_buf_count = 8;
    config.dma_buf_len = FRAME_SAMPLES; /* 8 x 10 ms of slack for Wi-Fi hiccups */
    config.use_apll = true;             /* an accurate 48 kHz clock: less drift vs the gateway */
    i2s_pin_config_t pins = {};
    pins.mck_io_num = I2S_PIN_NO_CHANGE;
    pins.bck_io_num = PIN_SCK;
    pins.ws_io_num = PIN_WS;
    pins.data_out_num = I2S_PIN_NO_CHANGE;
    pins.data_in_num = PIN_SD;
    i2s_driver_install(I2S_PORT, &config, 0, NULL);
    i2s_set_pin(I2S_PORT, &pins);
}

void setup() {
    Serial.begin(115200);
    WiFi.mode(WIFI_STA);
    WiFi.setSleep(false); /* modem sleep delays packets by up to 100 ms */
    WiFi.begin(WIFI_SSID, WIFI_PASSWORD);
    start_i2s();
    nfmb_stream_init(&stream, MCU_ID, SAMPLE_RATE_HZ, NFMB_INT32);
}

void loop() {
    size_t bytes_read = 0;
    /* Blocks until 10 ms of audio are in: the I2S clock paces the loop. */
    i2s_read(I2S_PORT, samples, sizeof samples, &bytes_read, portMAX_DELAY);
    size_t count = bytes_read / sizeof samples[0];
    if (count == 0) {
        return;
    }
    if (WiFi.status() != WL_CONNECTED) {
        nfmb_skip(&stream, count); /* lost audio keeps its place in time */
        return;
    }
    size_t size = nfmb_encode(&stream, samples, count, frame, sizeof frame);
    udp.beginPacket(GATEWAY, GATEWAY_PORT);
    udp.write(frame, size);
    if (!udp.endPacket()) {
        Serial.println("nfmb: send failed");
    }
}
