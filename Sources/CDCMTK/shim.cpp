// C++ side of the CDCMTK shim: see include/CDCMTK.h for why it exists.
// Every entry point wraps its body in try/catch(...) so no C++ exception can
// unwind into Swift.
#include "CDCMTK.h"

#include <cstdio>
#include <cstring>
#include <mutex>
#include <new>
#include <string>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcpixel.h"
#include "dcmtk/dcmdata/dcrledrg.h"
#include "dcmtk/dcmdata/dcrleerg.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmdata/dcxfer.h"
#include "dcmtk/dcmjpeg/djdecode.h"
#include "dcmtk/dcmjpeg/djencode.h"
#include "dcmtk/dcmjpls/djdecode.h"
#include "dcmtk/dcmjpls/djencode.h"
#include "dcmtk/oflog/oflog.h"

struct mtdcm_file {
  DcmFileFormat format;
  bool decompressed = false;
};

namespace {

void put(char *message, size_t len, const std::string &text) {
  if (message == nullptr || len == 0) return;
  std::snprintf(message, len, "%s", text.c_str());
}

std::once_flag codecsOnce;

}  // namespace

#define MTDCM_GUARD_BEGIN try {
#define MTDCM_GUARD_END(message, len)                  \
  }                                                    \
  catch (const std::bad_alloc &) {                     \
    put(message, len, "out of memory");                \
    return MTDCM_INTERNAL;                             \
  }                                                    \
  catch (const std::exception &e) {                    \
    put(message, len, e.what());                       \
    return MTDCM_INTERNAL;                             \
  }                                                    \
  catch (...) {                                        \
    put(message, len, "unknown C++ exception in DCMTK"); \
    return MTDCM_INTERNAL;                             \
  }

extern "C" {

const char *mtdcm_version(void) { return OFFIS_DCMTK_VERSION_STRING; }

void mtdcm_register_codecs(void) {
  try {
    std::call_once(codecsOnce, [] {
      DcmRLEDecoderRegistration::registerCodecs();
      DcmRLEEncoderRegistration::registerCodecs();
      DJDecoderRegistration::registerCodecs();
      DJEncoderRegistration::registerCodecs();
      DJLSDecoderRegistration::registerCodecs();
      DJLSEncoderRegistration::registerCodecs();
    });
  } catch (...) {
  }
}

void mtdcm_set_log_level(int level) {
  try {
    OFLogger root = OFLog::getLogger("dcmtk");
    switch (level) {
      case 0: root.setLogLevel(OFLogger::FATAL_LOG_LEVEL); break;
      case 1: root.setLogLevel(OFLogger::WARN_LOG_LEVEL); break;
      default: root.setLogLevel(OFLogger::DEBUG_LOG_LEVEL); break;
    }
  } catch (...) {
  }
}

int mtdcm_open(const char *path, mtdcm_file **out, char *message, size_t message_len) {
  MTDCM_GUARD_BEGIN
  if (path == nullptr || out == nullptr) return MTDCM_INVALID_ARGUMENT;
  *out = nullptr;
  mtdcm_register_codecs();
  auto *file = new mtdcm_file();
  OFCondition status = file->format.loadFile(path);
  if (status.bad()) {
    std::string text = status.text();
    delete file;
    put(message, message_len, text);
    if (status == EC_InvalidStream || status == EC_FileMetaInfoHeaderMissing ||
        status == EC_InvalidTag)
      return MTDCM_NOT_DICOM;
    if (status == EC_StreamNotifyClient || status == EC_ItemEnd ||
        text.find("end of file") != std::string::npos ||
        text.find("Premature") != std::string::npos)
      return MTDCM_TRUNCATED;
    return MTDCM_IO;
  }
  *out = file;
  return MTDCM_OK;
  MTDCM_GUARD_END(message, message_len)
}

void mtdcm_close(mtdcm_file *file) {
  try {
    delete file;
  } catch (...) {
  }
}

int mtdcm_get_string(mtdcm_file *file, uint16_t group, uint16_t element, unsigned long index,
                     char *buffer, size_t buffer_len) {
  MTDCM_GUARD_BEGIN
  if (file == nullptr) return MTDCM_INVALID_ARGUMENT;
  OFString value;
  DcmDataset *dataset = file->format.getDataset();
  if (dataset->findAndGetOFString(DcmTagKey(group, element), value, index).bad())
    return MTDCM_MISSING_ATTRIBUTE;
  put(buffer, buffer_len, value.c_str());
  return MTDCM_OK;
  MTDCM_GUARD_END(buffer, buffer_len)
}

int mtdcm_get_uint16(mtdcm_file *file, uint16_t group, uint16_t element, uint16_t *value) {
  try {
    if (file == nullptr || value == nullptr) return MTDCM_INVALID_ARGUMENT;
    Uint16 v = 0;
    if (file->format.getDataset()->findAndGetUint16(DcmTagKey(group, element), v).bad())
      return MTDCM_MISSING_ATTRIBUTE;
    *value = v;
    return MTDCM_OK;
  } catch (...) {
    return MTDCM_INTERNAL;
  }
}

int mtdcm_transfer_syntax(mtdcm_file *file, char *buffer, size_t buffer_len) {
  MTDCM_GUARD_BEGIN
  if (file == nullptr) return MTDCM_INVALID_ARGUMENT;
  DcmXfer xfer(file->format.getDataset()->getOriginalXfer());
  put(buffer, buffer_len, xfer.getXferID());
  return MTDCM_OK;
  MTDCM_GUARD_END(buffer, buffer_len)
}

int mtdcm_pixel_data(mtdcm_file *file, const uint8_t **bytes, size_t *length, char *message,
                     size_t message_len) {
  MTDCM_GUARD_BEGIN
  if (file == nullptr || bytes == nullptr || length == nullptr) return MTDCM_INVALID_ARGUMENT;
  DcmDataset *dataset = file->format.getDataset();
  if (!dataset->tagExists(DCM_PixelData)) {
    put(message, message_len, "the dataset has no Pixel Data (7FE0,0010)");
    return MTDCM_NO_PIXEL_DATA;
  }
  if (!file->decompressed) {
    DcmXfer original(dataset->getOriginalXfer());
    if (original.isEncapsulated()) {
      OFCondition status = dataset->chooseRepresentation(EXS_LittleEndianExplicit, nullptr);
      if (status.bad() || !dataset->canWriteXfer(EXS_LittleEndianExplicit)) {
        put(message, message_len,
            std::string("DCMTK cannot decode transfer syntax ") + original.getXferName() +
                (status.bad() ? std::string(": ") + status.text() : std::string()));
        return MTDCM_UNSUPPORTED_SYNTAX;
      }
    }
    file->decompressed = true;
  }
  DcmElement *element = nullptr;
  if (dataset->findAndGetElement(DCM_PixelData, element).bad() || element == nullptr) {
    put(message, message_len, "the dataset has no Pixel Data (7FE0,0010)");
    return MTDCM_NO_PIXEL_DATA;
  }
  Uint8 *data = nullptr;
  OFCondition status = element->getUint8Array(data);
  if (status.bad() || data == nullptr) {
    // 16-bit pixel data is stored as OW; take its bytes through the word view.
    Uint16 *words = nullptr;
    status = element->getUint16Array(words);
    if (status.bad() || words == nullptr) {
      put(message, message_len, std::string("cannot read Pixel Data: ") + status.text());
      return MTDCM_DECODE_FAILED;
    }
    data = reinterpret_cast<Uint8 *>(words);
  }
  *bytes = data;
  *length = element->getLength();
  return MTDCM_OK;
  MTDCM_GUARD_END(message, message_len)
}

int mtdcm_write_mono16(const char *path, uint16_t rows, uint16_t columns, const uint16_t *pixels,
                       int is_signed, double rescale_slope, double rescale_intercept,
                       const char *transfer_syntax_uid, const uint32_t *attribute_tags,
                       const char *const *attribute_values, size_t count, char *message,
                       size_t message_len) {
  MTDCM_GUARD_BEGIN
  if (path == nullptr || pixels == nullptr || rows == 0 || columns == 0)
    return MTDCM_INVALID_ARGUMENT;
  mtdcm_register_codecs();
  DcmFileFormat format;
  DcmDataset *ds = format.getDataset();
  char uid[100];
  ds->putAndInsertString(DCM_SOPClassUID, UID_CTImageStorage);
  ds->putAndInsertString(DCM_SOPInstanceUID, dcmGenerateUniqueIdentifier(uid, SITE_INSTANCE_UID_ROOT));
  ds->putAndInsertString(DCM_StudyInstanceUID, dcmGenerateUniqueIdentifier(uid, SITE_STUDY_UID_ROOT));
  ds->putAndInsertString(DCM_SeriesInstanceUID, dcmGenerateUniqueIdentifier(uid, SITE_SERIES_UID_ROOT));
  ds->putAndInsertString(DCM_Modality, "CT");
  ds->putAndInsertUint16(DCM_SamplesPerPixel, 1);
  ds->putAndInsertString(DCM_PhotometricInterpretation, "MONOCHROME2");
  ds->putAndInsertUint16(DCM_Rows, rows);
  ds->putAndInsertUint16(DCM_Columns, columns);
  ds->putAndInsertUint16(DCM_BitsAllocated, 16);
  ds->putAndInsertUint16(DCM_BitsStored, 16);
  ds->putAndInsertUint16(DCM_HighBit, 15);
  ds->putAndInsertUint16(DCM_PixelRepresentation, is_signed ? 1 : 0);
  char number[64];
  std::snprintf(number, sizeof number, "%.10g", rescale_slope);
  ds->putAndInsertString(DCM_RescaleSlope, number);
  std::snprintf(number, sizeof number, "%.10g", rescale_intercept);
  ds->putAndInsertString(DCM_RescaleIntercept, number);
  for (size_t i = 0; i < count; ++i) {
    DcmTagKey key(static_cast<Uint16>(attribute_tags[i] >> 16),
                  static_cast<Uint16>(attribute_tags[i] & 0xFFFF));
    OFCondition status = ds->putAndInsertString(key, attribute_values[i]);
    if (status.bad()) {
      put(message, message_len, std::string("cannot set attribute: ") + status.text());
      return MTDCM_INVALID_ARGUMENT;
    }
  }
  ds->putAndInsertUint16Array(DCM_PixelData, pixels, static_cast<unsigned long>(rows) * columns);

  E_TransferSyntax xfer = EXS_LittleEndianExplicit;
  if (transfer_syntax_uid != nullptr && transfer_syntax_uid[0] != '\0') {
    DcmXfer requested(transfer_syntax_uid);
    xfer = requested.getXfer();
    if (xfer == EXS_Unknown) {
      put(message, message_len, std::string("unknown transfer syntax UID ") + transfer_syntax_uid);
      return MTDCM_UNSUPPORTED_SYNTAX;
    }
  }
  if (DcmXfer(xfer).isEncapsulated()) {
    OFCondition status = ds->chooseRepresentation(xfer, nullptr);
    if (status.bad() || !ds->canWriteXfer(xfer)) {
      put(message, message_len, std::string("cannot encode with ") + DcmXfer(xfer).getXferName() +
                                    (status.bad() ? std::string(": ") + status.text() : ""));
      return MTDCM_UNSUPPORTED_SYNTAX;
    }
  }
  OFCondition status = format.saveFile(path, xfer);
  if (status.bad()) {
    put(message, message_len, std::string("cannot write file: ") + status.text());
    return MTDCM_IO;
  }
  return MTDCM_OK;
  MTDCM_GUARD_END(message, message_len)
}

}  // extern "C"
