// Tests for the Reports module live in this target.
import Reports
