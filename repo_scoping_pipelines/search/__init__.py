"""Search stage: the index text (`text`), writing the index (`pipeline`: content_chunks and
chunk_embeddings work), and the read side (`query`, with the per-process hit `cache`)."""
