#!/usr/bin/env python3
"""Reads a TensorBoard log directory with the real `tensorboard` package and prints JSON.

Usage: read_events.py DIR

Used by tests/unit/test_tensorboard.cpp to check diffwave::EventWriter against TensorBoard's
own reader. Prints one JSON object:
  scalars  tag -> [[step, value], ...]                 (EventAccumulator)
  images   tag -> [[step, width, height], ...]
  audio    tag -> [[step, sample_rate, length_frames], ...]
  decoded_images  tag -> [[step, width, height, channels, [pixels row-major]], ...]
                  (the PNG bytes decoded here with zlib only, every chunk CRC checked)
  decoded_audio   tag -> [[step, content_type, channels, sample_rate, [int16 samples]], ...]
                  (the WAV bytes decoded with the standard `wave` module)
  plugins  plugin name -> sorted tags, as TensorBoard's UI backend (plugin_event_accumulator,
           which migrates legacy summaries) would list them
  records  number of records in the event files, every framing CRC checked with
           tensorboard's own masked_crc32c (EventAccumulator stops silently on a bad one)
  file_version  the file_version string of the first event
Exits 2 if `tensorboard` cannot be imported (the caller skips), 1 on malformed data.
"""
import glob
import io
import json
import os
import struct
import sys
import wave
import zlib

try:
    from tensorboard.backend.event_processing import plugin_event_accumulator
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.compat.proto import event_pb2
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c
except ImportError as e:
    print(f"tensorboard is not importable: {e}", file=sys.stderr)
    sys.exit(2)


def fail(message):
    print(message, file=sys.stderr)
    sys.exit(1)


def check_records(path):
    """Walks the TFRecord framing itself, so a CRC error is an error rather than a short read."""
    data = open(path, "rb").read()
    pos, count, first = 0, 0, None
    while pos < len(data):
        if pos + 12 > len(data):
            fail(f"{path}: truncated header at {pos}")
        header = data[pos : pos + 8]
        (length,) = struct.unpack("<Q", header)
        (length_crc,) = struct.unpack("<I", data[pos + 8 : pos + 12])
        if masked_crc32c(header) != length_crc:
            fail(f"{path}: bad length crc at {pos}")
        body = data[pos + 12 : pos + 12 + length]
        if len(body) != length or pos + 16 + length > len(data):
            fail(f"{path}: truncated record at {pos}")
        (body_crc,) = struct.unpack("<I", data[pos + 12 + length : pos + 16 + length])
        if masked_crc32c(body) != body_crc:
            fail(f"{path}: bad data crc at {pos}")
        if first is None:
            first = event_pb2.Event.FromString(body)
        pos += 16 + length
        count += 1
    return count, first


def decode_png(png):
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        fail("not a PNG signature")
    pos, idat, ihdr = 8, b"", None
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind = png[pos + 4 : pos + 8]
        body = png[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", png[pos + 8 + length : pos + 12 + length])
        if zlib.crc32(kind + body) != crc:
            fail(f"PNG chunk {kind!r}: bad crc")
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        pos += 12 + length
    width, height, depth, color, _, _, interlace = ihdr
    if depth != 8 or interlace != 0 or color not in (0, 2):
        fail(f"unexpected PNG format: depth {depth}, color type {color}, interlace {interlace}")
    channels = 1 if color == 0 else 3
    raw = zlib.decompress(idat)
    stride = width * channels
    if len(raw) != height * (stride + 1):
        fail(f"PNG data is {len(raw)} bytes, expected {height * (stride + 1)}")
    pixels, prev = [], [0] * stride
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = list(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):  # undo the PNG row filter (spec section 9)
            a = line[i - channels] if i >= channels else 0
            b = prev[i]
            c = prev[i - channels] if i >= channels else 0
            if kind == 0:
                p = 0
            elif kind == 1:
                p = a
            elif kind == 2:
                p = b
            elif kind == 3:
                p = (a + b) // 2
            elif kind == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                p = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            else:
                fail(f"bad PNG filter {kind}")
            line[i] = (line[i] + p) & 0xFF
        pixels += line
        prev = line
    return width, height, channels, pixels


def decode_wav(data):
    with wave.open(io.BytesIO(data), "rb") as w:
        if w.getsampwidth() != 2:
            fail(f"WAV sample width {w.getsampwidth()}, expected 2")
        frames = w.readframes(w.getnframes())
        samples = list(struct.unpack(f"<{len(frames) // 2}h", frames))
        return w.getnchannels(), w.getframerate(), samples


def main():
    if len(sys.argv) != 2:
        fail("usage: read_events.py DIR")
    run_dir = sys.argv[1]
    files = sorted(glob.glob(os.path.join(run_dir, "*tfevents*")))
    if not files:
        fail(f"no event files in {run_dir}")
    records, file_version = 0, None
    for path in files:
        n, first = check_records(path)
        records += n
        if file_version is None and first is not None:
            file_version = first.file_version

    kinds = ("compressedHistograms", "images", "audio", "scalars", "histograms", "tensors")
    acc = EventAccumulator(run_dir, size_guidance={k: 0 for k in kinds})
    acc.Reload()
    tags = acc.Tags()
    out = {
        "records": records,
        "file_version": file_version,
        "scalars": {t: [[e.step, e.value] for e in acc.Scalars(t)] for t in tags["scalars"]},
        "images": {t: [[e.step, e.width, e.height] for e in acc.Images(t)] for t in tags["images"]},
        "audio": {
            t: [[e.step, e.sample_rate, e.length_frames] for e in acc.Audio(t)] for t in tags["audio"]
        },
        "decoded_images": {
            t: [[e.step, *decode_png(e.encoded_image_string)] for e in acc.Images(t)] for t in tags["images"]
        },
        "decoded_audio": {
            t: [[e.step, e.content_type, *decode_wav(e.encoded_audio_string)] for e in acc.Audio(t)]
            for t in tags["audio"]
        },
    }

    plugin_acc = plugin_event_accumulator.EventAccumulator(run_dir, size_guidance={"tensors": 0})
    plugin_acc.Reload()
    out["plugins"] = {
        name: sorted(plugin_acc.PluginTagToContent(name)) for name in plugin_acc.ActivePlugins()
    }
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
