// Tests for the Backbones module live in this target.
import Backbones
