// Tests for the Datasets module live in this target.
import Datasets
