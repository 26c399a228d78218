// CDCMTK — a pure-C face over DCMTK (C++).
//
// Why this shim exists: Swift cannot call DCMTK's C++ API safely — DCMTK
// throws C++ exceptions (bad_alloc, codec errors) that must never unwind into
// Swift, and its types (DcmFileFormat, OFCondition, OFString) should not leak
// into ScanIO's public API. Every function here is prefixed `mtdcm_`, returns
// a status code (0 = success) and writes a human-readable cause into the
// caller's message buffer on failure. Nothing throws across this boundary.
#pragma once
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Status codes. Stable: ScanIO maps them onto its error enum.
enum {
  MTDCM_OK = 0,
  MTDCM_NOT_DICOM = 1,
  MTDCM_IO = 2,
  MTDCM_MISSING_ATTRIBUTE = 3,
  MTDCM_UNSUPPORTED_SYNTAX = 4,
  MTDCM_NO_PIXEL_DATA = 5,
  MTDCM_DECODE_FAILED = 6,
  MTDCM_TRUNCATED = 7,
  MTDCM_INVALID_ARGUMENT = 8,
  MTDCM_INTERNAL = 9,
};

/// An opened DICOM file (opaque; owns a DcmFileFormat).
typedef struct mtdcm_file mtdcm_file;

/// DCMTK's package version string, e.g. "3.6.7".
const char *mtdcm_version(void);

/// Registers DCMTK's decoders/encoders (RLE, JPEG, JPEG-LS) exactly once; thread-safe.
void mtdcm_register_codecs(void);

/// Routes DCMTK's logger: 0 = silent (fatal only), 1 = warnings, 2 = debug.
void mtdcm_set_log_level(int level);

/// Opens and parses a file. On success `*out` must be released with `mtdcm_close`.
int mtdcm_open(const char *path, mtdcm_file **out, char *message, size_t message_len);

/// Releases an opened file.
void mtdcm_close(mtdcm_file *file);

/// Copies a string attribute (value `index` of a multi-valued one) into `buffer`.
/// Returns MTDCM_MISSING_ATTRIBUTE when absent.
int mtdcm_get_string(mtdcm_file *file, uint16_t group, uint16_t element, unsigned long index,
                     char *buffer, size_t buffer_len);

/// Reads an unsigned 16-bit attribute (US).
int mtdcm_get_uint16(mtdcm_file *file, uint16_t group, uint16_t element, uint16_t *value);

/// The transfer syntax UID of the dataset as stored in the file.
int mtdcm_transfer_syntax(mtdcm_file *file, char *buffer, size_t buffer_len);

/// Decompresses (if needed) to explicit little endian and exposes the native
/// pixel data bytes. The pointer stays valid until `mtdcm_close`.
int mtdcm_pixel_data(mtdcm_file *file, const uint8_t **bytes, size_t *length, char *message,
                     size_t message_len);

/// Writes a single-frame 16-bit MONOCHROME2 image with the given rescale.
/// `transfer_syntax_uid` chooses the encoding (e.g. "1.2.840.10008.1.2.1",
/// RLE "1.2.840.10008.1.2.5", JPEG-LS lossless "1.2.840.10008.1.2.4.80").
/// `attributes` is a list of `count` (tag, value) pairs: tags as 0xGGGGEEEE.
int mtdcm_write_mono16(const char *path, uint16_t rows, uint16_t columns, const uint16_t *pixels,
                       int is_signed, double rescale_slope, double rescale_intercept,
                       const char *transfer_syntax_uid, const uint32_t *attribute_tags,
                       const char *const *attribute_values, size_t count, char *message,
                       size_t message_len);

#ifdef __cplusplus
}
#endif
