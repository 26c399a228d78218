// libjpeg-turbo for ScanIO's JPEG reader.
//
// Why this header holds code: libjpeg reports a fatal error by calling `error_exit`, whose
// default prints to stderr and calls exit(); the only way for a caller to get control back is
// longjmp. A longjmp must never cross Swift frames, so setjmp and every libjpeg call of one
// decode live in the single C function below, which returns a status and the library's
// message instead. Warnings (corrupt entropy data, premature end of file) are fatal too:
// libjpeg would otherwise fill the missing part of a truncated image with gray and succeed.
#pragma once

#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

#include <jpeglib.h>

enum {
  MTJPEG_OK = 0,
  /// The file cannot be opened or read.
  MTJPEG_IO = 1,
  /// libjpeg rejected the data (not a JPEG, truncated, corrupt); the message says why.
  MTJPEG_CORRUPT = 2,
  /// A valid JPEG ScanIO does not decode (CMYK / YCCK); the message names the colour space.
  MTJPEG_UNSUPPORTED = 3,
  /// The output buffer cannot be allocated.
  MTJPEG_NO_MEMORY = 4,
};

/// libjpeg's error manager plus the jump target and the formatted message of the failure.
typedef struct {
  struct jpeg_error_mgr base;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
} mtjpeg_error_manager;

static void mtjpeg_error_exit(j_common_ptr cinfo) {
  mtjpeg_error_manager *manager = (mtjpeg_error_manager *)cinfo->err;
  (*cinfo->err->format_message)(cinfo, manager->message);
  longjmp(manager->jump, 1);
}

/// Level -1 is a warning (corrupt or missing data): fail. Trace messages are dropped.
static void mtjpeg_emit_message(j_common_ptr cinfo, int level) {
  if (level < 0) mtjpeg_error_exit(cinfo);
}

/// Nothing goes to stderr; the message is returned to the caller.
static void mtjpeg_output_message(j_common_ptr cinfo) { (void)cinfo; }

/// State that must survive the longjmp (locals changed after setjmp would be indeterminate).
typedef struct {
  FILE *file;
  unsigned char *pixels;
} mtjpeg_resources;

/// Decodes the 8-bit JPEG at `path` to interleaved rows of 1 (gray) or 3 (RGB) samples.
///
/// `components` in: 1 or 3 to convert to gray or RGB with libjpeg's own colour conversion
/// (gray = the luma channel Y; RGB = YCbCr converted, or gray replicated), 0 for the file's
/// own layout (gray for a one-component file, RGB otherwise); out: the layout returned.
/// On MTJPEG_OK `*pixels` holds width*height*components bytes the caller frees with free();
/// on failure `message` (of `message_size` bytes) holds the reason and nothing is allocated.
static inline int mtjpeg_decode_file(
    const char *path, int *components, unsigned char **pixels, int *width, int *height,
    char *message, size_t message_size) {
  struct jpeg_decompress_struct cinfo;
  mtjpeg_error_manager manager;
  volatile mtjpeg_resources resources = {NULL, NULL};
  *pixels = NULL;
  message[0] = 0;

  resources.file = fopen(path, "rb");
  if (resources.file == NULL) {
    snprintf(message, message_size, "%s", strerror(errno));
    return MTJPEG_IO;
  }
  cinfo.err = jpeg_std_error(&manager.base);
  manager.base.error_exit = mtjpeg_error_exit;
  manager.base.emit_message = mtjpeg_emit_message;
  manager.base.output_message = mtjpeg_output_message;
  manager.message[0] = 0;
  if (setjmp(manager.jump)) {
    jpeg_destroy_decompress(&cinfo);
    fclose(resources.file);
    free(resources.pixels);
    snprintf(message, message_size, "%s", manager.message);
    return MTJPEG_CORRUPT;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_stdio_src(&cinfo, resources.file);
  jpeg_read_header(&cinfo, TRUE);

  int wanted = *components;
  switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE:
    case JCS_YCbCr:
    case JCS_RGB:
      break;
    default:
      snprintf(
          message, message_size, "%s colour space with %d components",
          cinfo.jpeg_color_space == JCS_CMYK ? "CMYK"
          : cinfo.jpeg_color_space == JCS_YCCK ? "YCCK" : "unknown",
          cinfo.num_components);
      jpeg_destroy_decompress(&cinfo);
      fclose(resources.file);
      return MTJPEG_UNSUPPORTED;
  }
  if (wanted != 1 && wanted != 3) wanted = cinfo.jpeg_color_space == JCS_GRAYSCALE ? 1 : 3;
  cinfo.out_color_space = wanted == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&cinfo);

  size_t stride = (size_t)cinfo.output_width * (size_t)cinfo.output_components;
  resources.pixels = (unsigned char *)malloc(stride * cinfo.output_height);
  if (resources.pixels == NULL) {
    snprintf(
        message, message_size, "%u x %u pixels do not fit in memory", cinfo.output_width,
        cinfo.output_height);
    jpeg_destroy_decompress(&cinfo);
    fclose(resources.file);
    return MTJPEG_NO_MEMORY;
  }
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = resources.pixels + stride * cinfo.output_scanline;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);

  *components = cinfo.output_components;
  *width = (int)cinfo.output_width;
  *height = (int)cinfo.output_height;
  *pixels = resources.pixels;
  jpeg_destroy_decompress(&cinfo);
  fclose(resources.file);
  return MTJPEG_OK;
}
