"""Operations: the processes and engines the project runs on, and how it is watched and kept.

Embedded engines (`embedded`), the local multi-process deployment (`deployment`), Dagster's
instance storage (`dagster_instance`), in-process refreshes (`refresh`), health, backup and
maintenance, the JSON operations log (`log`) and Prometheus metrics (`telemetry`).
"""
