#ifndef CJPEG_SHIM_H
#define CJPEG_SHIM_H

// libjpeg(-turbo) reports fatal errors by calling `error_exit`, which must not return; Swift
// cannot catch a longjmp, so decoding and encoding run here in C behind setjmp and report a
// status and a message instead.

#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <jerror.h>

/// Longest message written to the `message` buffers below (including the terminator).
#define CJPEG_MESSAGE_LENGTH JMSG_LENGTH_MAX

/// Most scans a JPEG may hold. A progressive JPEG needs about 10; each scan is a pass over the
/// whole image, so a small file repeating one scan thousands of times would keep the decoder
/// busy for minutes.
#define CJPEG_MAX_SCANS 1000

struct cjpeg_error_manager {
  struct jpeg_error_mgr base;
  jmp_buf jump;
  char *message;
};

static void cjpeg_error_exit(j_common_ptr info) {
  struct cjpeg_error_manager *manager = (struct cjpeg_error_manager *)info->err;
  (*info->err->format_message)(info, manager->message);
  longjmp(manager->jump, 1);
}

/// Stops decoding once the input holds more than `CJPEG_MAX_SCANS` scans.
static void cjpeg_progress_monitor(j_common_ptr info) {
  if (!info->is_decompressor || ((j_decompress_ptr)info)->input_scan_number <= CJPEG_MAX_SCANS) return;
  struct cjpeg_error_manager *manager = (struct cjpeg_error_manager *)info->err;
  snprintf(manager->message, CJPEG_MESSAGE_LENGTH, "more than %d scans", CJPEG_MAX_SCANS);
  longjmp(manager->jump, 1);
}

/// Warnings that mean pixel data is missing or wrong are errors: the entropy-coded data ends
/// early (`JWRN_JPEG_EOF`, `JWRN_HIT_MARKER`: libjpeg would pad the image with grey) or is
/// corrupt (bad Huffman or arithmetic code, lost restart markers). Other warnings are ignored,
/// as PIL does: "extraneous bytes before marker" (`JWRN_EXTRANEOUS_DATA`) occurs in real data
/// sets and loses nothing.
static void cjpeg_emit_message(j_common_ptr info, int level) {
  if (level != -1) return;
  switch (info->err->msg_code) {
  case JWRN_JPEG_EOF:
  case JWRN_HIT_MARKER:
  case JWRN_HUFF_BAD_CODE:
  case JWRN_ARITH_BAD_CODE:
  case JWRN_MUST_RESYNC:
    cjpeg_error_exit(info);
  default:
    break;
  }
}

/// Decodes a JPEG held in memory to interleaved 8-bit RGB (`height·width·3` bytes, row-major,
/// allocated with malloc; the caller frees it). The header's `width`·`height` is checked against
/// `max_pixels` before anything is allocated for the pixels: a larger image returns 2 with
/// `*width` and `*height` set and nothing decoded. Grayscale images are expanded to RGB; CMYK and
/// YCCK images are converted with R = (255−C)(255−K)/255 (… for G, B), with Adobe's inverted
/// CMYK undone first. Returns 0 on success, otherwise 1 with a one-line reason in `message`
/// (`CJPEG_MESSAGE_LENGTH` bytes).
static inline int cjpeg_decode_rgb(const unsigned char *data, unsigned long size, unsigned long long max_pixels,
                                   unsigned char **pixels, int *width, int *height, char *message) {
  struct jpeg_decompress_struct info;
  struct cjpeg_error_manager manager;
  struct jpeg_progress_mgr progress = {.progress_monitor = cjpeg_progress_monitor};
  unsigned char *volatile output = NULL;
  unsigned char *volatile row = NULL;
  *pixels = NULL;
  message[0] = 0;
  info.err = jpeg_std_error(&manager.base);
  manager.base.error_exit = cjpeg_error_exit;
  manager.base.emit_message = cjpeg_emit_message;
  manager.message = message;
  if (setjmp(manager.jump)) {
    jpeg_destroy_decompress(&info);
    free(output);
    free(row);
    return 1;
  }
  jpeg_create_decompress(&info);
  info.progress = &progress;
  jpeg_mem_src(&info, data, size);
  jpeg_read_header(&info, TRUE);
  if ((unsigned long long)info.image_width * info.image_height > max_pixels) {
    *width = (int)info.image_width;
    *height = (int)info.image_height;
    jpeg_destroy_decompress(&info);
    return 2;
  }
  int cmyk = info.jpeg_color_space == JCS_CMYK || info.jpeg_color_space == JCS_YCCK;
  int inverted = cmyk && info.saw_Adobe_marker;
  info.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
  jpeg_start_decompress(&info);
  size_t w = info.output_width, h = info.output_height;
  output = malloc(w * h * 3);
  row = malloc(w * (size_t)info.output_components);
  if (!output || !row) {
    snprintf(message, CJPEG_MESSAGE_LENGTH, "out of memory for a %zux%zu image", w, h);
    jpeg_destroy_decompress(&info);
    free(output);
    free(row);
    return 1;
  }
  while (info.output_scanline < info.output_height) {
    size_t y = info.output_scanline;
    JSAMPROW rows[1] = {row};
    jpeg_read_scanlines(&info, rows, 1);
    unsigned char *out = output + y * w * 3;
    if (!cmyk) {
      memcpy(out, row, w * 3);
      continue;
    }
    for (size_t x = 0; x < w; x++) {
      unsigned int k = inverted ? row[4 * x + 3] : 255 - row[4 * x + 3];
      for (int c = 0; c < 3; c++) {
        unsigned int v = inverted ? row[4 * x + c] : 255 - row[4 * x + c];
        out[3 * x + c] = (unsigned char)((v * k + 127) / 255);
      }
    }
  }
  jpeg_finish_decompress(&info);
  jpeg_destroy_decompress(&info);
  free(row);
  *pixels = output;
  *width = (int)w;
  *height = (int)h;
  return 0;
}

/// Encodes interleaved 8-bit pixels (`components` 1: grayscale, 3: RGB, 4: CMYK, stored as given
/// with an Adobe marker, i.e. read back as Adobe-inverted CMYK) as a baseline JPEG of
/// `quality` (1–100), progressive if `progressive` is nonzero, in memory (`*jpeg`, `*size`; the caller frees `*jpeg`). Used to make test
/// images. Returns 0 on success, otherwise 1 with a reason in `message`.
static inline int cjpeg_encode(const unsigned char *pixels, int width, int height, int components, int quality,
                               int progressive, unsigned char **jpeg, unsigned long *size, char *message) {
  struct jpeg_compress_struct info;
  struct cjpeg_error_manager manager;
  *jpeg = NULL;
  *size = 0;
  message[0] = 0;
  info.err = jpeg_std_error(&manager.base);
  manager.base.error_exit = cjpeg_error_exit;
  manager.message = message;
  if (setjmp(manager.jump)) {
    jpeg_destroy_compress(&info);
    free(*jpeg);
    *jpeg = NULL;
    return 1;
  }
  jpeg_create_compress(&info);
  jpeg_mem_dest(&info, jpeg, size);
  info.image_width = (JDIMENSION)width;
  info.image_height = (JDIMENSION)height;
  info.input_components = components;
  info.in_color_space = components == 1 ? JCS_GRAYSCALE : components == 4 ? JCS_CMYK : JCS_RGB;
  jpeg_set_defaults(&info);
  jpeg_set_quality(&info, quality, TRUE);
  if (progressive) jpeg_simple_progression(&info);
  jpeg_start_compress(&info, TRUE);
  while (info.next_scanline < info.image_height) {
    JSAMPROW rows[1] = {(JSAMPROW)(pixels + (size_t)info.next_scanline * (size_t)width * (size_t)components)};
    jpeg_write_scanlines(&info, rows, 1);
  }
  jpeg_finish_compress(&info);
  jpeg_destroy_compress(&info);
  return 0;
}

#endif
