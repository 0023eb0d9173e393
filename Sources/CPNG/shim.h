#ifndef CPNG_SHIM_H
#define CPNG_SHIM_H

// libpng's simplified API (png_image) reports errors by return value; its size and format
// macros are not importable into Swift, so the calls are wrapped here.

#include <stdlib.h>
#include <string.h>
#include <png.h>

/// Longest message written to the `message` buffers below (including the terminator).
#define CPNG_MESSAGE_LENGTH 64

/// Decodes a PNG held in memory to interleaved 8-bit RGB (`height·width·3` bytes, row-major,
/// allocated with malloc; the caller frees it). Grayscale, palette and 16-bit images are
/// converted by libpng; an alpha channel is dropped (not composited), as PIL's
/// `convert("RGB")` does. The header's `width`·`height` is checked against `max_pixels` before
/// anything is allocated for the pixels: a larger image returns 2 with `*width` and `*height` set
/// and nothing decoded. A truncated or corrupt image data stream is an error, never padded
/// (libpng reports "Not enough image data", "read beyond end of data" or a failed data check).
/// Returns 0 on success, otherwise 1 with a one-line reason in `message` (`CPNG_MESSAGE_LENGTH`
/// bytes).
static inline int cpng_decode_rgb(const unsigned char *data, size_t size, unsigned long long max_pixels,
                                  unsigned char **pixels, int *width, int *height, char *message) {
  png_image image;
  memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  *pixels = NULL;
  message[0] = 0;
  if (!png_image_begin_read_from_memory(&image, data, size)) {
    strncpy(message, image.message, CPNG_MESSAGE_LENGTH - 1);
    message[CPNG_MESSAGE_LENGTH - 1] = 0;
    return 1;
  }
  if ((unsigned long long)image.width * image.height > max_pixels) {
    *width = (int)image.width;
    *height = (int)image.height;
    png_image_free(&image);
    return 2;
  }
  image.format = PNG_FORMAT_RGBA;
  size_t w = image.width, h = image.height;
  unsigned char *rgba = malloc(w * h * 4);
  if (!rgba) {
    png_image_free(&image);
    strncpy(message, "out of memory", CPNG_MESSAGE_LENGTH);
    return 1;
  }
  if (!png_image_finish_read(&image, NULL, rgba, 0, NULL)) {
    strncpy(message, image.message, CPNG_MESSAGE_LENGTH - 1);
    message[CPNG_MESSAGE_LENGTH - 1] = 0;
    png_image_free(&image);
    free(rgba);
    return 1;
  }
  for (size_t i = 0; i < w * h; i++) {
    rgba[3 * i] = rgba[4 * i];
    rgba[3 * i + 1] = rgba[4 * i + 1];
    rgba[3 * i + 2] = rgba[4 * i + 2];
  }
  *pixels = w * h > 0 ? realloc(rgba, w * h * 3) : rgba;
  *width = (int)w;
  *height = (int)h;
  return 0;
}

/// Encodes 8-bit pixels as a PNG in memory (`*png`, `*size`; the caller frees `*png`). Used to
/// make test images. `kind`: 0 grayscale, 1 RGB, 2 RGBA (interleaved `width·height·{1,3,4}`
/// bytes), 3 palette (`pixels` are `width·height` indices into `palette`, `colors` RGB entries).
/// Returns 0 on success, otherwise 1 with a reason in `message`.
static inline int cpng_encode(const unsigned char *pixels, int width, int height, int kind,
                              const unsigned char *palette, int colors, unsigned char **png, size_t *size,
                              char *message) {
  png_image image;
  memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  image.width = (png_uint_32)width;
  image.height = (png_uint_32)height;
  static const png_uint_32 formats[4] = {PNG_FORMAT_GRAY, PNG_FORMAT_RGB, PNG_FORMAT_RGBA, PNG_FORMAT_RGB_COLORMAP};
  image.format = formats[kind];
  image.colormap_entries = kind == 3 ? (png_uint_32)colors : 0;
  *png = NULL;
  *size = 0;
  message[0] = 0;
  png_alloc_size_t bytes = 0;
  if (!png_image_write_to_memory(&image, NULL, &bytes, 0, pixels, 0, palette) ||
      !(*png = malloc(bytes)) ||
      !png_image_write_to_memory(&image, *png, &bytes, 0, pixels, 0, palette)) {
    strncpy(message, image.message[0] ? image.message : "out of memory", CPNG_MESSAGE_LENGTH - 1);
    message[CPNG_MESSAGE_LENGTH - 1] = 0;
    free(*png);
    *png = NULL;
    return 1;
  }
  *size = bytes;
  return 0;
}

#endif
