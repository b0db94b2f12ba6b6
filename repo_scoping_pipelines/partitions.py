"""The `repositories` dynamic partitions: one key per registered repository name."""

import dagster as dg

repositories = dg.DynamicPartitionsDefinition(name="repositories")
