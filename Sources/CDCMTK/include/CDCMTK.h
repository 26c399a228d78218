// CDCMTK — a pure-C face over DCMTK (C++).
//
// Why this shim exists: Swift cannot call DCMTK's C++ API safely — DCMTK
// throws C++ exceptions (bad_alloc, codec errors) that must never unwind into
// Swift, and its types (DcmFileFormat, OFCondition, OFString) should not leak
// into ScanIO's public API. Every function here is prefixed `mtdcm_`, returns
// a status code (0 = success) and writes a human-readable cause into the
// caller's message buffer on failure. Nothing throws across this boundary.
//
// Tags are passed as 0xGGGGEEEE. Attribute getters take a `(seq_tag, item)`
// prefix: `seq_tag == 0` addresses the top-level dataset, otherwise item
// `item` of the sequence `seq_tag` in the top-level dataset (enough for the
// Modality LUT, VOI LUT and palette sequences ScanIO reads).
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
/// Also sets DCMTK's logger to silent on first use (see `mtdcm_set_log_level`).
void mtdcm_register_codecs(void);

/// Routes DCMTK's logger: 0 = silent (fatal only), 1 = warnings, 2 = debug.
void mtdcm_set_log_level(int level);

/// Opens and parses a file. On success `*out` must be released with `mtdcm_close`.
int mtdcm_open(const char *path, mtdcm_file **out, char *message, size_t message_len);

/// Like `mtdcm_open`, but leaves values larger than 4 KiB (pixel data) unread until used:
/// fast header access for directory scans.
int mtdcm_open_header(const char *path, mtdcm_file **out, char *message, size_t message_len);

/// Releases an opened file.
void mtdcm_close(mtdcm_file *file);

/// Copies a string attribute (value `index` of a multi-valued one) into `buffer`.
/// Returns MTDCM_MISSING_ATTRIBUTE when absent.
int mtdcm_get_string(mtdcm_file *file, uint32_t seq_tag, unsigned long item, uint32_t tag,
                     unsigned long index, char *buffer, size_t buffer_len);

/// Copies all values of a string attribute (backslash-separated) into `buffer`.
int mtdcm_get_string_all(mtdcm_file *file, uint32_t seq_tag, unsigned long item, uint32_t tag,
                         char *buffer, size_t buffer_len);

/// Reads value `index` of a numeric attribute of any numeric VR (US, SS, UL, SL, FL, FD, DS,
/// IS) as a double.
int mtdcm_get_number(mtdcm_file *file, uint32_t seq_tag, unsigned long item, uint32_t tag,
                     unsigned long index, double *value);

/// The value multiplicity of an attribute (0 when absent or empty).
unsigned long mtdcm_value_count(mtdcm_file *file, uint32_t seq_tag, unsigned long item,
                                uint32_t tag);

/// The number of items in a top-level sequence (0 when absent).
unsigned long mtdcm_item_count(mtdcm_file *file, uint32_t seq_tag);

/// Whether a top-level attribute is present.
int mtdcm_has_tag(mtdcm_file *file, uint32_t tag);

/// Exposes the 16-bit words of a US, SS or OW attribute (in host byte order).
/// The pointer stays valid until `mtdcm_close`.
int mtdcm_get_words(mtdcm_file *file, uint32_t seq_tag, unsigned long item, uint32_t tag,
                    const uint16_t **words, size_t *count);

/// Looks a tag up by its DICOM keyword (e.g. "PatientAge") in DCMTK's dictionary.
int mtdcm_tag_for_keyword(const char *keyword, uint32_t *tag);

/// The transfer syntax UID of the dataset as stored in the file.
int mtdcm_transfer_syntax(mtdcm_file *file, char *buffer, size_t buffer_len);

/// Whether the stored transfer syntax is encapsulated (compressed), its DCMTK name, and
/// whether DCMTK knows it at all (0 = unknown UID).
int mtdcm_transfer_syntax_info(mtdcm_file *file, int *encapsulated, int *known, char *name,
                               size_t name_len);

/// Whether DCMTK knows the transfer syntax `uid` (1) or not (0).
int mtdcm_syntax_is_known(const char *uid);

/// Whether the stored transfer syntax is big endian.
int mtdcm_is_big_endian(mtdcm_file *file);

/// Decompresses with DCMTK's registered codecs (if encapsulated) and exposes the native pixel
/// data bytes in host byte order (16-bit words swapped; see ScanIO for 32-bit big endian).
/// The pointer stays valid until `mtdcm_close`.
int mtdcm_pixel_data(mtdcm_file *file, const uint8_t **bytes, size_t *length, char *message,
                     size_t message_len);

/// Exposes the encapsulated pixel data items without decoding: item 0 is the Basic Offset
/// Table (possibly empty), items 1... are fragments. `*count` receives the number of items.
int mtdcm_fragment_count(mtdcm_file *file, size_t *count, char *message, size_t message_len);
int mtdcm_fragment(mtdcm_file *file, size_t index, const uint8_t **bytes, size_t *length);

/// A lookup table for the Modality LUT or VOI LUT Sequence (one item): LUT Descriptor
/// (count, first mapped, bits per entry) and LUT Data, written as OW. A negative first mapped
/// value is written with an SS descriptor, otherwise US.
typedef struct mtdcm_lut {
  int32_t first_mapped;      ///< -32768...65535
  uint16_t bits_per_entry;   ///< 8...16
  const uint16_t *entries;   ///< `count` entries
  size_t count;              ///< 1...65536
} mtdcm_lut;

/// What `mtdcm_write_image` writes: one frame of monochrome 8- or 16-bit stored values.
typedef struct mtdcm_image_spec {
  uint16_t rows;
  uint16_t columns;
  uint16_t bits_allocated;        ///< 8 or 16
  uint16_t bits_stored;           ///< <= bits_allocated; high bit = bits_stored - 1
  uint16_t pixel_representation;  ///< 0 unsigned, 1 two's complement
  const char *photometric;        ///< "MONOCHROME1" or "MONOCHROME2"
  const void *pixels;             ///< rows*columns values of bits_allocated bits, host order
  int has_rescale;
  double rescale_slope;
  double rescale_intercept;
  const char *sop_class_uid;        ///< NULL = CT Image Storage
  const char *transfer_syntax_uid;  ///< NULL = explicit VR little endian
  const uint32_t *attribute_tags;   ///< (tag, value) pairs set after the defaults
  const char *const *attribute_values;
  size_t attribute_count;
  const mtdcm_lut *modality_lut;    ///< NULL = no Modality LUT Sequence
  const mtdcm_lut *voi_lut;         ///< NULL = no VOI LUT Sequence
} mtdcm_image_spec;

/// Writes a single-frame monochrome image with the given transfer syntax (uncompressed LE,
/// RLE, JPEG lossless, JPEG-LS lossless, ...). UIDs not given as attributes are generated.
int mtdcm_write_image(const char *path, const mtdcm_image_spec *spec, char *message,
                      size_t message_len);

#ifdef __cplusplus
}
#endif
