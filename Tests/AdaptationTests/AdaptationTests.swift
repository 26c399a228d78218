// Tests for the Adaptation module live in this target.
import Adaptation
