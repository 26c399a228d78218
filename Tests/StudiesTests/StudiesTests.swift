// Tests for the Studies module live in this target.
import Studies
