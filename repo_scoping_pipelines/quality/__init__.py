"""Data quality: great-expectations suites over the stored tables of every stage.

`suites` declares what each table must satisfy (pure data, no GX import); `pipeline` validates
those suites in Postgres through GX's SQL datasource. The suites run as asset checks in the
`data_quality` job of their own (launched by a sensor when the checked assets change), since GX
takes seconds to import; the cheap checks that must stop bad data stay inline in each asset.
"""
