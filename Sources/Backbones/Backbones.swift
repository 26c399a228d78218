import Neural

/// Pretrained backbones (EfficientNet-Lite) and PyTorch checkpoint import.
public enum BackboneCatalog {}
