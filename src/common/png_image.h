// PNG pictures: 8-bit images encoded with libpng, and the grayscale picture of mel spectrograms
// that TensorBoard and diffwave-sample --spectrograms show.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace diffwave {

// Row-major [height][width][channels] pixels, channels 1 (gray) or 3 (RGB), as PNG file bytes.
// Throws Error when libpng refuses them.
std::string encode_png(int height, int width, int channels, const std::vector<uint8_t>& pixels);

// A row-major [n_mels][frames] mel spectrogram with values in [0, 1] (clipped; NaN is 0) as
// [n_mels][frames] gray pixels, mel 0 in the bottom row.
std::vector<uint8_t> spectrogram_pixels(const float* mel, int n_mels, int frames);

// Several spectrograms of equal size, each row drawn `scale` times, stacked top to bottom with
// a 2-pixel white line between them, as PNG file bytes.
std::string spectrograms_png(const std::vector<const float*>& mels, int n_mels, int frames, int scale);

}  // namespace diffwave
