#include "common/png_image.h"

#include <png.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "common/error.h"

namespace diffwave {

std::string encode_png(int height, int width, int channels, const std::vector<uint8_t>& pixels) {
  if (height <= 0 || width <= 0 || (channels != 1 && channels != 3) ||
      pixels.size() != static_cast<size_t>(height) * width * channels)
    throw Error("PNG encoding: " + std::to_string(pixels.size()) + " bytes for a " + std::to_string(width) + "x" +
                std::to_string(height) + " image of " + std::to_string(channels) + " channel(s)");
  // The simplified API reports errors in `image.message` instead of longjmp-ing through C++.
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  image.width = static_cast<png_uint_32>(width);
  image.height = static_cast<png_uint_32>(height);
  image.format = channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
  std::string png(PNG_IMAGE_PNG_SIZE_MAX(image), '\0');
  png_alloc_size_t size = png.size();
  if (!png_image_write_to_memory(&image, png.data(), &size, 0, pixels.data(), 0, nullptr)) {
    const std::string message = image.message;
    png_image_free(&image);
    throw Error("PNG encoding of a " + std::to_string(width) + "x" + std::to_string(height) +
                " image failed: " + message);
  }
  png_image_free(&image);  // a no-op when the write already released its state
  png.resize(size);
  return png;
}

std::vector<uint8_t> spectrogram_pixels(const float* mel, int n_mels, int frames) {
  std::vector<uint8_t> pixels(static_cast<size_t>(n_mels) * frames);
  for (int row = 0; row < n_mels; ++row) {
    const float* src = mel + static_cast<size_t>(n_mels - 1 - row) * frames;  // flip: mel 0 at the bottom
    for (int t = 0; t < frames; ++t) {
      const float v = std::isnan(src[t]) ? 0.0f : std::clamp(src[t], 0.0f, 1.0f);
      pixels[static_cast<size_t>(row) * frames + t] = static_cast<uint8_t>(std::lround(v * 255.0f));
    }
  }
  return pixels;
}

std::string spectrograms_png(const std::vector<const float*>& mels, int n_mels, int frames, int scale) {
  const int gap = 2;
  std::vector<uint8_t> pixels;
  for (size_t k = 0; k < mels.size(); ++k) {
    if (k > 0) pixels.insert(pixels.end(), static_cast<size_t>(gap) * frames, 255);
    const auto one = spectrogram_pixels(mels[k], n_mels, frames);
    for (int row = 0; row < n_mels; ++row)
      for (int s = 0; s < scale; ++s)
        pixels.insert(pixels.end(), one.begin() + static_cast<std::ptrdiff_t>(row) * frames,
                      one.begin() + static_cast<std::ptrdiff_t>(row + 1) * frames);
  }
  const int height = static_cast<int>(mels.size()) * n_mels * scale + gap * std::max(0, int(mels.size()) - 1);
  return encode_png(height, frames, 1, pixels);
}

}  // namespace diffwave
