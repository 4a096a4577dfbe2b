"""Spectrogram features with numpy: framed FFT power, mel filterbank, log, fixed frame count."""

from __future__ import annotations

import numpy as np

__all__ = ["fix_frames", "log_mel_spectrogram", "log_spectrogram", "mel_filterbank"]

_EPS = 1e-10


def _hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def _mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(
    sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None
) -> np.ndarray:
    """Triangular mel filters, shape ``(n_mels, n_fft // 2 + 1)``, each with unit peak.

    Filter centres are equally spaced on the mel scale between ``fmin`` and ``fmax``
    (default Nyquist); each triangle rises from the previous centre and falls to the next.
    """
    fmax = sample_rate / 2.0 if fmax is None else float(fmax)
    freqs = np.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs[None, :] - lower) / (centre - lower)
    falling = (upper - freqs[None, :]) / (upper - centre)
    return np.clip(np.minimum(rising, falling), 0.0, None)


def _power_frames(signal: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Power spectrum of Hann-windowed frames, shape ``(frames, n_fft // 2 + 1)``."""
    x = np.asarray(signal, dtype=np.float64)
    if x.shape[0] < n_fft:
        x = np.pad(x, (0, n_fft - x.shape[0]))
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop]
    spec = np.fft.rfft(frames * np.hanning(n_fft + 1)[:-1], axis=1)
    return np.abs(spec) ** 2


def log_spectrogram(signal: np.ndarray, *, n_fft: int = 256, hop: int = 128) -> np.ndarray:
    """Log power spectrogram, shape ``(frames, n_fft // 2 + 1)``."""
    return np.log(_power_frames(signal, n_fft, hop) + _EPS)


def log_mel_spectrogram(
    signal: np.ndarray, sample_rate: int, *, n_fft: int = 256, hop: int = 128, n_mels: int = 32
) -> np.ndarray:
    """Log mel spectrogram, shape ``(frames, n_mels)``."""
    power = _power_frames(signal, n_fft, hop)
    return np.log(power @ mel_filterbank(sample_rate, n_fft, n_mels).T + _EPS)


def fix_frames(spec: np.ndarray, n_frames: int) -> np.ndarray:
    """Exactly ``n_frames`` frames: the loudest run of frames if longer, padded if shorter.

    The loudest run is the window of ``n_frames`` consecutive frames with the largest summed
    log energy (ties: the earliest). Short spectrograms are centred and padded with their own
    minimum value (silence).
    """
    t = spec.shape[0]
    if t == n_frames:
        return spec
    if t > n_frames:
        energy = np.convolve(spec.sum(axis=1), np.ones(n_frames), mode="valid")
        start = int(np.argmax(energy))
        return spec[start : start + n_frames]
    before = (n_frames - t) // 2
    return np.pad(spec, ((before, n_frames - t - before), (0, 0)), constant_values=spec.min())
