import Studies

/// The self-contained HTML/JSON/CSV report written from a study's results store.
public enum ReportCatalog {}
