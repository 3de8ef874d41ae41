"""Matching's SQL, by concern: `embeddings` (vectors, HNSW DDL), `retrieval` (hard constraints, nearest
neighbours, interest pairs), `ranking` (the ranker's rows and exact scan) and `state` (read-time state,
exposure). Callers import the submodule they need; nothing is re-exported here."""
