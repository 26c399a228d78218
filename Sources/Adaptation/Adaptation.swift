import Backbones
import Datasets
import Metrics

/// Transfer strategies, regularizers, domain adaptation and the trainer.
public enum AdaptationCatalog {}
