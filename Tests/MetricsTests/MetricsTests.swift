// Tests for the Metrics module live in this target.
import Metrics
