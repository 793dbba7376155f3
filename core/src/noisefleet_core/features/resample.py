"""Sample-rate conversion shared by training and the edge (one implementation, no skew).

Both the one-shot :func:`resample` (training, whole files) and the block-wise
:class:`StreamingResampler` (the edge, live audio) run the same polyphase FIR and produce the
same samples as ``scipy.signal.resample_poly`` with its defaults (Kaiser window, beta 5, zero
padding at both ends of the signal):

1. reduce ``to_hz / from_hz`` to ``up / down`` (denominator at most :data:`MAX_DENOMINATOR`);
2. design scipy's low-pass filter ``h`` (``firwin``: cut-off ``1 / max(up, down)`` of Nyquist,
   ``20 * max(up, down) + 1`` taps, Kaiser window, gain ``up``), here in numpy;
3. output sample ``k`` is ``sum_i x[i] * h[k * down + half_len - i * up]``, a filter centred on
   input position ``k * down / up``. Each block appends to a short input history and emits
   every output whose filter support has fully arrived, in one matrix product (a polyphase
   filter: outputs come in groups of ``up`` whose inputs start ``down`` samples apart, so each
   group is one window of the input times a fixed ``(span, up)`` tap matrix); history no
   later output needs is dropped;
4. ``flush`` runs the filter out over zeros, so that the stream ends with
   ``ceil(n * up / down)`` samples, exactly as the one-shot call.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
MAX_DENOMINATOR = 1000
# scipy.signal.resample_poly's default window; kept equal so the filter is bit-for-bit its own.
KAISER_BETA = 5.0
# resample_poly's filter reaches this many zero crossings of the sinc on either side.
HALF_LENGTH_PER_RATE = 10


def conversion_factors(from_hz: int, to_hz: int) -> tuple[int, int]:
    """``(up, down)`` in lowest terms for converting ``from_hz`` to ``to_hz``.

    Ratios that need a denominator above :data:`MAX_DENOMINATOR` are approximated (to keep the
    polyphase filter small); ``(1, 1)`` means the signal passes through unchanged.
    """
    if from_hz <= 0 or to_hz <= 0:
        raise ValueError(f"sample rates must be positive, got {from_hz} Hz -> {to_hz} Hz")
    ratio = Fraction(to_hz, from_hz).limit_denominator(MAX_DENOMINATOR)
    return ratio.numerator, ratio.denominator


def anti_aliasing_filter(up: int, down: int) -> FloatArray:
    """``scipy.signal.resample_poly``'s default FIR for coprime ``up / down`` (gain ``up``)."""
    max_rate = max(up, down)
    half_len = HALF_LENGTH_PER_RATE * max_rate
    cutoff = 1.0 / max_rate
    # scipy.signal.firwin(2 * half_len + 1, cutoff, window=("kaiser", beta)): windowed sinc,
    # scaled to unit gain at DC.
    m = np.arange(2 * half_len + 1, dtype=np.float64) - half_len
    taps = cutoff * np.sinc(cutoff * m) * np.kaiser(2 * half_len + 1, KAISER_BETA)
    return np.asarray(taps / np.sum(taps) * up, dtype=np.float64)


def _polyphase_matrix(
    taps: FloatArray, up: int, down: int, half_len: int
) -> tuple[FloatArray, int]:
    """``(G, lo)``: output ``g * up + r`` is ``x[g * down + lo : g * down + lo + span] @ G[:, r]``.

    Output ``k`` uses inputs ``i <= (k * down + half_len) // up`` with tap
    ``h[k * down + half_len - i * up]``; within a group of ``up`` outputs the newest input
    index grows by ``base[r]`` from ``g * down`` (a fixed pattern), so one matrix serves all.
    """
    r = np.arange(up)
    base = (r * down + half_len) // up
    span_taps = -(-taps.size // up)  # inputs one output reaches
    lo = int(base.min()) - (span_taps - 1)
    span = int(base.max()) - lo + 1
    matrix = np.zeros((span, up))
    for j in range(span_taps):  # the j-th newest input of each output
        index = r * down + half_len - (base - j) * up
        valid = (index >= 0) & (index < taps.size)
        matrix[(base - j - lo)[valid], r[valid]] = taps[index[valid]]
    return matrix, lo


class StreamingResampler:
    """Block-wise resampling whose output does not depend on how the input was cut into blocks.

    ``np.concatenate([r.process(b) for b in blocks] + [r.flush()])`` equals
    ``resample(np.concatenate(blocks), from_hz, to_hz)`` for any split of the signal, empty and
    one-sample blocks included. Outputs are always float64.

    Attributes:
        from_hz: input sample rate.
        to_hz: output sample rate.
        up: interpolation factor of the reduced ratio ``to_hz / from_hz``.
        down: decimation factor of the reduced ratio.
        latency_samples: the most output samples (at ``to_hz``) that ``process`` ever holds back
            because their filter still needs input that has not arrived; after enough input it
            holds back this many or one fewer (see :attr:`pending_samples`). In time this is
            ``latency_samples / to_hz`` seconds, e.g. 10 samples (0.625 ms) for 48 kHz -> 16 kHz
            and 20 samples (1.25 ms) for 8 kHz -> 16 kHz; 0 when the rates are equal.
    """

    # Stream state, set by _restart: input history (zeros stand for the silence before the
    # first sample), the input index of its first element, and the samples counted so far.
    _history: FloatArray
    _history_start: int
    _inputs_seen: int
    _outputs_emitted: int

    def __init__(self, from_hz: int, to_hz: int) -> None:
        self.from_hz = from_hz
        self.to_hz = to_hz
        self.up, self.down = conversion_factors(from_hz, to_hz)
        self._passthrough = self.up == self.down == 1
        if self._passthrough:
            self._filter_taps = np.ones(1)
            self._half_len = 0
        else:
            self._filter_taps = anti_aliasing_filter(self.up, self.down)
            self._half_len = HALF_LENGTH_PER_RATE * max(self.up, self.down)
        self._polyphase, self._group_lo = _polyphase_matrix(
            self._filter_taps, self.up, self.down, self._half_len
        )
        span, up = self._polyphase.shape
        steps = -(-span // self.down)
        blocks = np.zeros((steps * self.down, up))
        blocks[:span] = self._polyphase
        self._polyphase_blocks = blocks.reshape(steps, self.down, up)
        # Input samples older than the newest one an output needs that still reach it through
        # the longest polyphase branch (ceil(len(h) / up) taps).
        self._history_len = -(-self._filter_taps.size // self.up) - 1
        self.latency_samples = -(-self._half_len // self.down)
        self._restart()

    @property
    def pending_samples(self) -> int:
        """Output samples held back right now: exactly what :meth:`flush` would return."""
        return self._total_outputs(self._inputs_seen) - self._outputs_emitted

    def process(self, block: npt.ArrayLike) -> FloatArray:
        """Feed the next block of a 1-D signal; return every output sample it completes."""
        samples = np.asarray(block, dtype=np.float64)
        if samples.ndim != 1:
            raise ValueError(f"expected a 1-D block of samples, got shape {samples.shape}")
        if self._passthrough:
            return samples.copy()
        self._history = np.concatenate((self._history, samples))
        self._inputs_seen += samples.size
        return self._emit(self._ready_outputs(self._inputs_seen))

    def flush(self) -> FloatArray:
        """Return the held-back tail (the filter run out over zeros) and start a new stream."""
        stop = self._total_outputs(self._inputs_seen)
        if stop > self._outputs_emitted:
            needed_end = self._last_input(stop - 1) + 1
            missing = needed_end - (self._history_start + self._history.size)
            if missing > 0:
                self._history = np.concatenate((self._history, np.zeros(missing)))
        tail = self._emit(stop)
        self._restart()
        return tail

    def _restart(self) -> None:
        self._history = np.zeros(self._history_len)
        self._history_start = -self._history_len
        self._inputs_seen = 0
        self._outputs_emitted = 0

    def _last_input(self, output_index: int) -> int:
        """Index of the newest input sample that output ``output_index`` depends on."""
        return (output_index * self.down + self._half_len) // self.up

    def _ready_outputs(self, inputs_seen: int) -> int:
        """How many outputs have their whole filter support among the first inputs."""
        return max(0, (inputs_seen * self.up - 1 - self._half_len) // self.down + 1)

    def _total_outputs(self, inputs_seen: int) -> int:
        """Output length of the whole signal: ``ceil(n * up / down)``, as resample_poly."""
        return -(-inputs_seen * self.up // self.down)

    def _grouped_outputs(self, inputs: FloatArray, groups: int) -> FloatArray:
        """(groups, up) outputs: group ``g`` is ``inputs[g * down : g * down + span] @ G``."""
        span = self._polyphase.shape[0]
        if self.down == 1:
            # A contiguous copy first: BLAS on the strided view takes ~60 % longer, same sums.
            windows = np.lib.stride_tricks.sliding_window_view(inputs, span)
            return np.asarray(np.ascontiguousarray(windows).dot(self._polyphase))
        # Decimating: the inputs as rows of `down` samples, and the matrix as `steps` blocks of
        # `down` rows, so group g is sum over s of row g + s times block s. No (groups, span)
        # copy of overlapping windows (4x faster for 48 -> 16 kHz and 44.1 -> 16 kHz, the same
        # sums up to float rounding).
        down, steps = self.down, self._polyphase_blocks.shape[0]
        rows = np.zeros((groups - 1 + steps) * down)
        rows[: inputs.size] = inputs
        by_row = rows.reshape(-1, down)
        out = by_row[:groups] @ self._polyphase_blocks[0]
        for step in range(1, steps):
            out += by_row[step : step + groups] @ self._polyphase_blocks[step]
        return np.asarray(out)

    def _emit(self, stop: int) -> FloatArray:
        """Compute outputs ``_outputs_emitted .. stop - 1`` and drop history no longer needed."""
        first = self._outputs_emitted
        count = max(0, stop - first)
        out = np.empty(count)
        if count:
            # Groups g0..g1 of `up` outputs cover outputs first..stop-1; their input windows
            # start at g * down + lo. Inputs outside the history only reach outputs outside
            # first..stop-1 (the history holds all that those need), so they are zeros here.
            up, down = self.up, self.down
            span = self._polyphase.shape[0]
            g0, g1 = first // up, (stop - 1) // up
            begin = g0 * down + self._group_lo
            inputs = np.zeros((g1 - g0) * down + span)
            end = begin + inputs.size
            known_from = max(begin, self._history_start)
            known_to = min(end, self._history_start + self._history.size)
            if known_to > known_from:
                inputs[known_from - begin : known_to - begin] = self._history[
                    known_from - self._history_start : known_to - self._history_start
                ]
            grouped = self._grouped_outputs(inputs, g1 - g0 + 1).reshape(-1)
            out[:] = grouped[first - g0 * up : first - g0 * up + count]
        self._outputs_emitted = first + count
        keep_from = self._last_input(self._outputs_emitted) - self._history_len
        drop = min(max(0, keep_from - self._history_start), self._history.size)
        if drop:
            self._history = self._history[drop:].copy()
            self._history_start += drop
        return out


def resample(x: npt.ArrayLike, from_hz: int, to_hz: int) -> FloatArray:
    """Polyphase resampling of a whole 1-D signal; the stream's output processed in one go."""
    samples = np.asarray(x, dtype=np.float64)
    resampler = StreamingResampler(from_hz, to_hz)
    if resampler.up == resampler.down == 1:
        return samples
    return np.concatenate((resampler.process(samples), resampler.flush()))
