import Adaptation

/// Study specs, arm expansion, the resumable runner and the SQLite results store.
public enum StudyCatalog {}
