# Sourced by scripts/bootstrap. ImageNet sanity images for Backbones: scikit-image bundles
# chelsea.png (a tabby cat), coffee.png (a cup of espresso) and rocket.jpg (a Saturn V on its
# launch pad: a baseline JPEG photo, for `backbone classify` on JPEG), and torchvision's model
# metadata holds the 1000 ImageNet class names (scripts/reference/imagenet_labels.py turns it into
# Sources/Backbones/ImageNetLabels.swift). Pinned by SHA-256; the wheels pick this Python's ABI,
# but the members are platform-independent files.
fetch_from_pypi scikit-image==0.26.0 '*/skimage/data/chelsea.png' \
  "$cache/imagenet-samples/chelsea.png" \
  596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb
fetch_from_pypi scikit-image==0.26.0 '*/skimage/data/coffee.png' \
  "$cache/imagenet-samples/coffee.png" \
  cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7
fetch_from_pypi scikit-image==0.26.0 '*/skimage/data/rocket.jpg' \
  "$cache/imagenet-samples/rocket.jpg" \
  c2dd0de7c538df8d111e479619b129464d0269d0ae5fd18ca91d33a7fdfea95c
fetch_from_pypi torchvision==0.29.2 '*/torchvision/models/_meta.py' \
  "$cache/imagenet-samples/torchvision_meta.py" \
  7eaa5e401b1ff441186e602943c4342cac8cf7f505c238ab7882399b00dbc096
