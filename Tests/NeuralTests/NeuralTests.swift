// Tests for the Neural module live in this target.
import Neural
