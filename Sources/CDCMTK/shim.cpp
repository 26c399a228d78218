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
#include "dcmtk/dcmdata/dcmetinf.h"
#include "dcmtk/dcmdata/dcobject.h"
#include "dcmtk/dcmdata/dcpixel.h"
#include "dcmtk/dcmdata/dcpixseq.h"
#include "dcmtk/dcmdata/dcpxitem.h"
#include "dcmtk/dcmdata/dcrledrg.h"
#include "dcmtk/dcmdata/dcrleerg.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmdata/dcvrobow.h"
#include "dcmtk/dcmdata/dcvrss.h"
#include "dcmtk/dcmdata/dcvrus.h"
#include "dcmtk/dcmdata/dcxfer.h"
#include "dcmtk/dcmdata/dctag.h"
#include "dcmtk/dcmjpeg/djdecode.h"
#include "dcmtk/dcmjpeg/djencode.h"
#include "dcmtk/dcmjpls/djdecode.h"
#include "dcmtk/dcmjpls/djencode.h"
#include "dcmtk/oflog/oflog.h"

struct mtdcm_file {
  DcmFileFormat format;
  bool decompressed = false;
  DcmPixelSequence *fragments = nullptr;  // owned by `format`
};

namespace {

void put(char *message, size_t len, const std::string &text) {
  if (message == nullptr || len == 0) return;
  std::snprintf(message, len, "%s", text.c_str());
}

std::once_flag codecsOnce;

DcmTagKey key(uint32_t tag) {
  return DcmTagKey(static_cast<Uint16>(tag >> 16), static_cast<Uint16>(tag & 0xFFFF));
}

// The item addressed by (seq_tag, item): the dataset itself when seq_tag == 0.
DcmItem *itemFor(mtdcm_file *file, uint32_t seqTag, unsigned long item) {
  if (file == nullptr) return nullptr;
  DcmDataset *dataset = file->format.getDataset();
  if (seqTag == 0) return dataset;
  DcmItem *found = nullptr;
  if (dataset->findAndGetSequenceItem(key(seqTag), found, static_cast<signed long>(item)).bad())
    return nullptr;
  return found;
}

DcmElement *elementFor(mtdcm_file *file, uint32_t seqTag, unsigned long item, uint32_t tag) {
  DcmItem *container = itemFor(file, seqTag, item);
  if (container == nullptr) return nullptr;
  DcmElement *element = nullptr;
  if (container->findAndGetElement(key(tag), element).bad()) return nullptr;
  return element;
}

// Appends a one-item LUT sequence (Modality LUT or VOI LUT) to `dataset`.
OFCondition insertLUT(DcmItem *dataset, const DcmTagKey &sequence, const mtdcm_lut *lut,
                      const char *typeOrExplanation, const DcmTagKey &typeTag) {
  if (lut->entries == nullptr || lut->count == 0 || lut->count > 65536 ||
      lut->bits_per_entry < 8 || lut->bits_per_entry > 16 || lut->first_mapped < -32768 ||
      lut->first_mapped > 65535 || (lut->first_mapped < 0 && lut->count > 32767))
    return EC_IllegalParameter;
  DcmItem *item = nullptr;
  OFCondition status = dataset->findOrCreateSequenceItem(sequence, item, -2 /* append */);
  if (status.bad()) return status;
  const Uint16 count = lut->count == 65536 ? 0 : static_cast<Uint16>(lut->count);
  DcmElement *descriptor = nullptr;
  if (lut->first_mapped < 0) {
    descriptor = new DcmSignedShort(DcmTag(DCM_LUTDescriptor, EVR_SS));
    const Sint16 values[3] = {static_cast<Sint16>(count), static_cast<Sint16>(lut->first_mapped),
                              static_cast<Sint16>(lut->bits_per_entry)};
    status = descriptor->putSint16Array(values, 3);
  } else {
    descriptor = new DcmUnsignedShort(DcmTag(DCM_LUTDescriptor, EVR_US));
    const Uint16 values[3] = {count, static_cast<Uint16>(lut->first_mapped),
                              lut->bits_per_entry};
    status = descriptor->putUint16Array(values, 3);
  }
  if (status.good()) status = item->insert(descriptor, OFTrue);
  else delete descriptor;
  if (status.bad()) return status;
  auto *data = new DcmOtherByteOtherWord(DcmTag(DCM_LUTData, EVR_OW));
  status = data->putUint16Array(lut->entries, static_cast<unsigned long>(lut->count));
  if (status.good()) status = item->insert(data, OFTrue);
  else delete data;
  if (status.good()) status = item->putAndInsertString(typeTag, typeOrExplanation);
  return status;
}

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
      // Quiet by default: DCMTK otherwise prints warnings for every odd file to stderr.
      OFLog::getLogger("dcmtk").setLogLevel(OFLogger::FATAL_LOG_LEVEL);
      // Some writers (highdicom 0.1.0 in pydicom's SC_rgb_jpeg.dcm) declare an explicit-VR
      // syntax in the meta header but encode the dataset implicit VR. DCMTK then meets
      // "VRs" like 0x1A00 and gives up with "Invalid stream"; with this flag it reads such an
      // element as implicit VR and carries on, keeping the declared syntax for the pixel
      // data (pydicom does the same). Standard files never reach that branch.
      dcmAcceptUnexpectedImplicitEncoding.set(OFTrue);
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
    mtdcm_register_codecs();
    OFLogger root = OFLog::getLogger("dcmtk");
    switch (level) {
      case 0: root.setLogLevel(OFLogger::FATAL_LOG_LEVEL); break;
      case 1: root.setLogLevel(OFLogger::WARN_LOG_LEVEL); break;
      default: root.setLogLevel(OFLogger::DEBUG_LOG_LEVEL); break;
    }
  } catch (...) {
  }
}

namespace {
int openFile(const char *path, mtdcm_file **out, char *message, size_t message_len,
             Uint32 maxReadLength) {
  MTDCM_GUARD_BEGIN
  if (path == nullptr || out == nullptr) return MTDCM_INVALID_ARGUMENT;
  *out = nullptr;
  mtdcm_register_codecs();
  auto *file = new mtdcm_file();
  // Read every value now (no lazy loading) so that a truncated file fails here, not later.
  OFCondition status = file->format.loadFile(path, EXS_Unknown, EGL_noChange, maxReadLength,
                                             ERM_autoDetect);
  if (status.bad()) {
    std::string text = status.text();
    delete file;
    put(message, message_len, text);
    if (status == EC_InvalidStream || status == EC_FileMetaInfoHeaderMissing ||
        status == EC_InvalidTag || status == EC_UnknownVR || status == EC_CorruptedData ||
        status == EC_InvalidVR)
      return MTDCM_NOT_DICOM;
    if (status == EC_StreamNotifyClient || status == EC_ItemEnd ||
        status == EC_PrematureSequDelimitationItem || status == EC_SequEnd ||
        status == EC_SequDelimitationItemMissing || status == EC_ItemDelimitationItemMissing ||
        text.find("end of file") != std::string::npos ||
        text.find("Premature") != std::string::npos)
      return MTDCM_TRUNCATED;
    return MTDCM_IO;
  }
  *out = file;
  return MTDCM_OK;
  MTDCM_GUARD_END(message, message_len)
}
}  // namespace

int mtdcm_open(const char *path, mtdcm_file **out, char *message, size_t message_len) {
  return openFile(path, out, message, message_len, 0xFFFFFFFFu);
}

int mtdcm_open_header(const char *path, mtdcm_file **out, char *message, size_t message_len) {
  return openFile(path, out, message, message_len, 4096);
}

void mtdcm_close(mtdcm_file *file) {
  try {
    delete file;
  } catch (...) {
  }
}

int mtdcm_get_string(mtdcm_file *file, uint32_t seq_tag, unsigned long item, uint32_t tag,
                     unsigned long index, char *buffer, size_t buffer_len) {
  MTDCM_GUARD_BEGIN
  DcmElement *element = elementFor(file, seq_tag, item, tag);
  if (element == nullptr) return MTDCM_MISSING_ATTRIBUTE;
  OFString value;
  if (element->getOFString(value, index).bad()) return MTDCM_MISSING_ATTRIBUTE;
  put(buffer, buffer_len, value.c_str());
  return MTDCM_OK;
  MTDCM_GUARD_END(buffer, buffer_len)
}

int mtdcm_get_string_all(mtdcm_file *file, uint32_t seq_tag, unsigned long item, uint32_t tag,
                         char *buffer, size_t buffer_len) {
  MTDCM_GUARD_BEGIN
  DcmElement *element = elementFor(file, seq_tag, item, tag);
  if (element == nullptr) return MTDCM_MISSING_ATTRIBUTE;
  OFString value;
  if (element->getOFStringArray(value).bad()) return MTDCM_MISSING_ATTRIBUTE;
  put(buffer, buffer_len, value.c_str());
  return MTDCM_OK;
  MTDCM_GUARD_END(buffer, buffer_len)
}

int mtdcm_get_number(mtdcm_file *file, uint32_t seq_tag, unsigned long item, uint32_t tag,
                     unsigned long index, double *value) {
  try {
    if (value == nullptr) return MTDCM_INVALID_ARGUMENT;
    DcmElement *element = elementFor(file, seq_tag, item, tag);
    if (element == nullptr || element->getVM() <= index) return MTDCM_MISSING_ATTRIBUTE;
    switch (element->ident()) {
      case EVR_US: { Uint16 v; if (element->getUint16(v, index).good()) { *value = v; return 0; } break; }
      case EVR_SS: { Sint16 v; if (element->getSint16(v, index).good()) { *value = v; return 0; } break; }
      case EVR_UL: { Uint32 v; if (element->getUint32(v, index).good()) { *value = v; return 0; } break; }
      case EVR_SL: { Sint32 v; if (element->getSint32(v, index).good()) { *value = v; return 0; } break; }
      case EVR_FL: { Float32 v; if (element->getFloat32(v, index).good()) { *value = v; return 0; } break; }
      case EVR_FD: { Float64 v; if (element->getFloat64(v, index).good()) { *value = v; return 0; } break; }
      case EVR_DS: { Float64 v; if (element->getFloat64(v, index).good()) { *value = v; return 0; } break; }
      case EVR_IS: { Sint32 v; if (element->getSint32(v, index).good()) { *value = v; return 0; } break; }
      default: break;
    }
    OFString text;
    if (element->getOFString(text, index).good()) {
      char *end = nullptr;
      double parsed = std::strtod(text.c_str(), &end);
      if (end != text.c_str()) { *value = parsed; return MTDCM_OK; }
    }
    return MTDCM_MISSING_ATTRIBUTE;
  } catch (...) {
    return MTDCM_INTERNAL;
  }
}

unsigned long mtdcm_value_count(mtdcm_file *file, uint32_t seq_tag, unsigned long item,
                                uint32_t tag) {
  try {
    DcmElement *element = elementFor(file, seq_tag, item, tag);
    return element == nullptr ? 0 : element->getVM();
  } catch (...) {
    return 0;
  }
}

unsigned long mtdcm_item_count(mtdcm_file *file, uint32_t seq_tag) {
  try {
    if (file == nullptr) return 0;
    DcmSequenceOfItems *sequence = nullptr;
    if (file->format.getDataset()->findAndGetSequence(key(seq_tag), sequence).bad() ||
        sequence == nullptr)
      return 0;
    return sequence->card();
  } catch (...) {
    return 0;
  }
}

int mtdcm_has_tag(mtdcm_file *file, uint32_t tag) {
  try {
    if (file == nullptr) return 0;
    return file->format.getDataset()->tagExists(key(tag)) ? 1 : 0;
  } catch (...) {
    return 0;
  }
}

int mtdcm_get_words(mtdcm_file *file, uint32_t seq_tag, unsigned long item, uint32_t tag,
                    const uint16_t **words, size_t *count) {
  try {
    if (words == nullptr || count == nullptr) return MTDCM_INVALID_ARGUMENT;
    DcmElement *element = elementFor(file, seq_tag, item, tag);
    if (element == nullptr) return MTDCM_MISSING_ATTRIBUTE;
    Uint16 *u = nullptr;
    if (element->getUint16Array(u).good() && u != nullptr) {
      *words = u;
      *count = element->getLength() / 2;
      return MTDCM_OK;
    }
    Sint16 *s = nullptr;
    if (element->getSint16Array(s).good() && s != nullptr) {
      *words = reinterpret_cast<const uint16_t *>(s);
      *count = element->getLength() / 2;
      return MTDCM_OK;
    }
    Uint8 *b = nullptr;
    if (element->getUint8Array(b).good() && b != nullptr) {  // OB-encoded LUT data
      *words = reinterpret_cast<const uint16_t *>(b);
      *count = element->getLength() / 2;
      return MTDCM_OK;
    }
    return MTDCM_MISSING_ATTRIBUTE;
  } catch (...) {
    return MTDCM_INTERNAL;
  }
}

int mtdcm_tag_for_keyword(const char *keyword, uint32_t *tag) {
  try {
    if (keyword == nullptr || tag == nullptr) return MTDCM_INVALID_ARGUMENT;
    DcmTag found;
    if (DcmTag::findTagFromName(keyword, found).bad()) return MTDCM_MISSING_ATTRIBUTE;
    *tag = (static_cast<uint32_t>(found.getGTag()) << 16) | found.getETag();
    return MTDCM_OK;
  } catch (...) {
    return MTDCM_INTERNAL;
  }
}

int mtdcm_transfer_syntax(mtdcm_file *file, char *buffer, size_t buffer_len) {
  MTDCM_GUARD_BEGIN
  if (file == nullptr) return MTDCM_INVALID_ARGUMENT;
  // The meta header's UID is the truth (it survives unknown syntaxes DCMTK cannot name).
  OFString uid;
  if (file->format.getMetaInfo()->findAndGetOFString(DCM_TransferSyntaxUID, uid).good() &&
      !uid.empty()) {
    put(buffer, buffer_len, uid.c_str());
    return MTDCM_OK;
  }
  DcmXfer xfer(file->format.getDataset()->getOriginalXfer());
  put(buffer, buffer_len, xfer.getXferID());
  return MTDCM_OK;
  MTDCM_GUARD_END(buffer, buffer_len)
}

int mtdcm_transfer_syntax_info(mtdcm_file *file, int *encapsulated, int *known, char *name,
                               size_t name_len) {
  MTDCM_GUARD_BEGIN
  if (file == nullptr || encapsulated == nullptr || known == nullptr)
    return MTDCM_INVALID_ARGUMENT;
  DcmXfer xfer(file->format.getDataset()->getOriginalXfer());
  *encapsulated = xfer.isEncapsulated() ? 1 : 0;
  *known = xfer.getXfer() == EXS_Unknown ? 0 : 1;
  put(name, name_len, xfer.getXferName());
  return MTDCM_OK;
  MTDCM_GUARD_END(name, name_len)
}

int mtdcm_syntax_is_known(const char *uid) {
  try {
    if (uid == nullptr || uid[0] == '\0') return 0;
    return DcmXfer(uid).getXfer() == EXS_Unknown ? 0 : 1;
  } catch (...) {
    return 0;
  }
}

int mtdcm_is_big_endian(mtdcm_file *file) {
  try {
    if (file == nullptr) return 0;
    DcmXfer xfer(file->format.getDataset()->getOriginalXfer());
    return xfer.getByteOrder() == EBO_BigEndian ? 1 : 0;
  } catch (...) {
    return 0;
  }
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
        return status.bad() && status != EC_CannotChangeRepresentation ? MTDCM_DECODE_FAILED
                                                                        : MTDCM_UNSUPPORTED_SYNTAX;
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
  OFCondition status = EC_IllegalCall;
  if (element->getVR() == EVR_OB) status = element->getUint8Array(data);
  if (status.bad() || data == nullptr) {
    // OW pixel data: take its bytes through the word view (host byte order).
    Uint16 *words = nullptr;
    status = element->getUint16Array(words);
    if (status.bad() || words == nullptr) {
      status = element->getUint8Array(data);
      if (status.bad() || data == nullptr) {
        if (element->getLength() == 0) {
          put(message, message_len, "Pixel Data (7FE0,0010) is empty");
          return MTDCM_NO_PIXEL_DATA;
        }
        put(message, message_len, std::string("cannot read Pixel Data: ") + status.text());
        return MTDCM_DECODE_FAILED;
      }
    } else {
      data = reinterpret_cast<Uint8 *>(words);
    }
  }
  *bytes = data;
  *length = element->getLength();
  return MTDCM_OK;
  MTDCM_GUARD_END(message, message_len)
}

int mtdcm_fragment_count(mtdcm_file *file, size_t *count, char *message, size_t message_len) {
  MTDCM_GUARD_BEGIN
  if (file == nullptr || count == nullptr) return MTDCM_INVALID_ARGUMENT;
  DcmDataset *dataset = file->format.getDataset();
  DcmElement *element = nullptr;
  if (dataset->findAndGetElement(DCM_PixelData, element).bad() || element == nullptr) {
    put(message, message_len, "the dataset has no Pixel Data (7FE0,0010)");
    return MTDCM_NO_PIXEL_DATA;
  }
  auto *pixelData = dynamic_cast<DcmPixelData *>(element);
  if (pixelData == nullptr) {
    put(message, message_len, "Pixel Data is not a DCMTK pixel data element");
    return MTDCM_DECODE_FAILED;
  }
  E_TransferSyntax type = EXS_Unknown;
  const DcmRepresentationParameter *parameter = nullptr;
  pixelData->getOriginalRepresentationKey(type, parameter);
  DcmPixelSequence *sequence = nullptr;
  OFCondition status = pixelData->getEncapsulatedRepresentation(type, parameter, sequence);
  if (status.bad() || sequence == nullptr) {
    put(message, message_len, std::string("no encapsulated pixel data: ") + status.text());
    return MTDCM_DECODE_FAILED;
  }
  file->fragments = sequence;
  *count = sequence->card();
  return MTDCM_OK;
  MTDCM_GUARD_END(message, message_len)
}

int mtdcm_fragment(mtdcm_file *file, size_t index, const uint8_t **bytes, size_t *length) {
  try {
    if (file == nullptr || file->fragments == nullptr || bytes == nullptr || length == nullptr)
      return MTDCM_INVALID_ARGUMENT;
    DcmPixelItem *item = nullptr;
    if (file->fragments->getItem(item, static_cast<unsigned long>(index)).bad() || item == nullptr)
      return MTDCM_MISSING_ATTRIBUTE;
    *length = item->getLength();
    Uint8 *data = nullptr;
    if (*length == 0) {
      *bytes = nullptr;
      return MTDCM_OK;
    }
    if (item->getUint8Array(data).bad() || data == nullptr) return MTDCM_DECODE_FAILED;
    *bytes = data;
    return MTDCM_OK;
  } catch (...) {
    return MTDCM_INTERNAL;
  }
}

int mtdcm_write_image(const char *path, const mtdcm_image_spec *spec, char *message,
                      size_t message_len) {
  MTDCM_GUARD_BEGIN
  if (path == nullptr || spec == nullptr || spec->pixels == nullptr || spec->rows == 0 ||
      spec->columns == 0 || (spec->bits_allocated != 8 && spec->bits_allocated != 16) ||
      spec->bits_stored == 0 || spec->bits_stored > spec->bits_allocated) {
    put(message, message_len, "invalid image spec (size, bits allocated or bits stored)");
    return MTDCM_INVALID_ARGUMENT;
  }
  mtdcm_register_codecs();
  DcmFileFormat format;
  DcmDataset *ds = format.getDataset();
  char uid[100];
  ds->putAndInsertString(DCM_SOPClassUID,
                         spec->sop_class_uid ? spec->sop_class_uid : UID_CTImageStorage);
  ds->putAndInsertString(DCM_SOPInstanceUID,
                         dcmGenerateUniqueIdentifier(uid, SITE_INSTANCE_UID_ROOT));
  ds->putAndInsertString(DCM_StudyInstanceUID,
                         dcmGenerateUniqueIdentifier(uid, SITE_STUDY_UID_ROOT));
  ds->putAndInsertString(DCM_SeriesInstanceUID,
                         dcmGenerateUniqueIdentifier(uid, SITE_SERIES_UID_ROOT));
  ds->putAndInsertString(DCM_Modality, "CT");
  ds->putAndInsertUint16(DCM_SamplesPerPixel, 1);
  ds->putAndInsertString(DCM_PhotometricInterpretation,
                         spec->photometric ? spec->photometric : "MONOCHROME2");
  ds->putAndInsertUint16(DCM_Rows, spec->rows);
  ds->putAndInsertUint16(DCM_Columns, spec->columns);
  ds->putAndInsertUint16(DCM_BitsAllocated, spec->bits_allocated);
  ds->putAndInsertUint16(DCM_BitsStored, spec->bits_stored);
  ds->putAndInsertUint16(DCM_HighBit, spec->bits_stored - 1);
  ds->putAndInsertUint16(DCM_PixelRepresentation, spec->pixel_representation ? 1 : 0);
  if (spec->has_rescale) {
    char number[64];
    std::snprintf(number, sizeof number, "%.10g", spec->rescale_slope);
    ds->putAndInsertString(DCM_RescaleSlope, number);
    std::snprintf(number, sizeof number, "%.10g", spec->rescale_intercept);
    ds->putAndInsertString(DCM_RescaleIntercept, number);
    ds->putAndInsertString(DCM_RescaleType, "HU");
  }
  for (size_t i = 0; i < spec->attribute_count; ++i) {
    OFCondition status =
        ds->putAndInsertString(key(spec->attribute_tags[i]), spec->attribute_values[i]);
    if (status.bad()) {
      char tagText[32];
      std::snprintf(tagText, sizeof tagText, "(%04X,%04X)", spec->attribute_tags[i] >> 16,
                    spec->attribute_tags[i] & 0xFFFF);
      put(message, message_len,
          std::string("cannot set attribute ") + tagText + ": " + status.text());
      return MTDCM_INVALID_ARGUMENT;
    }
  }
  if (spec->modality_lut != nullptr) {
    OFCondition status = insertLUT(ds, DCM_ModalityLUTSequence, spec->modality_lut, "US",
                                   DCM_ModalityLUTType);
    if (status.bad()) {
      put(message, message_len, std::string("cannot write the Modality LUT Sequence: ") +
                                    status.text());
      return MTDCM_INVALID_ARGUMENT;
    }
  }
  if (spec->voi_lut != nullptr) {
    OFCondition status = insertLUT(ds, DCM_VOILUTSequence, spec->voi_lut, "VOI LUT",
                                   DCM_LUTExplanation);
    if (status.bad()) {
      put(message, message_len, std::string("cannot write the VOI LUT Sequence: ") +
                                    status.text());
      return MTDCM_INVALID_ARGUMENT;
    }
  }
  unsigned long count = static_cast<unsigned long>(spec->rows) * spec->columns;
  if (spec->bits_allocated == 16)
    ds->putAndInsertUint16Array(DCM_PixelData, static_cast<const Uint16 *>(spec->pixels), count);
  else
    ds->putAndInsertUint8Array(DCM_PixelData, static_cast<const Uint8 *>(spec->pixels), count);

  E_TransferSyntax xfer = EXS_LittleEndianExplicit;
  if (spec->transfer_syntax_uid != nullptr && spec->transfer_syntax_uid[0] != '\0') {
    DcmXfer requested(spec->transfer_syntax_uid);
    xfer = requested.getXfer();
    if (xfer == EXS_Unknown) {
      put(message, message_len,
          std::string("unknown transfer syntax UID ") + spec->transfer_syntax_uid);
      return MTDCM_UNSUPPORTED_SYNTAX;
    }
  }
  if (DcmXfer(xfer).isEncapsulated()) {
    // JPEG-LS codes unsigned samples; signed data is coded as its two's-complement bit
    // patterns in Bits Stored bits (the writer passes them that way, high bits zero). DCMTK
    // 3.6.7's encoder instead hands CharLS the sign-extended values for Pixel Representation 1,
    // and its bundled CharLS aborts (assertion in DoRegular) when Bits Stored < 16. So the
    // encoder sees the data as unsigned and the true Pixel Representation is restored after:
    // the codestream is the same one a correct encoder writes for the signed image.
    const bool jpegLS = xfer == EXS_JPEGLSLossless || xfer == EXS_JPEGLSLossy;
    if (jpegLS && spec->pixel_representation) ds->putAndInsertUint16(DCM_PixelRepresentation, 0);
    OFCondition status = ds->chooseRepresentation(xfer, nullptr);
    if (jpegLS && spec->pixel_representation) ds->putAndInsertUint16(DCM_PixelRepresentation, 1);
    if (status.bad() || !ds->canWriteXfer(xfer)) {
      put(message, message_len, std::string("cannot encode with ") + DcmXfer(xfer).getXferName() +
                                    (status.bad() ? std::string(": ") + status.text() : ""));
      return MTDCM_UNSUPPORTED_SYNTAX;
    }
    // DCMTK 3.6.7's JPEG-LS encoder pads an odd-length codestream to even length with a byte it
    // never writes, so the same image gave files differing in that one byte (after the EOI
    // marker, so decoders ignore it). Zero it: written files must be byte-identical.
    DcmElement *element = nullptr;
    DcmPixelSequence *sequence = nullptr;
    if (ds->findAndGetElement(DCM_PixelData, element).good() && element != nullptr &&
        static_cast<DcmPixelData *>(element)
            ->getEncapsulatedRepresentation(xfer, nullptr, sequence)
            .good() &&
        sequence != nullptr) {
      for (unsigned long i = 1; i < sequence->card(); i++) {  // item 0: basic offset table
        DcmPixelItem *fragment = nullptr;
        Uint8 *bytes = nullptr;
        if (sequence->getItem(fragment, i).bad() || fragment == nullptr) continue;
        const Uint32 length = fragment->getLength();
        if (length >= 3 && fragment->getUint8Array(bytes).good() && bytes != nullptr &&
            bytes[length - 3] == 0xFF && bytes[length - 2] == 0xD9)
          bytes[length - 1] = 0;
      }
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
