import ScanIO

/// Manifests, splits, label budgets, caches, augmentation and the phantom generator.
public enum DatasetCatalog {}
